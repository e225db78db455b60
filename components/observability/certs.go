package observability

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/acme/platform/internal/pki"
)

// Certificates are the TLS material of the stack's servers in PEM: one CA,
// which every client trusts, and a certificate and key for Elasticsearch and
// one for Kafka. They are made once (`platform certs --stack S` stores them
// as secret stack config) and then read from config on every run: a
// certificate generated during `up` would change on every run and roll the
// clusters each time.
type Certificates struct {
	CA                   string
	Elasticsearch, Kafka pki.KeyPair
}

// RenewWithin is how long before its expiry a certificate is due for
// renewal: runs warn and the drift check reports it, but deploys go on.
const RenewWithin = 30 * 24 * time.Hour

// ServerNames are the DNS names a clustered part answers to in namespace:
// its Service and every pod behind its headless Service (service-headless).
func ServerNames(service, namespace string) []string {
	var names []string
	for _, suffix := range []string{"", "." + namespace, "." + namespace + ".svc", "." + namespace + ".svc.cluster.local"} {
		names = append(names, service+suffix, "*."+service+"-headless"+suffix)
	}
	return append(names, "localhost")
}

// tlsServers are the parts that serve TLS, each with its certificate.
var tlsServers = []struct {
	service string
	pair    func(*Certificates) *pki.KeyPair
}{
	{"elasticsearch", func(c *Certificates) *pki.KeyPair { return &c.Elasticsearch }},
	{"kafka", func(c *Certificates) *pki.KeyPair { return &c.Kafka }},
}

// MaxCertificateDays is the longest a certificate is made valid for, in
// days (its CA twice as long): ten years, a renewal within anyone's tenure.
const MaxCertificateDays = 3650

// NewCertificates makes a CA and a server certificate for Elasticsearch and
// for Kafka in namespace, valid for days (from 1 to MaxCertificateDays; the
// CA for twice as long).
func NewCertificates(namespace string, days int, now time.Time) (Certificates, error) {
	if days < 1 || days > MaxCertificateDays {
		return Certificates{}, fmt.Errorf("certificates valid for %d days: must be from 1 to %d days", days, MaxCertificateDays)
	}
	validFor := time.Duration(days) * 24 * time.Hour
	ca, err := pki.NewCA("platform observability CA ("+namespace+")", 2*validFor, now)
	if err != nil {
		return Certificates{}, err
	}
	certs := Certificates{CA: ca.Certificate}
	for _, server := range tlsServers {
		pair, err := ca.Sign(pki.Leaf{
			CommonName: server.service + "." + namespace + ".svc",
			DNSNames:   ServerNames(server.service, namespace),
			// Members are servers to clients and clients to each other
			// (Elasticsearch's transport, Kafka's controller quorum).
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}, validFor, now)
		if err != nil {
			return Certificates{}, err
		}
		*server.pair(&certs) = pair
	}
	return certs, nil
}

// Check says whether the certificates serve Elasticsearch and Kafka in
// namespace now: each certificate chains to the CA for its Service's and
// pods' names and has not expired, and each key is its certificate's.
// Errors never quote the material.
func (c Certificates) Check(namespace string, now time.Time) error {
	ca, err := pki.ParseCertificate(c.CA)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, server := range tlsServers {
		pair := server.pair(&c)
		cert, err := pki.ParseCertificate(pair.Certificate)
		if err != nil {
			return fmt.Errorf("%s certificate: %w", server.service, err)
		}
		for _, name := range []string{
			server.service + "." + namespace + ".svc.cluster.local",
			server.service + "-0." + server.service + "-headless." + namespace + ".svc.cluster.local",
		} {
			_, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				return fmt.Errorf("%s certificate does not serve %s with this CA: %w", server.service, name, err)
			}
		}
		if err := pki.MatchesKey(cert, pair.Key); err != nil {
			return fmt.Errorf("%s %w", server.service, err)
		}
	}
	return nil
}

// RenewalDue says, when a certificate expires within RenewWithin of now,
// which, when it expires and what to do; "" otherwise.
func (c Certificates) RenewalDue(now time.Time) string {
	for _, server := range tlsServers {
		cert, err := pki.ParseCertificate(server.pair(&c).Certificate)
		if err != nil || cert.NotAfter.Sub(now) >= RenewWithin {
			continue
		}
		return fmt.Sprintf("the %s certificate expires %s, in less than %d days: renew it with `platform certs --stack <stack> --renew`",
			server.service, cert.NotAfter.Format(time.DateOnly), RenewWithin/(24*time.Hour))
	}
	return ""
}
