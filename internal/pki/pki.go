// Package pki makes every certificate the project makes: ECDSA P-256 keys,
// a CA, and certificates it signs, all as PEM (certificates "CERTIFICATE",
// keys PKCS #8 "PRIVATE KEY"). The local cluster's and Elasticsearch's
// certificates are made here, one way.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

// KeyPair is a certificate and its private key, in PEM.
type KeyPair struct {
	Certificate, Key string
}

// CA is a certificate authority that signs certificates.
type CA struct {
	KeyPair
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a self-signed CA named commonName, valid from an hour before
// now (clock skew) for validFor.
func NewCA(commonName string, validFor time.Duration, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pair, err := encode(der, key)
	if err != nil {
		return nil, err
	}
	return &CA{KeyPair: pair, cert: cert, key: key}, nil
}

// LoadCA reads a CA that NewCA made, to sign more certificates with it.
func LoadCA(pair KeyPair) (*CA, error) {
	cert, err := ParseCertificate(pair.Certificate)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(pair.Key))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("key: want a PEM PRIVATE KEY (PKCS #8)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, errors.New("not a CA's certificate and key")
	}
	if err := MatchesKey(cert, pair.Key); err != nil {
		return nil, err
	}
	return &CA{KeyPair: pair, cert: cert, key: signer}, nil
}

// Cert is the CA's certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// Leaf is what a signed certificate is for.
type Leaf struct {
	CommonName string
	// Organization: for a Kubernetes client, its groups.
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Usages: server, client or both (a cluster's nodes talk to each other).
	Usages []x509.ExtKeyUsage
}

// Sign makes a key and a certificate for leaf, valid from an hour before now
// for validFor.
func (ca *CA) Sign(leaf Leaf, validFor time.Duration, now time.Time) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: leaf.CommonName, Organization: leaf.Organization},
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPs,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  leaf.Usages,
	}, ca.cert, key.Public(), ca.key)
	if err != nil {
		return KeyPair{}, err
	}
	return encode(der, key)
}

// ParseCertificate reads one PEM certificate.
func ParseCertificate(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseBundle reads a bundle of PEM certificates (one or more, as a trust
// store holds them), in order.
func ParseBundle(text string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, errors.New("not a bundle of PEM certificates")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("not a PEM certificate")
	}
	return certs, nil
}

// EncodeCertificate writes a certificate as PEM.
func EncodeCertificate(cert *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// MatchesKey says whether key (PEM, PKCS #8) is the private key of cert.
func MatchesKey(cert *x509.Certificate, key string) error {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		return errors.New("key: not PEM")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("key: not a PKCS #8 private key")
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return errors.New("key: not a signing key")
	}
	eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cert.PublicKey) {
		return errors.New("key: not the certificate's key")
	}
	return nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (KeyPair, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
