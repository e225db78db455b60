package observability

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/pki"
)

// Certificates are the TLS material of the stack's servers in PEM: the CA
// bundle every client and member trusts, the key of the CA that signs, and
// a certificate and key for Elasticsearch and one for Kafka. They are made
// once (`platform certs --stack S` stores them as secret stack config) and
// then read from config on every run: a certificate generated during `up`
// would change on every run and roll the clusters each time.
//
// The bundle holds one CA, or during a CA rotation (RotateCA) the old and
// the new one, so that members on either side of a rolling update trust
// each other. The CA's key is kept so that a renewal (Renew) re-issues the
// certificates from the same CA: a new CA at every renewal would split each
// cluster while its members roll, the first one on the new CA trusted by
// no peer. The program never hands the CA's key to a resource.
type Certificates struct {
	CA string
	// CAKey is the signing CA's private key; "" for a stack made before the
	// key was kept (its CA can then only be rotated, not reused).
	CAKey                string
	Elasticsearch, Kafka pki.KeyPair
	// KafkaClients are the certificates Kafka's clients show the brokers,
	// one each: Kafka takes the subject as the client's principal
	// (User:CN=<name>), which its ACLs name.
	KafkaClients KafkaClientPairs
}

// KafkaClientPairs are the key pairs of Kafka's clients.
type KafkaClientPairs struct {
	Filebeat, Logstash, Setup pki.KeyPair
}

// RenewWithin is how long before its expiry a certificate is due for
// renewal: runs warn and the drift check reports it, but deploys go on.
const RenewWithin = 30 * 24 * time.Hour

// Scope is where the TLS servers run: their namespace, in a cluster whose
// DNS names end with DNS's domain.
type Scope struct {
	Namespace string
	DNS       kube.DNS
}

// Scope is where the stack's TLS servers run.
func (a Args) Scope() Scope { return Scope{Namespace: a.Namespace, DNS: a.DNS} }

// ServerNames are the DNS names a clustered part answers to in its scope:
// its Service and every pod behind its headless Service (service-headless).
func ServerNames(service string, scope Scope) []string {
	namespace := scope.Namespace
	var names []string
	for _, suffix := range []string{"", "." + namespace, "." + namespace + ".svc", "." + namespace + ".svc." + scope.DNS.WithDefaults().Domain} {
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

// kafkaClients are Kafka's clients, by the name their certificate's subject
// (and so their principal) carries.
var kafkaClients = []struct {
	name string
	pair func(*Certificates) *pki.KeyPair
}{
	{filebeatPrincipal, func(c *Certificates) *pki.KeyPair { return &c.KafkaClients.Filebeat }},
	{logstashPrincipal, func(c *Certificates) *pki.KeyPair { return &c.KafkaClients.Logstash }},
	{kafkaSetupPrincipal, func(c *Certificates) *pki.KeyPair { return &c.KafkaClients.Setup }},
}

// The names of Kafka's clients' certificates, and so their principals.
const (
	filebeatPrincipal   = "filebeat"
	logstashPrincipal   = "logstash"
	kafkaSetupPrincipal = "kafka-setup"
)

// MaxCertificateDays is the longest a certificate is made valid for, in
// days (its CA twice as long): ten years, a renewal within anyone's tenure.
const MaxCertificateDays = 3650

// NewCertificates makes a CA and a server certificate for Elasticsearch and
// for Kafka in scope, valid for days (from 1 to MaxCertificateDays; the
// CA for twice as long).
func NewCertificates(scope Scope, days int, now time.Time) (Certificates, error) {
	ca, err := newCA(scope.Namespace, days, now)
	if err != nil {
		return Certificates{}, err
	}
	return Certificates{CA: ca.Certificate, CAKey: ca.Key}.issue(ca, scope, days, now)
}

func newCA(namespace string, days int, now time.Time) (*pki.CA, error) {
	if err := checkDays(days); err != nil {
		return nil, err
	}
	return pki.NewCA("platform observability CA ("+namespace+")", 2*time.Duration(days)*24*time.Hour, now)
}

// checkDays refuses a validity outside 1 to MaxCertificateDays days.
func checkDays(days int) error {
	if days < 1 || days > MaxCertificateDays {
		return fmt.Errorf("certificates valid for %d days: must be from 1 to %d days", days, MaxCertificateDays)
	}
	return nil
}

// serverName is the name on a TLS server's certificate: its Service's.
// Kafka's brokers show theirs to each other, so it is their principal too.
func serverName(service, namespace string) string { return service + "." + namespace + ".svc" }

// issue gives each TLS server and each Kafka client a certificate from ca,
// valid for days.
func (c Certificates) issue(ca *pki.CA, scope Scope, days int, now time.Time) (Certificates, error) {
	if err := checkDays(days); err != nil {
		return Certificates{}, err
	}
	validFor := time.Duration(days) * 24 * time.Hour
	if caCert, err := pki.ParseCertificate(ca.Certificate); err != nil || caCert.NotAfter.Before(now.Add(validFor)) {
		return Certificates{}, fmt.Errorf("the CA expires before certificates valid %d days would: rotate it (`platform certs --rotate-ca`)", days)
	}
	for _, server := range tlsServers {
		pair, err := ca.Sign(pki.Leaf{
			CommonName: serverName(server.service, scope.Namespace),
			DNSNames:   ServerNames(server.service, scope),
			// Members are servers to clients and clients to each other
			// (Elasticsearch's transport, Kafka's controller quorum).
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}, validFor, now)
		if err != nil {
			return Certificates{}, err
		}
		*server.pair(&c) = pair
	}
	for _, client := range kafkaClients {
		pair, err := ca.Sign(pki.Leaf{CommonName: client.name, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, validFor, now)
		if err != nil {
			return Certificates{}, err
		}
		*client.pair(&c) = pair
	}
	return c, nil
}

// Renew re-issues the servers' certificates from the kept CA, valid for
// days: the bundle does not change, so members on the old and the new
// certificates trust each other throughout the roll.
func (c Certificates) Renew(scope Scope, days int, now time.Time) (Certificates, error) {
	ca, err := c.signer()
	if err != nil {
		return Certificates{}, err
	}
	return c.issue(ca, scope, days, now)
}

// signer is the bundle's CA whose key is kept.
func (c Certificates) signer() (*pki.CA, error) {
	if c.CAKey == "" {
		return nil, errors.New("the CA's key was not kept (the certificates were made before it was): rotate the CA instead (`platform certs --rotate-ca`, three steps, each followed by `platform up`)")
	}
	bundle, err := pki.ParseBundle(c.CA)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	for _, cert := range bundle {
		if pki.MatchesKey(cert, c.CAKey) == nil {
			return pki.LoadCA(pki.KeyPair{Certificate: pki.EncodeCertificate(cert), Key: c.CAKey})
		}
	}
	return nil, errors.New("the CA key is the key of no CA in the bundle")
}

// RotateCA takes the next step of a CA rotation, each to be deployed
// (`platform up`) before the next, so that every member trusts every other
// throughout each roll:
//
//  1. a new CA joins the bundle (the certificates stay the old CA's), and
//     its key is kept;
//  2. the certificates are re-issued from the new CA, valid for days;
//  3. the old CA leaves the bundle.
//
// It says which step it took and what to do next.
func (c Certificates) RotateCA(scope Scope, days int, now time.Time) (Certificates, string, error) {
	bundle, err := pki.ParseBundle(c.CA)
	if err != nil {
		return Certificates{}, "", fmt.Errorf("CA: %w", err)
	}
	const next = "deploy it (`platform up`), then run `platform certs --rotate-ca` again"
	switch {
	case len(bundle) == 1:
		ca, err := newCA(scope.Namespace, days, now)
		if err != nil {
			return Certificates{}, "", err
		}
		c.CA = strings.TrimRight(c.CA, "\n") + "\n" + ca.Certificate
		c.CAKey = ca.Key
		return c, "step 1 of 3: a new CA joins the trust bundle; " + next, nil
	case len(bundle) == 2:
		signer, err := c.signer()
		if err != nil {
			return Certificates{}, "", err
		}
		leaf, err := pki.ParseCertificate(c.Elasticsearch.Certificate)
		if err != nil {
			return Certificates{}, "", fmt.Errorf("elasticsearch certificate: %w", err)
		}
		if leaf.CheckSignatureFrom(signer.Cert()) != nil {
			c, err = c.issue(signer, scope, days, now)
			return c, "step 2 of 3: the certificates are the new CA's; " + next, err
		}
		c.CA = signer.Certificate
		return c, "step 3 of 3: the old CA leaves the trust bundle; deploy it (`platform up`): the rotation is done", nil
	default:
		return Certificates{}, "", fmt.Errorf("the CA bundle holds %d certificates: want one, or two during a rotation", len(bundle))
	}
}

// Check says whether the certificates serve Elasticsearch and Kafka in
// scope now: each certificate chains to the CA for its Service's and
// pods' names and has not expired, and each key is its certificate's.
// Errors never quote the material.
func (c Certificates) Check(scope Scope, now time.Time) error {
	bundle, err := pki.ParseBundle(c.CA)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	roots := x509.NewCertPool()
	for _, ca := range bundle {
		roots.AddCert(ca)
	}
	if c.CAKey != "" {
		if _, err := c.signer(); err != nil {
			return err
		}
	}
	for _, server := range tlsServers {
		pair := server.pair(&c)
		cert, err := pki.ParseCertificate(pair.Certificate)
		if err != nil {
			return fmt.Errorf("%s certificate: %w", server.service, err)
		}
		for _, name := range []string{
			scope.DNS.ServiceHost(server.service, scope.Namespace),
			scope.DNS.ServiceHost(server.service+"-0."+server.service+"-headless", scope.Namespace),
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
	for _, client := range kafkaClients {
		pair := client.pair(&c)
		what := "Kafka client " + client.name + " certificate"
		cert, err := pki.ParseCertificate(pair.Certificate)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return fmt.Errorf("%s does not authenticate with this CA: %w", what, err)
		}
		if cert.Subject.String() != "CN="+client.name {
			return fmt.Errorf("%s names %s, not CN=%s (the principal Kafka's ACLs name)", what, cert.Subject, client.name)
		}
		if err := pki.MatchesKey(cert, pair.Key); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// RenewalDue says, when a certificate expires within RenewWithin of now,
// which, when it expires and what to do; "" otherwise.
func (c Certificates) RenewalDue(now time.Time) string {
	bundle, _ := pki.ParseBundle(c.CA)
	for _, ca := range bundle {
		if ca.NotAfter.Sub(now) < RenewWithin {
			return fmt.Sprintf("the observability CA expires %s, in less than %d days: rotate it with `platform certs --stack <stack> --rotate-ca` (three steps, each followed by `platform up`)",
				ca.NotAfter.Format(time.DateOnly), RenewWithin/(24*time.Hour))
		}
	}
	leaves := map[string]*pki.KeyPair{}
	for _, server := range tlsServers {
		leaves[server.service] = server.pair(&c)
	}
	for _, client := range kafkaClients {
		leaves["Kafka client "+client.name] = client.pair(&c)
	}
	for _, name := range slices.Sorted(maps.Keys(leaves)) {
		cert, err := pki.ParseCertificate(leaves[name].Certificate)
		if err != nil || cert.NotAfter.Sub(now) >= RenewWithin {
			continue
		}
		return fmt.Sprintf("the %s certificate expires %s, in less than %d days: renew it with `platform certs --stack <stack> --renew`",
			name, cert.NotAfter.Format(time.DateOnly), RenewWithin/(24*time.Hour))
	}
	return ""
}
