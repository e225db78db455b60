package stacks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks/stackstest"
)

func TestEveryStackDeclaresObservability(t *testing.T) {
	for _, tt := range []struct {
		stack                string
		elasticNodes, kafkas float64
		protected            bool
	}{
		{"local", 1, 1, false},
		{"dev", 1, 1, false},
		{"prod", 3, 3, true},
	} {
		t.Run(tt.stack, func(t *testing.T) {
			g, err := pulumitest.Run(t, "platform", tt.stack, Program(stackValues(t, tt.stack)), pulumitest.InProject(".."))
			if err != nil {
				t.Fatal(err)
			}
			g.One(t, observability.TypeToken, "observability")
			es := g.One(t, "kubernetes:apps/v1:StatefulSet", "observability-elasticsearch")
			if got := es.MustInput(t, "spec.replicas"); got != tt.elasticNodes || es.Protect != tt.protected {
				t.Errorf("elasticsearch: %v nodes, protected %v; want %v, %v", got, es.Protect, tt.elasticNodes, tt.protected)
			}
			if got := g.One(t, "kubernetes:apps/v1:StatefulSet", "observability-kafka").MustInput(t, "spec.replicas"); got != tt.kafkas {
				t.Errorf("kafka: %v nodes, want %v", got, tt.kafkas)
			}
			// The service sends its traces to Jaeger, and may.
			d := g.One(t, "kubernetes:apps/v1:Deployment", "greeter")
			var endpoint any
			for _, e := range d.MustInput(t, "spec.template.spec.containers.0.env").([]any) {
				if e.(map[string]any)["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT" {
					endpoint = e.(map[string]any)["value"]
				}
			}
			if endpoint != "http://jaeger-collector.observability.svc.cluster.local:4318" {
				t.Errorf("greeter sends traces to %v", endpoint)
			}
			egress := g.One(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "greeter").MustInput(t, "spec.egress").([]any)
			if !strings.Contains(fmt.Sprint(egress), "observability") {
				t.Errorf("greeter may not reach the collector: %v", egress)
			}
			jaeger := g.One(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "observability-jaeger").MustInput(t, "spec.ingress")
			if !strings.Contains(fmt.Sprint(jaeger), "greeter") {
				t.Errorf("Jaeger does not accept the greeter's traces: %v", jaeger)
			}
		})
	}
}

func TestObservabilityConfigProblems(t *testing.T) {
	tests := []struct {
		name   string
		stack  string
		mutate func(map[string]Value)
		want   string
	}{
		{"prod without the password", "prod", func(v map[string]Value) { delete(v, "platform:elasticPassword") },
			"platform:elasticPassword: \"\": is required while Elasticsearch security is on (prod always): set it with `pulumi config set --secret platform:elasticPassword <value>`"},
		{"prod without certificates", "prod", func(v map[string]Value) { delete(v, "platform:elasticsearchKey") },
			"platform:elasticsearchKey: \"\": is required while Elasticsearch security or Kafka TLS is on (prod always): make it with `platform certs --stack <stack>`"},
		{"prod without Kafka's certificate", "prod", func(v map[string]Value) { delete(v, "platform:kafkaCertificate") },
			"platform:kafkaCertificate: \"\": is required while Elasticsearch security or Kafka TLS is on (prod always): make it with `platform certs --stack <stack>`"},
		{"certificate of another namespace", "prod", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"namespace":"logging"}`}
		}, "platform:observabilityCa: [secret]: the certificates: elasticsearch certificate does not serve elasticsearch.logging.svc.cluster.local"},
		{"prod turns security off", "prod", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"elasticsearch":{"security":false}}`}
		}, "platform:observability.elasticsearch.security: false: must be on in a highly available environment"},
		{"prod turns Kafka TLS off", "prod", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"kafka":{"tls":false}}`}
		}, "platform:observability.kafka.tls: false: must be on in a highly available environment (prod)"},
		{"local with Kafka TLS and no certificates", "local", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"kafka":{"tls":true}}`}
		}, "platform:observabilityCa: \"\": is required while Elasticsearch security or Kafka TLS is on"},
		{"an old CA key", "prod", func(v map[string]Value) {
			v["platform:elasticsearchCa"] = v["platform:observabilityCa"]
		}, "platform:elasticsearchCa: [secret]: unknown key"},
		{"replication above brokers", "dev", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"kafka":{"replicationFactor":2}}`}
		}, "platform:observability.kafka.replicationFactor: 2: must be from 1 to kafka.brokers (1)"},
		{"typo in a field", "dev", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"elasticsearch":{"retentionDay":7}}`}
		}, "platform:observability.elasticsearch.retentionDay: 7: unknown field; allowed: image, mmap, nodes, placement, retentionDays, security, size, storage"},
		{"a published Kibana without security", "local", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"kibana":{"ui":{"ingress":{"host":"kibana.example.com"}}}}`}
		}, "platform:observability.kibana.ui.ingress.host: \"kibana.example.com\": needs elasticsearch.security on"},
		{"an ingress's TLS Secret that is no name", "dev", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"elasticsearch":{"security":true},"jaeger":{"ui":{"ingress":{"host":"","tlsSecret":"Bad_Name"}}}}`}
		}, "platform:observability.jaeger.ui.ingress.tlsSecret: \"Bad_Name\": must be a Secret's name"},
		{"Jaeger's UI without its credentials", "local", func(v map[string]Value) { delete(v, "platform:jaegerUiCookieSecret") },
			"platform:jaegerUiCookieSecret: \"\": is required: Jaeger's UI asks for a password: make it with `platform certs --stack <stack>`"},
		{"a cookie key of the wrong length", "local", func(v map[string]Value) {
			v["platform:jaegerUiCookieSecret"] = Value{Raw: "too-short", Secret: true}
		}, "platform:jaegerUiCookieSecret: [secret]: must be 16, 24 or 32 bytes long"},
		{"a UI password hash that is no bcrypt", "local", func(v map[string]Value) {
			v["platform:jaegerUiPasswordHash"] = Value{Raw: "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", Secret: true}
		}, "platform:jaegerUiPasswordHash: [secret]: must be a bcrypt hash"},
		{"prod even nodes", "prod", func(v map[string]Value) {
			v["platform:observability"] = Value{Raw: `{"elasticsearch":{"nodes":4}}`}
		}, "platform:observability.elasticsearch.nodes: 4: must be odd"},
		{"local with a stray password", "local", func(v map[string]Value) {
			v["platform:elasticPassword"] = Value{Raw: "x", Secret: true}
		}, "platform:elasticPassword: [secret]: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := stackValues(t, tt.stack)
			tt.mutate(values)
			_, err := Load(values, testEnviron)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want a problem containing %q, got %v", tt.want, err)
			}
			for _, s := range stackstest.Secrets["prod"] {
				if strings.Contains(err.Error(), s) {
					t.Error("the problem quotes a secret")
				}
			}
		})
	}
}

// A certificate due for renewal never blocks a deploy: the stack loads, and
// its findings (which the drift check reports) say what to do.
func TestExpiringCertificateIsAFindingNotAProblem(t *testing.T) {
	certs, err := observability.NewCertificates(observability.Scope{Namespace: "observability"}, 365, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := certs.Renew(observability.Scope{Namespace: "observability"}, 10, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	values := stackValues(t, "prod")
	for k, v := range CertificateConfig(expiring) {
		values[k] = Value{Raw: v, Secret: true}
	}
	cfg, err := Load(values, testEnviron)
	if err != nil {
		t.Fatalf("an expiring certificate blocks the deploy: %v", err)
	}
	findings := cfg.Findings(time.Now())
	if len(findings) != 1 || !strings.Contains(findings[0], "renew it with `platform certs --stack <stack> --renew`") {
		t.Errorf("findings %q, want the renewal", findings)
	}
	// A CA near its end cannot sign renewals: the finding says to rotate it.
	shortCA, err := observability.NewCertificates(observability.Scope{Namespace: "observability"}, 10, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range CertificateConfig(shortCA) {
		values[k] = Value{Raw: v, Secret: true}
	}
	if cfg, err = Load(values, testEnviron); err != nil {
		t.Fatal(err)
	}
	if findings := cfg.Findings(time.Now()); len(findings) != 1 || !strings.Contains(findings[0], "--rotate-ca") {
		t.Errorf("findings %q, want the CA's rotation", findings)
	}
	fresh, err := Load(stackValues(t, "prod"), testEnviron)
	if err != nil {
		t.Fatal(err)
	}
	if f := fresh.Findings(time.Now()); len(f) != 0 {
		t.Errorf("fresh certificates give findings %q", f)
	}
}

// A stack's run checks its observability config against what its last run
// deployed (its own output observability.deployed), and refuses what a
// running part cannot take under the full key, before the component
// registers anything.
func TestChangesCheckedAgainstTheLastRun(t *testing.T) {
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"observability": map[string]any{"deployed": map[string]any{
			"kafka":         map[string]any{"members": 1, "size": "8Gi"},
			"elasticsearch": map[string]any{"members": 1, "size": "10Gi"},
		}},
	}))
	g, err := pulumitest.Run(t, "platform", "dev", Program(stackValues(t, "dev")), pulumitest.InProject(".."))
	want := `platform:observability.kafka.storage.size: "5Gi": must be at least 8Gi, the size of its claims`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("dev with claims bigger than its config: want %q, got %v", want, err)
	}
	if n := len(g.OfType(observability.TypeToken)); n != 0 {
		t.Errorf("the component registered (%d) despite the refusal", n)
	}
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"observability": map[string]any{"deployed": map[string]any{"kafka": map[string]any{"members": 1, "size": "5Gi"}}},
	}))
	if _, err := pulumitest.Run(t, "platform", "dev", Program(stackValues(t, "dev")), pulumitest.InProject("..")); err != nil {
		t.Errorf("dev as it runs: %v", err)
	}
}
