package observability

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/internal/pki"
)

func TestRenewalIsDueWithinThirtyDays(t *testing.T) {
	now := time.Now()
	certs, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	if due := certs.RenewalDue(now.Add(300 * 24 * time.Hour)); due != "" {
		t.Errorf("renewal due 65 days before expiry: %s", due)
	}
	due := certs.RenewalDue(now.Add(340 * 24 * time.Hour))
	if !strings.Contains(due, "renew it with `platform certs --stack <stack> --renew`") {
		t.Errorf("renewal not due 25 days before expiry: %q", due)
	}
	if err := certs.Check(Scope{Namespace: "observability"}, now.Add(340*24*time.Hour)); err != nil {
		t.Errorf("a certificate due for renewal is refused, which would block a deploy: %v", err)
	}
}

func TestCertificates(t *testing.T) {
	now := time.Now()
	certs, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.Check(Scope{Namespace: "observability"}, now); err != nil {
		t.Fatalf("fresh certificates rejected: %v", err)
	}
	tests := []struct {
		name  string
		certs Certificates
		ns    string
		at    time.Time
		want  string
	}{
		{"other namespace", certs, "logging", now, "does not serve elasticsearch.logging.svc.cluster.local"},
		{"other CA", Certificates{CA: other.CA, Elasticsearch: certs.Elasticsearch, Kafka: certs.Kafka}, "observability", now, "with this CA"},
		{"other key", Certificates{CA: certs.CA, Elasticsearch: pki.KeyPair{Certificate: certs.Elasticsearch.Certificate, Key: other.Elasticsearch.Key}, Kafka: certs.Kafka}, "observability", now, "not the certificate's key"},
		{"Elasticsearch's certificate for Kafka", Certificates{CA: certs.CA, Elasticsearch: certs.Elasticsearch, Kafka: certs.Elasticsearch}, "observability", now, "kafka certificate does not serve kafka.observability.svc.cluster.local"},
		{"Kafka's key from another CA", Certificates{CA: certs.CA, Elasticsearch: certs.Elasticsearch, Kafka: pki.KeyPair{Certificate: certs.Kafka.Certificate, Key: other.Kafka.Key}}, "observability", now, "kafka key: not the certificate's key"},
		{"expired", certs, "observability", now.Add(366 * 24 * time.Hour), "certificate has expired"},
		{"garbage", Certificates{CA: "x", Elasticsearch: certs.Elasticsearch, Kafka: certs.Kafka}, "observability", now, "CA: not a PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.certs.Check(Scope{Namespace: tt.ns}, tt.at)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "BEGIN") {
				t.Error("error quotes the material")
			}
		})
	}
}

// A validity out of range is refused, naming the range: none expired at
// birth, none that overflows x509's time into the past.
func TestCertificateValidityRange(t *testing.T) {
	for _, days := range []int{-5, 0, 3651, 200000} {
		if _, err := NewCertificates(Scope{Namespace: "observability"}, days, time.Now()); err == nil || !strings.Contains(err.Error(), "must be from 1 to 3650 days") {
			t.Errorf("%d days: %v, want the range named", days, err)
		}
	}
	if _, err := NewCertificates(Scope{Namespace: "observability"}, 3650, time.Now()); err != nil {
		t.Errorf("ten years: %v", err)
	}
}

// trustedBy says whether members running the certificates of from are
// trusted by members (and clients) whose trust bundle is to's: both servers'
// certificates, for a pod's name, as clients and as peers.
func trustedBy(from, to Certificates, now time.Time) error {
	bundle, err := pki.ParseBundle(to.CA)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	for _, ca := range bundle {
		roots.AddCert(ca)
	}
	for _, server := range tlsServers {
		cert, err := pki.ParseCertificate(server.pair(&from).Certificate)
		if err != nil {
			return err
		}
		name := server.service + "-1." + server.service + "-headless.observability.svc.cluster.local"
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				return fmt.Errorf("%s: %w", server.service, err)
			}
		}
	}
	// Kafka's clients, to the brokers' trust store.
	for _, client := range kafkaClients {
		cert, err := pki.ParseCertificate(client.pair(&from).Certificate)
		if err != nil {
			return err
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return fmt.Errorf("Kafka client %s: %w", client.name, err)
		}
	}
	return nil
}

// noSplit fails unless members on either of two consecutive configs trust
// each other: a rolling update from one to the next never splits a cluster.
func noSplit(t *testing.T, step string, before, after Certificates, now time.Time) {
	t.Helper()
	for _, pair := range [][2]Certificates{{before, after}, {after, before}, {before, before}, {after, after}} {
		if err := trustedBy(pair[0], pair[1], now); err != nil {
			t.Errorf("%s: members would split: %v", step, err)
		}
	}
	if err := after.Check(Scope{Namespace: "observability"}, now); err != nil {
		t.Errorf("%s: %v", step, err)
	}
}

// A renewal re-issues the certificates from the kept CA: the members
// trust each other throughout the roll. A new CA would not (the check can
// fail: the old way, a new CA per renewal, splits).
func TestRenewKeepsTheCA(t *testing.T) {
	now := time.Now()
	certs, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := certs.Renew(Scope{Namespace: "observability"}, 365, now.Add(340*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if renewed.CA != certs.CA || renewed.CAKey != certs.CAKey || renewed.Elasticsearch == certs.Elasticsearch || renewed.Kafka == certs.Kafka {
		t.Fatal("a renewal changed the CA or kept the certificates")
	}
	noSplit(t, "renewal", certs, renewed, now.Add(341*24*time.Hour))
	if renewed.RenewalDue(now.Add(341*24*time.Hour)) != "" {
		t.Error("renewed certificates are due at once")
	}
	fresh, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	if trustedBy(fresh, certs, now) == nil {
		t.Error("certificates of another CA are trusted: the split check cannot fail")
	}
	// A CA too close to its end for certificates of that many days.
	if _, err := certs.Renew(Scope{Namespace: "observability"}, 365, now.Add(400*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "--rotate-ca") {
		t.Errorf("a renewal past the CA's end: %v", err)
	}
	// A stack made before the CA's key was kept can only rotate.
	old := certs
	old.CAKey = ""
	if _, err := old.Renew(Scope{Namespace: "observability"}, 365, now); err == nil || !strings.Contains(err.Error(), "--rotate-ca") {
		t.Errorf("a renewal without the CA's key: %v", err)
	}
}

// A CA rotation goes through three steps, each a rolling update in which
// every member trusts every other; it ends with one new CA, and the next
// rotation starts again. It works for a stack whose CA key was not kept.
func TestCARotationNeverSplitsACluster(t *testing.T) {
	now := time.Now()
	start, err := NewCertificates(Scope{Namespace: "observability"}, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, keptKey := range []bool{true, false} {
		c := start
		if !keptKey {
			c.CAKey = ""
		}
		configs := []Certificates{c}
		for i, want := range []string{"step 1 of 3", "step 2 of 3", "step 3 of 3"} {
			next, said, err := configs[i].RotateCA(Scope{Namespace: "observability"}, 365, now)
			if err != nil || !strings.HasPrefix(said, want) {
				t.Fatalf("rotation (CA key kept %v) %s: said %q, %v", keptKey, want, said, err)
			}
			noSplit(t, want, configs[i], next, now)
			configs = append(configs, next)
		}
		end := configs[3]
		bundle, err := pki.ParseBundle(end.CA)
		if err != nil || len(bundle) != 1 || end.CA == start.CA || end.CAKey == "" {
			t.Fatalf("after the rotation: %d CAs, the same CA %v, key kept %v (%v)", len(bundle), end.CA == start.CA, end.CAKey != "", err)
		}
		if trustedBy(start, end, now) == nil {
			t.Error("the old CA's certificates are still trusted after the rotation")
		}
		if _, said, err := end.RotateCA(Scope{Namespace: "observability"}, 365, now); err != nil || !strings.HasPrefix(said, "step 1 of 3") {
			t.Errorf("the next rotation: %q, %v", said, err)
		}
	}
}
