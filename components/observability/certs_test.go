package observability

import (
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/internal/pki"
)

func TestRenewalIsDueWithinThirtyDays(t *testing.T) {
	now := time.Now()
	certs, err := NewCertificates("observability", 365, now)
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
	if err := certs.Check("observability", now.Add(340*24*time.Hour)); err != nil {
		t.Errorf("a certificate due for renewal is refused, which would block a deploy: %v", err)
	}
}

func TestCertificates(t *testing.T) {
	now := time.Now()
	certs, err := NewCertificates("observability", 365, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCertificates("observability", 365, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.Check("observability", now); err != nil {
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
			err := tt.certs.Check(tt.ns, tt.at)
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
		if _, err := NewCertificates("observability", days, time.Now()); err == nil || !strings.Contains(err.Error(), "must be from 1 to 3650 days") {
			t.Errorf("%d days: %v, want the range named", days, err)
		}
	}
	if _, err := NewCertificates("observability", 3650, time.Now()); err != nil {
		t.Errorf("ten years: %v", err)
	}
}
