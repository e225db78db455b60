package observability

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/pki"
	"github.com/acme/platform/internal/pulumitest"
)

const (
	statefulSetType = "kubernetes:apps/v1:StatefulSet"
	deploymentType  = "kubernetes:apps/v1:Deployment"
	daemonSetType   = "kubernetes:apps/v1:DaemonSet"
	jobType         = "kubernetes:batch/v1:Job"
	cronJobType     = "kubernetes:batch/v1:CronJob"
	configMapType   = "kubernetes:core/v1:ConfigMap"
	secretType      = "kubernetes:core/v1:Secret"
	namespaceType   = "kubernetes:core/v1:Namespace"
	pdbType         = "kubernetes:policy/v1:PodDisruptionBudget"
	policyType      = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
)

// testPassword is the elastic password of the prod arguments; it must never
// appear outside a secret.
const testPassword = "elastic-password-canary-7f3a"

var testCerts = func() Certificates {
	c, err := NewCertificates(Scope{Namespace: "observability"}, 365, time.Now())
	if err != nil {
		panic(err)
	}
	return c
}()

func devArgs() Args {
	a := Profile("dev")
	a.TelemetryFrom = []string{"greeter"}
	a.UIAuth = testUIAuth()
	return a
}

// testUIPasswordHash is a bcrypt hash of "ui-password-canary" (cost 4).
const testUIPasswordHash = "$2a$04$yaw32/178Fl1XhiyYaHX6.TrmM5BlSXDwEF0fZNga43oCrokQwzJG"

// testCookieSecret is a cookie key of the proxy's length.
const testCookieSecret = "cookie-secret-canary-0123456789a"

// testUIAuth stands in for the UI credentials `platform certs` makes.
func testUIAuth() *UIAuth {
	return &UIAuth{
		PasswordHash: pulumi.ToSecret(pulumi.String(testUIPasswordHash)).(pulumi.StringOutput),
		CookieSecret: pulumi.ToSecret(pulumi.String(testCookieSecret)).(pulumi.StringOutput),
	}
}

func prodArgs() Args {
	a := Profile("prod")
	a.TelemetryFrom = []string{"greeter"}
	a.ElasticPassword = pulumi.ToSecret(pulumi.String(testPassword)).(pulumi.StringOutput)
	secret := func(s string) pulumi.StringOutput { return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput) }
	a.TLS = tlsOf(testCerts, func(s string) pulumi.StringInput { return secret(s) })
	a.Credentials = testCredentials()
	a.UIAuth = testUIAuth()
	a.Kibana.UI = UI{AllowFrom: []string{"ops"}}
	return a
}

// testCredential is each credential's stand-in value: its name, made long.
func testCredential(name string) string { return name + "-0123456789abcdef0123456789abcdef" }

// testCredentials stand in for the credentials `platform certs` makes.
func testCredentials() *Credentials {
	secret := func(name string) pulumi.StringOutput {
		return pulumi.ToSecret(pulumi.String(testCredential(name))).(pulumi.StringOutput)
	}
	return &Credentials{KibanaSystem: secret(kibanaUser), LogstashWriter: secret(logstashUser), JaegerWriter: secret(jaegerUser),
		SavedObjectsKey: secret("saved-objects"), SecurityKey: secret("security"), ReportingKey: secret("reporting")}
}

// plainTLS is the certificates as plain strings, not secrets.
func plainTLS(c Certificates) *TLS {
	return tlsOf(c, func(s string) pulumi.StringInput { return pulumi.String(s) })
}

// tlsOf is the component's TLS argument of certificates, each value made an
// input by value.
func tlsOf(c Certificates, value func(string) pulumi.StringInput) *TLS {
	pair := func(p pki.KeyPair) KeyPair { return KeyPair{Certificate: value(p.Certificate), Key: value(p.Key)} }
	return &TLS{
		CA: value(c.CA), Elasticsearch: pair(c.Elasticsearch), Kafka: pair(c.Kafka),
		KafkaFilebeat: pair(c.KafkaClients.Filebeat), KafkaLogstash: pair(c.KafkaClients.Logstash), KafkaSetup: pair(c.KafkaClients.Setup),
	}
}

// testProvider is the explicit provider every test passes.
func testProvider(ctx *pulumi.Context) (pulumi.ProviderResource, error) {
	return kube.NewProvider(ctx, "k8s", kube.Cluster{})
}

func deploy(t *testing.T, args Args) (*pulumitest.Graph, error) {
	t.Helper()
	return pulumitest.Component(t, "test", testProvider, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		_, err := NewObservability(ctx, "observability", args, provider)
		return err
	})
}

func mustDeploy(t *testing.T, args Args) *pulumitest.Graph {
	t.Helper()
	g, err := deploy(t, args)
	return pulumitest.Must(t, g, err)
}

// deployWith declares the component and hands it to inspect.
func deployWith(t *testing.T, args Args, inspect func(*Observability)) (*pulumitest.Graph, error) {
	t.Helper()
	return pulumitest.Component(t, "test", testProvider, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		o, err := NewObservability(ctx, "observability", args, provider)
		if err == nil {
			inspect(o)
		}
		return err
	})
}

// resolved waits for the value an apply sends: the apply runs on a
// goroutine of its own, which the run does not wait for.
func resolved[T any](t *testing.T, values <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-values:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never resolved", what)
	}
	var zero T
	return zero
}

// file returns one file of a ConfigMap.
func file(t *testing.T, g *pulumitest.Graph, configMap, name string) string {
	t.Helper()
	data := g.One(t, configMapType, "observability-"+configMap).MustInput(t, "data").(map[string]any)
	text, ok := data[name].(string)
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", configMap, name)
	}
	return text
}

func TestEveryChildIsParentedAndUsesTheProvider(t *testing.T) {
	for _, args := range []Args{devArgs(), prodArgs()} {
		mustDeploy(t, args).CheckChildren(t, TypeToken, "observability", "k8s")
	}
}

func TestShapePerEnvironment(t *testing.T) {
	tests := []struct {
		name                                              string
		args                                              Args
		kafka, elastic, logstash, kibana, jaeger, budgets int
		protected                                         bool
		retain                                            string
		daemonSets                                        int
	}{
		{name: "dev", args: devArgs(), kafka: 1, elastic: 1, logstash: 1, kibana: 1, jaeger: 1, budgets: 0, retain: "Delete", daemonSets: 1},
		{name: "prod", args: prodArgs(), kafka: 3, elastic: 3, logstash: 2, kibana: 2, jaeger: 2, budgets: 5, protected: true, retain: "Retain", daemonSets: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustDeploy(t, tt.args)
			replicas := func(typ, name string) int {
				return int(g.One(t, typ, "observability-"+name).MustInput(t, "spec.replicas").(float64))
			}
			for name, want := range map[string]int{"kafka": tt.kafka, "elasticsearch": tt.elastic, "logstash": tt.logstash} {
				if got := replicas(statefulSetType, name); got != want {
					t.Errorf("%s replicas %d, want %d", name, got, want)
				}
				sts := g.One(t, statefulSetType, "observability-"+name)
				if sts.Protect != tt.protected {
					t.Errorf("%s protected = %v, want %v", name, sts.Protect, tt.protected)
				}
				if got := sts.MustInput(t, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"); got != tt.retain {
					t.Errorf("%s claims on delete: %v, want %s", name, got, tt.retain)
				}
				if got := sts.MustInput(t, "spec.podManagementPolicy"); got != "Parallel" {
					t.Errorf("%s pods start %v: a quorum needs its peers started together", name, got)
				}
			}
			for name, want := range map[string]int{"kibana": tt.kibana, "jaeger": tt.jaeger} {
				if got := replicas(deploymentType, name); got != want {
					t.Errorf("%s replicas %d, want %d", name, got, want)
				}
			}
			if got := len(g.OfType(pdbType)); got != tt.budgets {
				t.Errorf("%d disruption budgets, want %d", got, tt.budgets)
			}
			if got := len(g.OfType(daemonSetType)); got != tt.daemonSets {
				t.Errorf("%d DaemonSets, want %d:\n%s", got, tt.daemonSets, g)
			}
			for _, ns := range g.OfType(namespaceType) {
				if ns.Protect != tt.protected {
					t.Errorf("namespace %s protected = %v, want %v", ns.Name, ns.Protect, tt.protected)
				}
			}
			// Spread over zones and hosts only where there is more than one.
			spread := g.One(t, statefulSetType, "observability-elasticsearch")
			_, spreads := spread.Input("spec.template.spec.topologySpreadConstraints.0.topologyKey")
			if spreads != tt.args.HighAvailability {
				t.Errorf("elasticsearch spread over zones = %v, want %v", spreads, tt.args.HighAvailability)
			}
		})
	}
}

func TestKafkaReplicationIsConsistent(t *testing.T) {
	for _, tt := range []struct {
		args               Args
		voters, rf, minISR int
		acks               string
	}{
		{devArgs(), 1, 1, 1, "required_acks: 1"},
		{prodArgs(), 3, 3, 2, "required_acks: -1"},
	} {
		g := mustDeploy(t, tt.args)
		props := file(t, g, "kafka", "server.properties")
		for _, want := range []string{
			"process.roles=broker,controller",
			fmt.Sprintf("default.replication.factor=%d", tt.rf),
			fmt.Sprintf("min.insync.replicas=%d", tt.minISR),
			fmt.Sprintf("offsets.topic.replication.factor=%d", tt.rf),
			"auto.create.topics.enable=false",
		} {
			if !strings.Contains(props, want) {
				t.Errorf("%s: server.properties lacks %q:\n%s", tt.args.Environment, want, props)
			}
		}
		if got := strings.Count(props, "kafka-headless.observability.svc.cluster.local:9093"); got != tt.voters {
			t.Errorf("%s: %d controller voters, want %d", tt.args.Environment, got, tt.voters)
		}
		if strings.Contains(props, "zookeeper") {
			t.Error("KRaft mode needs no ZooKeeper")
		}
		job := g.One(t, jobType, "observability-kafka-topic")
		script := job.MustInput(t, "spec.template.spec.containers.0.command.2").(string)
		wantTopic := fmt.Sprintf("--replication-factor %d", tt.rf)
		if !strings.Contains(script, wantTopic) || !strings.Contains(script, fmt.Sprintf("min.insync.replicas=%d", tt.minISR)) {
			t.Errorf("%s: topic script does not create the topic with RF %d and min ISR %d:\n%s", tt.args.Environment, tt.rf, tt.minISR, script)
		}
		filebeat := file(t, g, "filebeat", "filebeat.yml")
		for _, want := range []string{`version: "2.1.0"`, "topic: logs", tt.acks, "type: filestream", "- container: ~", "add_kubernetes_metadata"} {
			if !strings.Contains(filebeat, want) {
				t.Errorf("%s: filebeat.yml lacks %q:\n%s", tt.args.Environment, want, filebeat)
			}
		}
		if got := strings.Count(filebeat, ".kafka-headless.observability.svc.cluster.local:9092"); got != tt.voters {
			t.Errorf("%s: Filebeat knows %d brokers, want %d", tt.args.Environment, got, tt.voters)
		}
	}
}

// The logs topic is bounded on disk and in time: whatever a broker holds of
// every partition (retention.bytes plus the active segment each) fits in
// 70% of its claim, and segments roll often enough for retention.ms to
// delete on time.
func TestKafkaTopicIsBounded(t *testing.T) {
	for _, args := range []Args{devArgs(), prodArgs()} {
		script := mustDeploy(t, args).One(t, jobType, "observability-kafka-topic").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
		configs := map[string]int64{}
		for _, kv := range strings.Split(strings.Fields(script[strings.Index(script, "--add-config ")+len("--add-config "):])[0], ",") {
			k, v, _ := strings.Cut(kv, "=")
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("%s: %s", kv, err)
			}
			configs[k] = n
		}
		size := parseOrZero(args.Kafka.Storage.Size)
		claim := size.Value()
		held := (configs["retention.bytes"] + configs["segment.bytes"]) * int64(args.Kafka.Partitions)
		if configs["retention.bytes"] <= 0 || held > claim*7/10 {
			t.Errorf("%s: the partitions hold up to %d bytes of a %d-byte claim: %v", args.Environment, held, claim, configs)
		}
		retention := int64(args.Kafka.RetentionHours) * 3600 * 1000
		if configs["retention.ms"] != retention || configs["segment.ms"] <= 0 || configs["segment.ms"] > retention/4 {
			t.Errorf("%s: retention.ms %d, segment.ms %d, want %d and at most a quarter of it", args.Environment, configs["retention.ms"], configs["segment.ms"], retention)
		}
	}
}

// With TLS (prod) the brokers listen, and talk to each other, over SSL with
// their own certificate on the image's secrets VOLUME, and every client
// (Filebeat, Logstash, the topic Job) verifies them against the CA it is
// given in its own namespace; without (dev) all is PLAINTEXT.
func TestKafkaTLS(t *testing.T) {
	dev, prod := mustDeploy(t, devArgs()), mustDeploy(t, prodArgs())
	props := file(t, prod, "kafka", "server.properties")
	for _, want := range []string{
		"listeners=SSL://:9092,CONTROLLER://:9093", "listener.security.protocol.map=SSL:SSL,CONTROLLER:SSL", "inter.broker.listener.name=SSL",
		"advertised.listeners=SSL://@POD_NAME@.kafka-headless.observability.svc.cluster.local:9092",
		"ssl.keystore.type=PEM\nssl.keystore.location=/etc/kafka/secrets/keystore.pem", "ssl.truststore.location=/etc/kafka/secrets/ca.crt",
	} {
		if !strings.Contains(props, want) {
			t.Errorf("prod server.properties lacks %q:\n%s", want, props)
		}
	}
	if devProps := file(t, dev, "kafka", "server.properties"); strings.Contains(devProps, "SSL") || !strings.Contains(devProps, "listeners=PLAINTEXT://:9092") {
		t.Errorf("dev brokers should speak PLAINTEXT:\n%s", devProps)
	}
	broker := prod.One(t, statefulSetType, "observability-kafka")
	if !mountedAt(t, broker.MustInput(t, "spec.template.spec.containers.0.volumeMounts"), "/etc/kafka/secrets", true) {
		t.Error("the brokers' TLS Secret is not mounted read-only on /etc/kafka/secrets")
	}
	keystore := fmt.Sprint(prod.One(t, secretType, "observability-kafka-tls").MustInput(t, "stringData").(map[string]any)["keystore.pem"])
	if !strings.Contains(keystore, "PRIVATE KEY") || !strings.Contains(keystore, "CERTIFICATE") {
		t.Error("the brokers' Secret holds no PEM key store (key and certificate)")
	}

	if c := file(t, prod, "kafka", "client.properties"); !strings.Contains(c, "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka-ca/ca.crt\n"+
		"ssl.keystore.type=PEM\nssl.keystore.location=/etc/kafka-ca/keystore.pem") {
		t.Errorf("the tools' client.properties: %s", c)
	}
	if c := file(t, dev, "kafka", "client.properties"); c != "security.protocol=PLAINTEXT\n" {
		t.Errorf("dev client.properties: %q", c)
	}
	script := prod.One(t, jobType, "observability-kafka-topic").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
	if !strings.Contains(script, "--command-config /etc/platform-kafka/client.properties") {
		t.Errorf("the topic script does not use the client config:\n%s", script)
	}
	if fb := file(t, prod, "filebeat", "filebeat.yml"); !strings.Contains(fb, "  ssl.enabled: true\n  ssl.certificate_authorities: [\"/etc/kafka-ca/ca.crt\"]") {
		t.Errorf("Filebeat does not verify the brokers:\n%s", fb)
	}
	if ls := file(t, prod, "logstash", "logstash.conf"); !strings.Contains(ls, `security_protocol => "SSL"`) || !strings.Contains(ls, `ssl_truststore_location => "/etc/kafka-ca/ca.crt"`) {
		t.Errorf("Logstash does not verify the brokers:\n%s", ls)
	}
	for _, client := range []struct{ typ, name, namespace string }{
		{daemonSetType, "observability-filebeat", "observability-agents"},
		{statefulSetType, "observability-logstash", "observability"},
		{jobType, "observability-kafka-topic", "observability"},
	} {
		r := prod.One(t, client.typ, client.name)
		if !mountedAt(t, r.MustInput(t, "spec.template.spec.containers.0.volumeMounts"), "/etc/kafka-ca", true) {
			t.Errorf("%s has no CA at /etc/kafka-ca", client.name)
		}
		if got := r.MustInput(t, "metadata.namespace"); got != client.namespace {
			t.Errorf("%s in %v", client.name, got)
		}
	}
	if ns := prod.One(t, secretType, "observability-filebeat-kafka-tls").MustInput(t, "metadata.namespace"); ns != "observability-agents" {
		t.Errorf("Filebeat's Kafka TLS Secret is in %v, not beside Filebeat", ns)
	}
	// Without TLS or security the only secret is the UI's.
	for _, sec := range dev.OfType(secretType) {
		if sec.Name != "observability-jaeger-ui-auth" {
			t.Errorf("dev declares the Secret %s; without TLS or security only Jaeger's UI has secrets", sec.Name)
		}
	}
}

// TestKafkaClientsAuthenticate: with TLS the brokers ask every peer for a
// certificate of the stack's CA and refuse what no ACL allows; each client
// gets its own certificate, and the principal its ACLs (and super.users)
// name is the subject of the certificate it is given: Filebeat writes the
// logs topic, Logstash reads it in its group, the topic Job and the brokers
// are super users.
func TestKafkaClientsAuthenticate(t *testing.T) {
	prod := mustDeploy(t, prodArgs())
	props := file(t, prod, "kafka", "server.properties")
	for _, want := range []string{"ssl.client.auth=required", "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found=false"} {
		if !strings.Contains(props, want+"\n") {
			t.Errorf("prod server.properties lacks %q:\n%s", want, props)
		}
	}
	// The principal Kafka makes of a certificate: User:<subject DN>.
	principal := func(certificate string) string {
		cert, err := pki.ParseCertificate(certificate)
		if err != nil {
			t.Fatal(err)
		}
		return "User:" + cert.Subject.String()
	}
	broker := principal(testCerts.Kafka.Certificate)
	if !strings.Contains(props, "super.users="+broker+";"+principal(testCerts.KafkaClients.Setup.Certificate)+"\n") {
		t.Errorf("super.users does not name the brokers' (%s) and the topic Job's certificates:\n%s", broker, props)
	}
	script := prod.One(t, jobType, "observability-kafka-topic").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
	clients := map[string]struct {
		secret, namespace string
		acls              []string
	}{
		"filebeat":    {"observability-filebeat-kafka-tls", "observability-agents", []string{"--operation Write --topic " + LogsTopic}},
		"logstash":    {"observability-logstash-kafka-tls", "observability", []string{"--operation Read --topic " + LogsTopic, "--operation Read --group " + logstashGroup}},
		"kafka-setup": {"observability-kafka-setup-kafka-tls", "observability", nil},
	}
	for name, client := range clients {
		secret := prod.One(t, secretType, client.secret)
		data := secret.MustInput(t, "stringData").(map[string]any)
		if !secret.Secret("stringData") || secret.MustInput(t, "metadata.namespace") != client.namespace {
			t.Errorf("%s: its Secret is not secret or not beside it", name)
		}
		if !strings.HasPrefix(fmt.Sprint(data["keystore.pem"]), strings.TrimSpace(fmt.Sprint(data["tls.key"]))) {
			t.Errorf("%s: the key store does not start with its key", name)
		}
		who := principal(fmt.Sprint(data["tls.crt"]))
		if who != "User:CN="+name {
			t.Errorf("%s's certificate makes the principal %s", name, who)
		}
		for _, acl := range client.acls {
			if !strings.Contains(script, "--allow-principal "+who+" "+acl+"\n") {
				t.Errorf("no ACL lets %s %s:\n%s", who, acl, script)
			}
		}
		if strings.Count(script, "--allow-principal "+who+" ") != len(client.acls) {
			t.Errorf("%s has other ACLs than %v:\n%s", who, client.acls, script)
		}
	}
	if fb := file(t, prod, "filebeat", "filebeat.yml"); !strings.Contains(fb, "  ssl.certificate: \"/etc/kafka-ca/tls.crt\"\n  ssl.key: \"/etc/kafka-ca/tls.key\"") {
		t.Errorf("Filebeat shows no certificate to Kafka:\n%s", fb)
	}
	if ls := file(t, prod, "logstash", "logstash.conf"); !strings.Contains(ls, `ssl_keystore_type => "PEM"`) || !strings.Contains(ls, `ssl_keystore_location => "/etc/kafka-ca/keystore.pem"`) {
		t.Errorf("Logstash shows no certificate to Kafka:\n%s", ls)
	}
	dev := mustDeploy(t, devArgs())
	if props := file(t, dev, "kafka", "server.properties"); strings.Contains(props, "ssl.client.auth") || strings.Contains(props, "authorizer") {
		t.Errorf("dev's plaintext Kafka asks for certificates:\n%s", props)
	}
	if strings.Contains(dev.One(t, jobType, "observability-kafka-topic").MustInput(t, "spec.template.spec.containers.0.command.2").(string), "kafka-acls.sh") {
		t.Error("dev's plaintext Kafka sets ACLs it cannot enforce")
	}
}

// mountedAt says whether a container's volumeMounts mount something at path,
// read-only as asked.
func mountedAt(t *testing.T, mounts any, path string, readOnly bool) bool {
	t.Helper()
	for _, m := range mounts.([]any) {
		m := m.(map[string]any)
		if ro, _ := m["readOnly"].(bool); m["mountPath"] == path && ro == readOnly {
			return true
		}
	}
	return false
}

func TestLogstashPipelineAndQueue(t *testing.T) {
	dev, prod := mustDeploy(t, devArgs()), mustDeploy(t, prodArgs())
	pipeline := file(t, prod, "logstash", "logstash.conf")
	for _, want := range []string{
		"kafka {", `topics => ["logs"]`, "codec => json", "elasticsearch {",
		`hosts => ["https://elasticsearch.observability.svc.cluster.local:9200"]`,
		`data_stream_namespace => "prod"`, `password => "${ELASTICSEARCH_PASSWORD}"`, "ssl_certificate_authorities",
	} {
		if !strings.Contains(pipeline, want) {
			t.Errorf("prod pipeline lacks %q:\n%s", want, pipeline)
		}
	}
	if devPipeline := file(t, dev, "logstash", "logstash.conf"); !strings.Contains(devPipeline, "http://elasticsearch.") || strings.Contains(devPipeline, "password") {
		t.Errorf("dev pipeline should use plain HTTP without credentials:\n%s", devPipeline)
	}
	settings := file(t, prod, "logstash", "logstash.yml")
	if !strings.Contains(settings, "queue.type: persisted") {
		t.Errorf("prod Logstash has no persistent queue:\n%s", settings)
	}
	// What Elasticsearch refuses is kept, and both queues fit the volume
	// with room left.
	volume := resource.MustParse(prodArgs().Logstash.QueueStorage.Size)
	var used int64
	for _, key := range []string{"queue.max_bytes", "dead_letter_queue.max_bytes"} {
		var mb int64
		for _, line := range strings.Split(settings, "\n") {
			if v, ok := strings.CutPrefix(line, key+": "); ok {
				fmt.Sscanf(v, "%dmb", &mb)
			}
		}
		if mb == 0 {
			t.Errorf("prod Logstash sets no %s:\n%s", key, settings)
		}
		used += mb << 20
	}
	if !strings.Contains(settings, "dead_letter_queue.enable: true") || used > volume.Value()*96/100 {
		t.Errorf("prod Logstash: dead letter queue on %v, the queues take %d of the volume's %d bytes (want at most 96%%):\n%s",
			strings.Contains(settings, "dead_letter_queue.enable: true"), used, volume.Value(), settings)
	}
	claim := prod.One(t, statefulSetType, "observability-logstash").MustInput(t, "spec.volumeClaimTemplates.0.metadata.name")
	if claim != "data" {
		t.Errorf("prod Logstash queue claim %v, want data", claim)
	}
	if s := file(t, dev, "logstash", "logstash.yml"); !strings.Contains(s, "queue.type: memory") || !strings.Contains(s, "dead_letter_queue.enable: true") {
		t.Errorf("dev Logstash should queue in memory and keep what Elasticsearch refuses:\n%s", s)
	}
	// A scaled-down pod drains its queue before it goes, and has the time to.
	if !strings.Contains(settings, "queue.drain: true") {
		t.Errorf("prod Logstash does not drain its queue on shutdown:\n%s", settings)
	}
	grace := prod.One(t, statefulSetType, "observability-logstash").MustInput(t, "spec.template.spec.terminationGracePeriodSeconds").(float64)
	if grace < 600 {
		t.Errorf("prod Logstash has %vs to drain its queue, want at least 600", grace)
	}
}

// What Elasticsearch refuses is read back from the dead letter queue into a
// data stream of its own, by a pipeline that cannot loop.
func TestLogstashReadsItsDeadLetters(t *testing.T) {
	for name, g := range map[string]*pulumitest.Graph{"dev": mustDeploy(t, devArgs()), "prod": mustDeploy(t, prodArgs())} {
		pipelines := file(t, g, "logstash", "pipelines.yml")
		var list []map[string]any
		if err := yaml.Unmarshal([]byte(pipelines), &list); err != nil || len(list) != 2 {
			t.Fatalf("%s: pipelines.yml is not two pipelines (%v):\n%s", name, err, pipelines)
		}
		if list[1]["pipeline.id"] != "dead-letters" || list[1]["dead_letter_queue.enable"] != false {
			t.Errorf("%s: the dead-letters pipeline may write its own dead letters (a loop):\n%s", name, pipelines)
		}
		dead := file(t, g, "logstash", "dead-letters.conf")
		for _, want := range []string{
			`path => "/usr/share/logstash/data/dead_letter_queue"`, `pipeline_id => "main"`, "commit_offsets => true", "clean_consumed => true",
			`remove_field => ["app"]`, `data_stream_dataset => "platform.deadletter"`, `data_stream_namespace => "` + name + `"`,
		} {
			if !strings.Contains(dead, want) {
				t.Errorf("%s: the dead-letters pipeline lacks %q:\n%s", name, want, dead)
			}
		}
		mounts := g.One(t, statefulSetType, "observability-logstash").MustInput(t, "spec.template.spec.containers.0.volumeMounts")
		if !mountedAt(t, mounts, "/usr/share/logstash/pipeline/dead-letters.conf", true) {
			t.Errorf("%s: dead-letters.conf is not mounted where pipelines.yml reads it", name)
		}
	}
}

func TestElasticsearchSecurityAndKernelSetting(t *testing.T) {
	dev, prod := mustDeploy(t, devArgs()), mustDeploy(t, prodArgs())
	devConfig := file(t, dev, "elasticsearch", "elasticsearch.yml")
	for _, want := range []string{"xpack.security.enabled: false", "node.store.allow_mmap: false", "discovery.type: single-node"} {
		if !strings.Contains(devConfig, want) {
			t.Errorf("dev elasticsearch.yml lacks %q:\n%s", want, devConfig)
		}
	}
	prodConfig := file(t, prod, "elasticsearch", "elasticsearch.yml")
	for _, want := range []string{
		"xpack.security.enabled: true", "xpack.security.http.ssl.enabled: true", "xpack.security.transport.ssl.enabled: true",
		"discovery.seed_hosts: [elasticsearch-headless.observability.svc.cluster.local]",
	} {
		if !strings.Contains(prodConfig, want) {
			t.Errorf("prod elasticsearch.yml lacks %q:\n%s", want, prodConfig)
		}
	}
	if strings.Contains(prodConfig, "initial_master_nodes") {
		t.Error("cluster.initial_master_nodes is in the ConfigMap, so it stays set after the cluster formed: the init script adds it until then")
	}
	if strings.Contains(prodConfig, "allow_mmap") {
		t.Error("prod keeps the memory-mapped store; the node-tuning DaemonSet raises vm.max_map_count")
	}
	tuning := prod.One(t, daemonSetType, "observability-node-tuning")
	if got := tuning.MustInput(t, "metadata.namespace"); got != "observability-agents" {
		t.Errorf("node tuning runs in %v: only the agents namespace admits privileged pods", got)
	}
	if script := tuning.MustInput(t, "spec.template.spec.initContainers.0.command.2").(string); !strings.Contains(script, "vm.max_map_count=262144") {
		t.Errorf("node tuning script: %s", script)
	}
	setup := prod.One(t, jobType, "observability-elasticsearch-setup").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
	for _, want := range []string{`"min_age":"30d"`, "_security/user/kibana_system/_password", "_security/user/logstash_writer", "_security/user/jaeger_writer", "--cacert"} {
		if !strings.Contains(setup, want) {
			t.Errorf("prod setup script lacks %q:\n%s", want, setup)
		}
	}
	devSetup := dev.One(t, jobType, "observability-elasticsearch-setup").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
	if !strings.Contains(devSetup, `"min_age":"7d"`) || strings.Contains(devSetup, "_security") {
		t.Errorf("dev setup script: want 7 days of retention and no users:\n%s", devSetup)
	}
}

func TestJaegerStorage(t *testing.T) {
	dev, prod := mustDeploy(t, devArgs()), mustDeploy(t, prodArgs())
	if c := file(t, dev, "jaeger", "config.yaml"); !strings.Contains(c, "memory:") || strings.Contains(c, "elasticsearch:") {
		t.Errorf("dev Jaeger should store traces in memory:\n%s", c)
	}
	c := file(t, prod, "jaeger", "config.yaml")
	for _, want := range []string{"elasticsearch:", "password: ${env:ELASTICSEARCH_PASSWORD}", "ca_file:", "endpoint: 0.0.0.0:4317", "endpoint: 0.0.0.0:4318",
		fmt.Sprintf("max_span_age: %dh", prodArgs().Jaeger.RetentionDays*24)} {
		if !strings.Contains(c, want) {
			t.Errorf("prod Jaeger config lacks %q:\n%s", want, c)
		}
	}
	if len(dev.OfType(cronJobType)) != 0 || len(prod.OfType(cronJobType)) != 1 {
		t.Error("the trace index cleaner belongs with Elasticsearch storage only")
	}
}

// Jaeger's memory is bounded by its container's: the memory store's size,
// the memory limiter and the Go runtime's limit, all from its memory (the
// e2e test TestJaegerMemoryStorageStaysWithinItsLimit runs them for real).
func TestJaegerMemorySizedToItsLimit(t *testing.T) {
	for _, tt := range []struct {
		memory                     string
		maxTraces, limitMiB, goMiB int
	}{{"256Mi", 3408, 204, 204}, {"1Gi", 13634, 819, 819}} {
		args := devArgs()
		args.Jaeger.Size.Memory = tt.memory
		g := mustDeploy(t, args)
		c := file(t, g, "jaeger", "config.yaml")
		for _, want := range []string{fmt.Sprintf("max_traces: %d", tt.maxTraces), "processors: [memory_limiter, batch]", fmt.Sprintf("limit_mib: %d", tt.limitMiB)} {
			if !strings.Contains(c, want) {
				t.Errorf("%s: Jaeger's config lacks %q:\n%s", tt.memory, want, c)
			}
		}
		env := g.One(t, deploymentType, "observability-jaeger").MustInput(t, "spec.template.spec.containers.0.env.0").(map[string]any)
		if env["name"] != "GOMEMLIMIT" || env["value"] != fmt.Sprintf("%dMiB", tt.goMiB) {
			t.Errorf("%s: Jaeger's first variable is %v, want GOMEMLIMIT=%dMiB", tt.memory, env, tt.goMiB)
		}
	}
}

// TestJaegerUIAsksForAPassword: the UI's port is the proxy's, Jaeger's own
// query server listens on the pod's loopback only, the proxy reads its
// secrets from the Secret's files (never from arguments), and the Secret
// holds UIUser's htpasswd entry, secret.
func TestJaegerUIAsksForAPassword(t *testing.T) {
	for _, args := range []Args{devArgs(), prodArgs()} {
		g := mustDeploy(t, args)
		if c := file(t, g, "jaeger", "config.yaml"); !strings.Contains(c, fmt.Sprintf("endpoint: 127.0.0.1:%d", jaegerQueryLocalPort)) ||
			strings.Contains(c, fmt.Sprintf(":%d", jaegerQueryPort)) {
			t.Errorf("%s: Jaeger's query server must listen on the loopback only:\n%s", args.Environment, c)
		}
		spec, _ := g.One(t, deploymentType, "observability-jaeger").PodSpec()
		var proxy map[string]any
		for _, c := range pulumitest.Containers(spec) {
			for _, p := range c["ports"].([]any) {
				port := p.(map[string]any)
				if port["name"] == "query" && c["name"] != "ui-auth" {
					t.Errorf("%s: container %s serves the UI port", args.Environment, c["name"])
				}
			}
			if c["name"] == "ui-auth" {
				proxy = c
			}
		}
		if proxy == nil {
			t.Fatalf("%s: no ui-auth container in Jaeger's pod", args.Environment)
		}
		got := strings.Join(slices.Collect(func(yield func(string) bool) {
			for _, a := range proxy["args"].([]any) {
				yield(a.(string))
			}
		}), " ")
		for _, want := range []string{"--http-address=0.0.0.0:16686", "--upstream=http://127.0.0.1:16687/", "--htpasswd-file=/etc/ui-auth/htpasswd", "--cookie-secret-file=/etc/ui-auth/cookie-secret"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: the proxy's arguments lack %s: %s", args.Environment, want, got)
			}
		}
		if strings.Contains(got, testCookieSecret) || strings.Contains(got, testUIPasswordHash) {
			t.Errorf("%s: a UI secret in the proxy's arguments: %s", args.Environment, got)
		}
		if sc := proxy["securityContext"].(map[string]any); sc["runAsUser"] != float64(uiAuthUID) || sc["readOnlyRootFilesystem"] != true {
			t.Errorf("%s: the proxy's security context %v, want its image's user %d and a read-only root", args.Environment, sc, uiAuthUID)
		}
		secret := g.One(t, secretType, "observability-jaeger-ui-auth")
		if data := secret.MustInput(t, "stringData").(map[string]any); data["htpasswd"] != UIUser+":"+testUIPasswordHash+"\n" || !secret.Secret("stringData") {
			t.Errorf("%s: the UI's Secret holds %v (secret: %v)", args.Environment, data, secret.Secret("stringData"))
		}
	}
	args := devArgs()
	args.UIAuth = &UIAuth{PasswordHash: pulumi.String(testUIPasswordHash)}
	if problems := args.Validate().Err(); problems == nil || !strings.Contains(problems.Error(), "jaeger.ui.auth") {
		t.Errorf("a UI without its cookie key: %v", problems)
	}
}

// TestIngressesServeTLS: an ingress of a UI is TLS-only for its host, and
// asks cert-manager for the certificate when a ClusterIssuer is named.
func TestIngressesServeTLS(t *testing.T) {
	args := prodArgs()
	args.Kibana.UI.Ingress = &kube.Ingress{Host: "kibana.example.com", ClusterIssuer: "letsencrypt"}
	args.Jaeger.UI.Ingress = &kube.Ingress{Host: "jaeger.example.com", TLSSecret: "jaeger-certificate"}
	g := mustDeploy(t, args)
	for name, want := range map[string][2]string{
		"observability-kibana":       {"kibana-tls", "letsencrypt"},
		"observability-jaeger-query": {"jaeger-certificate", ""},
	} {
		in := g.One(t, "kubernetes:networking.k8s.io/v1:Ingress", name)
		host := in.MustInput(t, "spec.rules.0.host")
		if in.MustInput(t, "spec.tls.0.hosts.0") != host || in.MustInput(t, "spec.tls.0.secretName") != want[0] {
			t.Errorf("%s: tls %v, want %v for %v", name, in.MustInput(t, "spec.tls"), want[0], host)
		}
		annotations := in.MustInput(t, "metadata.annotations").(map[string]any)
		if issuer, _ := annotations["cert-manager.io/cluster-issuer"].(string); issuer != want[1] {
			t.Errorf("%s: cluster issuer %q, want %q", name, issuer, want[1])
		}
	}
	if c := file(t, g, "kibana", "kibana.yml"); !strings.Contains(c, "xpack.security.secureCookies: true") || strings.Contains(c, "allowAnonymous") {
		t.Errorf("Kibana behind TLS: want secure cookies and no anonymous status:\n%s", c)
	}
	dev := devArgs()
	dev.Kibana.UI.Ingress = &kube.Ingress{Host: "kibana.example.com"}
	if problems := dev.Validate().Err(); problems == nil || !strings.Contains(problems.Error(), "kibana.ui.ingress.host") {
		t.Errorf("a published Kibana without security: %v", problems)
	}
}

// TestSecretsStaySecret scans every input of every resource for the elastic
// password and the TLS key: they may appear only as secrets.
func TestSecretsStaySecret(t *testing.T) {
	t.Run("given as secrets", func(t *testing.T) { checkSecretsStaySecret(t, prodArgs()) })
	t.Run("given in plain", func(t *testing.T) {
		// The component makes them secrets itself, whatever it is given.
		args := prodArgs()
		args.ElasticPassword = pulumi.String(testPassword)
		args.TLS = plainTLS(testCerts)
		checkSecretsStaySecret(t, args)
	})
}

func checkSecretsStaySecret(t *testing.T, args Args) {
	g := mustDeploy(t, args)
	keyLines := []string{strings.Split(testCerts.Elasticsearch.Key, "\n")[1], strings.Split(testCerts.Kafka.Key, "\n")[1]}
	for _, r := range g.Resources {
		plain := fmt.Sprint(stripSecrets(r.Inputs.Mappable()))
		if strings.Contains(plain, testPassword) || strings.Contains(plain, keyLines[0]) || strings.Contains(plain, keyLines[1]) {
			t.Errorf("%s %s holds secret material outside a secret", r.Type, r.Name)
		}
	}
	secrets := g.OfType(secretType)
	if len(secrets) == 0 {
		t.Fatal("prod declares no Secrets")
	}
	for _, s := range secrets {
		data := s.MustInput(t, "stringData").(map[string]any)
		for key := range data {
			if !s.Secret("stringData." + key) {
				t.Errorf("Secret %s: %s is not a Pulumi secret", s.Name, key)
			}
		}
	}
}

// stripSecrets removes what the engine would encrypt, so only plaintext is left.
func stripSecrets(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if _, isSecret := v["4dabf18193072939515e22adb298388d"]; isSecret {
			return nil
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = stripSecrets(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = stripSecrets(x)
		}
		return out
	}
	return v
}

func TestContainersAreHardened(t *testing.T) {
	g := mustDeploy(t, prodArgs())
	for _, typ := range []string{statefulSetType, deploymentType} {
		for _, r := range g.OfType(typ) {
			spec := "spec.template.spec."
			if got := r.MustInput(t, spec+"securityContext.runAsNonRoot"); got != true {
				t.Errorf("%s: runAsNonRoot %v", r.Name, got)
			}
			containers := r.MustInput(t, spec+"containers").([]any)
			for i := range containers {
				c := fmt.Sprintf("%scontainers.%d.", spec, i)
				for path, want := range map[string]any{
					"securityContext.readOnlyRootFilesystem": true, "securityContext.allowPrivilegeEscalation": false,
					"securityContext.capabilities.drop.0": "ALL",
				} {
					if got := r.MustInput(t, c+path); got != want {
						t.Errorf("%s: %s = %v, want %v", r.Name, path, got, want)
					}
				}
				for _, path := range []string{"resources.limits.memory", "resources.limits.cpu", "readinessProbe", "livenessProbe", "startupProbe"} {
					if _, ok := r.Input(c + path); !ok {
						t.Errorf("%s: container %d has no %s", r.Name, i, path)
					}
				}
				image := r.MustInput(t, c+"image").(string)
				if !strings.Contains(image, ":") || strings.HasSuffix(image, ":latest") {
					t.Errorf("%s: image %s is not pinned", r.Name, image)
				}
			}
		}
	}
}

// TestNetworkPolicies checks who may talk to whom: each part accepts traffic
// only from the parts that feed it.
func TestNetworkPolicies(t *testing.T) {
	g := mustDeploy(t, prodArgs())
	sources := func(policy string, rule int) []string {
		var names []string
		from, ok := g.One(t, policyType, "observability-"+policy).Input(fmt.Sprintf("spec.ingress.%d.from", rule))
		if !ok {
			return nil
		}
		for _, peer := range from.([]any) {
			p := peer.(map[string]any)
			name := ""
			if ns, ok := p["namespaceSelector"].(map[string]any); ok {
				name = ns["matchLabels"].(map[string]any)["kubernetes.io/metadata.name"].(string) + "/"
			}
			if pods, ok := p["podSelector"].(map[string]any); ok {
				name += pods["matchLabels"].(map[string]any)["app.kubernetes.io/name"].(string)
			}
			names = append(names, name)
		}
		return names
	}
	expect := map[string][]string{
		"kafka":         {"observability-agents/filebeat", "observability/logstash", "observability/kafka-setup", "observability/kafka"},
		"elasticsearch": {"observability/elasticsearch", "observability/elasticsearch-setup", "observability/logstash", "observability/kibana", "observability/jaeger", "observability/jaeger-index-cleaner"},
		"kibana":        {"ops/"},
		"jaeger":        {"greeter/"},
	}
	for policy, want := range expect {
		rule := 0
		if policy == "jaeger" {
			rule = len(g.One(t, policyType, "observability-jaeger").MustInput(t, "spec.ingress").([]any)) - 1
		}
		if got := sources(policy, rule); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s accepts from %v, want %v", policy, got, want)
		}
	}
	if _, ok := g.One(t, policyType, "observability-logstash").Input("spec.ingress.0"); ok {
		t.Error("Logstash accepts traffic; nothing feeds it but Kafka, which it pulls from")
	}
	for _, ns := range []string{"observability", "observability-agents"} {
		deny := g.One(t, policyType, "observability"+strings.TrimPrefix(ns, "observability")+"-default-deny")
		if got := deny.MustInput(t, "spec.policyTypes").([]any); len(got) != 2 {
			t.Errorf("%s default policy denies %v, want ingress and egress", ns, got)
		}
	}
}

func TestPodSecurityPerNamespace(t *testing.T) {
	g := mustDeploy(t, devArgs())
	for name, want := range map[string]string{"observability": "restricted", "observability-agents": "privileged"} {
		ns := g.One(t, namespaceType, name)
		if got := ns.MustInput(t, "metadata.labels").(map[string]any)["pod-security.kubernetes.io/enforce"]; got != want {
			t.Errorf("namespace %s enforces %v, want %s", name, got, want)
		}
	}
	filebeat := g.One(t, daemonSetType, "observability-filebeat")
	if got := filebeat.MustInput(t, "metadata.namespace"); got != "observability-agents" {
		t.Errorf("Filebeat in %v", got)
	}
	if got := filebeat.MustInput(t, "spec.template.spec.containers.0.securityContext.capabilities.add"); fmt.Sprint(got) != "[DAC_READ_SEARCH]" {
		t.Errorf("Filebeat capabilities %v, want only DAC_READ_SEARCH", got)
	}
	rules := g.One(t, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "observability-filebeat").MustInput(t, "rules.0.verbs")
	if fmt.Sprint(rules) != "[get list watch]" {
		t.Errorf("Filebeat may %v; it needs only to read", rules)
	}
}

func TestOutputs(t *testing.T) {
	outputs := make(chan map[string]string, 1)
	_, err := deployWith(t, devArgs(), func(o *Observability) {
		pulumi.All(o.KibanaURL, o.JaegerQueryURL, o.OTLPEndpoint, o.KafkaBootstrap, o.ElasticsearchURL).ApplyT(func(v []any) error {
			outputs <- map[string]string{"kibana": v[0].(string), "jaeger": v[1].(string), "otlp": v[2].(string), "kafka": v[3].(string), "es": v[4].(string)}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := resolved(t, outputs, "the outputs")
	want := map[string]string{
		"kibana": "http://kibana.observability.svc.cluster.local:5601",
		"jaeger": "http://jaeger-query.observability.svc.cluster.local:16686",
		"otlp":   "http://jaeger-collector.observability.svc.cluster.local:4318",
		"kafka":  "kafka.observability.svc.cluster.local:9092",
		"es":     "http://elasticsearch.observability.svc.cluster.local:9200",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"replication above brokers", func(a *Args) { a.Kafka.ReplicationFactor = 3 }, "kafka.replicationFactor: 3: must be from 1 to kafka.brokers (1)"},
		{"min ISR above replication", func(a *Args) { a.Kafka.MinInsyncReplicas = 2 }, "kafka.minInsyncReplicas: 2: must be from 1 to kafka.replicationFactor (1)"},
		{"even brokers", func(a *Args) { a.Kafka.Brokers = 2 }, "kafka.brokers: 2: must be odd"},
		{"even nodes", func(a *Args) { a.Elasticsearch.Nodes = 2 }, "elasticsearch.nodes: 2: must be odd"},
		{"retention", func(a *Args) { a.Elasticsearch.RetentionDays = -1 }, "elasticsearch.retentionDays: -1: must be at least 1"},
		{"storage quantity", func(a *Args) { a.Elasticsearch.Storage.Size = "lots" }, `elasticsearch.storage.size: "lots": must be a positive Kubernetes quantity`},
		{"memory quantity", func(a *Args) { a.Kibana.Size.Memory = "2GB!" }, `kibana.size.memory: "2GB!": must be a positive Kubernetes quantity`},
		{"cpu limit below request", func(a *Args) { a.Kafka.Size.CPULimit = "100m" }, `kafka.size.cpuLimit: "100m": must be at least the CPU request "250m"`},
		{"latest image", func(a *Args) { a.Jaeger.Image = "jaegertracing/jaeger:latest" }, `jaeger.image: "jaegertracing/jaeger:latest": must not use the "latest" tag`},
		{"memory jaeger replicas", func(a *Args) { a.Jaeger.Replicas = 2 }, "jaeger.replicas: 2: must be 1 with memory storage"},
		{"memory jaeger too small", func(a *Args) { a.Jaeger.Size.Memory = "64Mi" }, `jaeger.size.memory: "64Mi": must be at least 128Mi with memory storage`},
		{"jaeger storage", func(a *Args) { a.Jaeger.Storage = "cassandra" }, `jaeger.storage: "cassandra": must be memory or elasticsearch`},
		{"placement", func(a *Args) { a.Kibana.Placement.NodeSelector = map[string]string{"pool": "a b"} }, `kibana.placement.nodeSelector.pool: "a b": must be a label value`},
		{"same namespaces", func(a *Args) { a.AgentsNamespace = "observability" }, `agentsNamespace: "observability": must differ from namespace`},
		{"security without password", func(a *Args) { a.Elasticsearch.Security = true }, `elasticsearch.passwordSecret: "": is required when security is on`},
		{"ui namespace", func(a *Args) { a.Kibana.UI.AllowFrom = []string{"Ops"} }, `kibana.ui.allowFrom[0]: "Ops": must be a namespace name`},
		{"prod with one node", func(a *Args) { *a = prodArgs(); a.Elasticsearch.Nodes = 1 }, "elasticsearch.nodes: 1: must be at least 3 in a highly available environment"},
		{"prod without security", func(a *Args) { *a = prodArgs(); a.Elasticsearch.Security = false }, "elasticsearch.security: false: must be on in a highly available environment"},
		{"prod without Kafka TLS", func(a *Args) { *a = prodArgs(); a.Kafka.TLS = false }, "kafka.tls: false: must be on in a highly available environment"},
		{"Kafka TLS without certificates", func(a *Args) { a.Kafka.TLS = true }, "kafka.tls: true: needs the CA, Kafka's certificate and key and its clients'"},
		{"Kafka TLS without a client's certificate", func(a *Args) {
			a.Kafka.TLS, a.TLS = true, plainTLS(testCerts)
			a.TLS.KafkaLogstash = KeyPair{}
		}, "kafka.tls: true: needs the CA, Kafka's certificate and key and its clients'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := devArgs()
			tt.mutate(&args)
			g, err := deploy(t, args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if len(g.OfType(statefulSetType)) > 0 {
				t.Error("resources registered despite invalid arguments")
			}
		})
	}
}

// Each credential is a random secret of its own, URL-safe (no escaping in a
// config line or a JSON body) and long enough for Kibana's keys.
func TestCredentialsAreRandom(t *testing.T) {
	a, err := NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCredential()
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=\\\"'") {
		t.Errorf("credentials %q and %q: want two different 43 URL-safe characters", a, b)
	}
}

// Rotating the elastic password changes the Elasticsearch nodes' and the
// setup Job's secret alone: no service user's password, no Kibana key (its
// encrypted saved objects stay readable).
func TestRotatingOneCredentialChangesNothingElse(t *testing.T) {
	secrets := func(args Args) map[string]string {
		out := map[string]string{}
		for _, s := range mustDeploy(t, args).OfType("kubernetes:core/v1:Secret") {
			data, _ := s.Input("stringData")
			out[s.Name] = fmt.Sprint(data)
		}
		return out
	}
	before := secrets(prodArgs())
	rotated := prodArgs()
	rotated.ElasticPassword = pulumi.ToSecret(pulumi.String("rotated-elastic-password")).(pulumi.StringOutput)
	after := secrets(rotated)
	var changed []string
	for name := range before {
		if before[name] != after[name] {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if want := []string{"observability-elasticsearch-users"}; !slices.Equal(changed, want) {
		t.Errorf("rotating the elastic password changed the Secrets %v, want %v alone", changed, want)
	}
	for name, data := range after {
		if strings.Contains(data, "rotated-elastic-password") && name != "observability-elasticsearch-users" {
			t.Errorf("Secret %s holds the elastic password", name)
		}
	}
}

func TestKafkaClusterID(t *testing.T) {
	if kafkaClusterID("observability", "o") != kafkaClusterID("observability", "o") {
		t.Error("the Kafka cluster id changes from one run to the next")
	}
	if kafkaClusterID("a", "b") == kafkaClusterID("a", "c") {
		t.Error("two stacks share a Kafka cluster id")
	}
	// About 1 in 64 seeds hashes to a leading '-'; among 2,000 some do.
	for i := range 2000 {
		id := kafkaClusterID("ns", fmt.Sprint(i))
		if len(id) != 22 || id[0] == '-' {
			t.Fatalf("cluster id %q: want 22 characters, not starting with '-'", id)
		}
	}
}

func TestHeapIsHalfTheMemory(t *testing.T) {
	if heapOptions("2Gi") != "-Xms1024m -Xmx1024m" {
		t.Errorf("heap for 2Gi: %s", heapOptions("2Gi"))
	}
}

// Each part's placement reaches its pods, its Jobs and CronJob go with the
// part whose image they run, and Filebeat keeps tolerating every taint.
func TestPlacementPerPart(t *testing.T) {
	args := prodArgs()
	real := kube.Placement{
		NodeSelector: map[string]string{"type": "real"},
		Tolerations:  []kube.Toleration{{Key: "platform.acme.io/real-node", Operator: "Exists", Effect: "NoSchedule"}},
	}
	args.Jaeger.Placement = real
	args.Elasticsearch.Placement = kube.Placement{NodeSelector: map[string]string{"pool": "search"}}
	args.Filebeat.Placement = kube.Placement{NodeSelector: map[string]string{"type": "kwok"}}
	g := mustDeploy(t, args)
	tests := []struct {
		typ, name, spec string
		want            map[string]any
	}{
		{"kubernetes:apps/v1:Deployment", "observability-jaeger", "spec.template.spec.", map[string]any{"nodeSelector.type": "real", "tolerations.0.key": "platform.acme.io/real-node"}},
		{"kubernetes:apps/v1:StatefulSet", "observability-elasticsearch", "spec.template.spec.", map[string]any{"nodeSelector.pool": "search"}},
		{"kubernetes:batch/v1:CronJob", "observability-jaeger-index-cleaner", "spec.jobTemplate.spec.template.spec.", map[string]any{"nodeSelector.pool": "search"}},
		{"kubernetes:apps/v1:DaemonSet", "observability-node-tuning", "spec.template.spec.", map[string]any{"nodeSelector.pool": "search"}},
		{"kubernetes:apps/v1:DaemonSet", "observability-filebeat", "spec.template.spec.", map[string]any{"nodeSelector.type": "kwok", "tolerations.0.operator": "Exists"}},
	}
	for _, tt := range tests {
		r := g.One(t, tt.typ, tt.name)
		for path, want := range tt.want {
			if got := r.MustInput(t, tt.spec+path); got != want {
				t.Errorf("%s %s: %s = %v, want %v", tt.typ, tt.name, path, got, want)
			}
		}
	}
	kafka := g.One(t, "kubernetes:apps/v1:StatefulSet", "observability-kafka")
	if v, _ := kafka.Input("spec.template.spec.nodeSelector"); fmt.Sprint(v) != "map[kubernetes.io/os:linux]" {
		t.Errorf("Kafka, given no placement, has the node selector %v, want Linux nodes only", v)
	}
}

// The JVMs log to stdout and stderr, never into their size-limited
// emptyDirs: Kafka without -loggc and with a console-only log4j2 config it
// mounts, Elasticsearch with the image's GC file log turned off.
func TestJVMLogsStayOutOfTheirVolumes(t *testing.T) {
	g := mustDeploy(t, prodArgs())
	envOf := func(name string) map[string]any {
		out := map[string]any{}
		for _, e := range g.One(t, statefulSetType, "observability-"+name).MustInput(t, "spec.template.spec.containers.0.env").([]any) {
			m := e.(map[string]any)
			out[m["name"].(string)] = m["value"]
		}
		return out
	}
	kafka := envOf("kafka")
	if kafka["EXTRA_ARGS"] != "-name kafkaServer" {
		t.Errorf("Kafka's EXTRA_ARGS %v: kafka-server-start.sh adds -loggc (GC logs in LOG_DIR) unless it is set", kafka["EXTRA_ARGS"])
	}
	if kafka["KAFKA_LOG4J_OPTS"] != "-Dlog4j2.configurationFile="+kafkaConfigDir+"/log4j2.yaml" {
		t.Errorf("Kafka's KAFKA_LOG4J_OPTS %v", kafka["KAFKA_LOG4J_OPTS"])
	}
	if log4j := file(t, g, "kafka", "log4j2.yaml"); !strings.Contains(log4j, "Console:") || strings.Contains(log4j, "File") {
		t.Errorf("Kafka's log4j2.yaml writes somewhere other than stdout:\n%s", log4j)
	}
	if opts, _ := envOf("elasticsearch")["ES_JAVA_OPTS"].(string); !strings.Contains(opts, "-Xlog:disable") || strings.Contains(opts, "file=") {
		t.Errorf("Elasticsearch's ES_JAVA_OPTS %q keeps the image's GC file log", opts)
	}
}
