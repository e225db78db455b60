package observability

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/acme/platform/internal/pki"
)

// Certificates are Elasticsearch's TLS material in PEM. They are made once
// (`platform certs --stack S` stores them as secret stack config) and then
// read from config on every run: a certificate generated during `up` would
// change on every run and roll the cluster each time.
type Certificates struct {
	CA, Certificate, Key string
}

// RenewWithin is how long before its expiry a certificate is due for
// renewal: runs warn and the drift check reports it, but deploys go on.
const RenewWithin = 30 * 24 * time.Hour

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
	ca, err := pki.NewCA("platform observability CA ("+namespace+")", 2*validFor, now)
	if err != nil {
		return Certificates{}, err
	}
	pair, err := ca.Sign(pki.Leaf{
		CommonName: "elasticsearch." + namespace + ".svc",
		DNSNames:   ServerNames(namespace),
		// Nodes are servers to clients and clients to each other (transport).
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, validFor, now)
	if err != nil {
		return Certificates{}, err
	}
	return Certificates{CA: ca.Certificate, Certificate: pair.Certificate, Key: pair.Key}, nil
}

// Check says whether the certificates serve Elasticsearch in namespace now:
// the certificate chains to the CA for the Service's and the pods' names and
// has not expired, and the key is the certificate's. Errors never quote the
// material.
func (c Certificates) Check(namespace string, now time.Time) error {
	ca, err := pki.ParseCertificate(c.CA)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	cert, err := pki.ParseCertificate(c.Certificate)
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
	return pki.MatchesKey(cert, c.Key)
}

// RenewalDue says, when the certificate expires within RenewWithin of now,
// when it expires and what to do; "" otherwise.
func (c Certificates) RenewalDue(now time.Time) string {
	cert, err := pki.ParseCertificate(c.Certificate)
	if err != nil || cert.NotAfter.Sub(now) >= RenewWithin {
		return ""
	}
	return fmt.Sprintf("Elasticsearch's certificate expires %s, in less than %d days: renew it with `platform certs --stack <stack> --renew`",
		cert.NotAfter.Format(time.DateOnly), RenewWithin/(24*time.Hour))
}
