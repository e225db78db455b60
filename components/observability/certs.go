package observability

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Certificates are Elasticsearch's TLS material in PEM. They are made once
// (`platform certs --stack S` stores them as secret stack config) and then
// read from config on every run: a certificate generated during `up` would
// change on every run and roll the cluster each time.
type Certificates struct {
	CA, Certificate, Key string
}

// MinValidity is how long a certificate must stay valid for a run to accept it.
const MinValidity = 30 * 24 * time.Hour

// ServerNames are the DNS names Elasticsearch answers to in namespace: its
// Service and every pod behind its headless Service.
func ServerNames(namespace string) []string {
	var names []string
	for _, suffix := range []string{"", "." + namespace, "." + namespace + ".svc", "." + namespace + ".svc.cluster.local"} {
		names = append(names, "elasticsearch"+suffix, "*.elasticsearch-headless"+suffix)
	}
	return append(names, "localhost")
}

// NewCertificates makes a CA and a server certificate for Elasticsearch in
// namespace, valid for the given time (the CA for twice as long).
func NewCertificates(namespace string, validFor time.Duration, now time.Time) (Certificates, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Certificates{}, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "platform observability CA (" + namespace + ")"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return Certificates{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Certificates{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "elasticsearch." + namespace + ".svc"},
		DNSNames:     ServerNames(namespace),
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Nodes are servers to clients and clients to each other (transport).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, ca, key.Public(), caKey)
	if err != nil {
		return Certificates{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Certificates{}, err
	}
	return Certificates{
		CA:          string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// Check says whether the certificates serve Elasticsearch in namespace: the
// certificate chains to the CA for the Service's and the pods' names, the key
// is the certificate's, and it stays valid for MinValidity after now. Errors
// never quote the material.
func (c Certificates) Check(namespace string, now time.Time) error {
	ca, err := parseCertificate(c.CA)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	cert, err := parseCertificate(c.Certificate)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"elasticsearch." + namespace + ".svc.cluster.local", "elasticsearch-0.elasticsearch-headless." + namespace + ".svc.cluster.local"} {
		_, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return fmt.Errorf("certificate does not serve %s with this CA: %w", name, err)
		}
	}
	block, _ := pem.Decode([]byte(c.Key))
	if block == nil {
		return errors.New("key: not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("key: not a PKCS #8 private key")
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return errors.New("key: not the certificate's key")
	}
	if left := cert.NotAfter.Sub(now); left < MinValidity {
		return fmt.Errorf("certificate expires %s, in less than %d days: renew it with `platform certs`", cert.NotAfter.Format(time.DateOnly), MinValidity/(24*time.Hour))
	}
	return nil
}

func parseCertificate(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
