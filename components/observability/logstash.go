package observability

import (
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const logstashAPIPort = 9600

func (b *builder) logstashID() kube.Identity { return b.id("logstash", "pipeline") }

// logstash declares the pipeline from Kafka to Elasticsearch: a stateful set,
// so that each pod keeps its persistent queue (prod) on its own volume.
func (b *builder) logstash() error {
	l := b.args.Logstash
	id := b.logstashID()
	config, err := b.configMap("logstash", id, map[string]string{
		"logstash.yml":  b.logstashSettings(),
		"pipelines.yml": "- pipeline.id: main\n  path.config: /usr/share/logstash/pipeline/logstash.conf\n",
		"logstash.conf": b.logstashPipeline(),
	}, b.in)
	if err != nil {
		return err
	}
	access, err := b.elasticClient("logstash", id, logstashUser)
	if err != nil {
		return err
	}
	kafka, err := b.kafkaClient(logstashPrincipal, id, b.args.Namespace, b.in)
	if err != nil {
		return err
	}
	c := container("logstash", l.Image, l.Size, kube.Probes{Port: logstashAPIPort, Startup: "/", Readiness: "/", StartupSeconds: 300})
	// The image's entrypoint rewrites logstash.yml from the environment, which
	// a read-only root filesystem refuses: run Logstash itself.
	c.Command = pulumi.StringArray{pulumi.String("/usr/share/logstash/bin/logstash")}
	c.Ports = ports(map[string]int{"api": logstashAPIPort})
	c.Env = append(corev1.EnvVarArray{env("LS_JAVA_OPTS", pulumi.String(heapOptions(l.Size.Memory)))}, access.credentials("ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")...)
	c.VolumeMounts = append(corev1.VolumeMountArray{
		fileMount("config", "/usr/share/logstash/config/logstash.yml", "logstash.yml"),
		fileMount("config", "/usr/share/logstash/config/pipelines.yml", "pipelines.yml"),
		fileMount("config", "/usr/share/logstash/pipeline/logstash.conf", "logstash.conf"),
		mount("data", "/usr/share/logstash/data", false), mount("logs", "/usr/share/logstash/logs", false),
		mount("tmp", "/tmp", false),
	}, append(access.mounts, kafka.mounts...)...)
	volumes := append(corev1.VolumeArray{configMapVolume("config", config), emptyDir("logs", "256Mi"), emptyDir("tmp", "256Mi")},
		append(access.volumes, kafka.volumes...)...)
	claims := map[string]Storage{}
	if l.PersistentQueue {
		claims["data"] = l.QueueStorage
	} else {
		volumes = append(volumes, emptyDir("data", "1Gi"))
	}
	template := pod{id: id, uid: elasticUID, containers: corev1.ContainerArray{c}, volumes: volumes, spread: b.args.HighAvailability, graceSeconds: 60,
		placement: b.args.Logstash.Placement}.template()
	if err := b.service("logstash-headless", id, map[string]int{"api": logstashAPIPort}, true); err != nil {
		return err
	}
	opts := append(b.in, pulumi.DependsOn([]pulumi.Resource{b.elasticReady, b.kafkaReady}))
	if _, err := b.statefulSet("logstash", id, l.Replicas, template, claims, opts); err != nil {
		return err
	}
	if err := b.disruptionBudget("logstash", id, l.Replicas); err != nil {
		return err
	}
	return b.policy("logstash", b.args.Namespace, id, nil, networkingv1.NetworkPolicyEgressRuleArray{
		to(networkingv1.NetworkPolicyPeerArray{b.peer(b.kafkaID())}, kafkaPort),
		to(networkingv1.NetworkPolicyPeerArray{b.peer(b.elasticID())}, elasticPort),
	}, b.in)
}

func (b *builder) logstashSettings() string {
	l := b.args.Logstash
	var s strings.Builder
	s.WriteString("api.http.host: 0.0.0.0\npath.data: /usr/share/logstash/data\npipeline.ecs_compatibility: v8\nxpack.monitoring.enabled: false\n")
	if l.PersistentQueue {
		// The queue and the dead letter queue share the data volume, 85% and
		// 10%, the rest left for Logstash's own files. An event that
		// Elasticsearch refuses (400: a mapping conflict between two
		// services' app.* fields; 404) goes to the dead letter queue
		// (path.data/dead_letter_queue), not away with a WARN (Logstash
		// settings: dead_letter_queue.enable, default false; max_bytes).
		fmt.Fprintf(&s, "queue.type: persisted\nqueue.max_bytes: %s\ndead_letter_queue.enable: true\ndead_letter_queue.max_bytes: %s\n",
			percentOf(l.QueueStorage.Size, 85), percentOf(l.QueueStorage.Size, 10))
	} else {
		s.WriteString("queue.type: memory\n")
	}
	return s.String()
}

// logstashPipeline reads Filebeat's events from Kafka, lifts a JSON log line
// (the services log JSON with trace ids) into the app field, and writes the
// platform's log data stream for the environment.
func (b *builder) logstashPipeline() string {
	a := b.args
	threads := max(1, a.Kafka.Partitions/a.Logstash.Replicas)
	var out strings.Builder
	fmt.Fprintf(&out, `input {
  kafka {
    bootstrap_servers => "%s:%d"
    topics => ["%s"]
    group_id => "%s"
    codec => json
    consumer_threads => %d
    auto_offset_reset => "earliest"
%s  }
}
filter {
  if [message] =~ /^\{/ {
    json {
      source => "message"
      target => "app"
      skip_on_invalid_json => true
    }
  }
}
output {
  elasticsearch {
    hosts => ["%s"]
    data_stream => "true"
    data_stream_type => "logs"
    data_stream_dataset => "platform"
    data_stream_namespace => "%s"
`, b.host("kafka"), kafkaPort, LogsTopic, logstashGroup, threads, kafkaInputTLS(a.Kafka), b.elasticURL(), a.Environment)
	if b.secure() {
		fmt.Fprintf(&out, `    user => "${ELASTICSEARCH_USERNAME}"
    password => "${ELASTICSEARCH_PASSWORD}"
    ssl_enabled => true
    ssl_certificate_authorities => ["%s/ca.crt"]
`, certsDir)
	}
	out.WriteString("  }\n}\n")
	return out.String()
}

// logstashGroup is Logstash's consumer group, which its ACL names.
const logstashGroup = "logstash"

// kafkaInputTLS is the Kafka input's TLS settings: the plugin hands
// ssl_truststore_type and ssl_keystore_type, with their locations, to the
// Kafka client as ssl.truststore.type and ssl.keystore.type
// (logstash-integration-kafka, plugin_mixins/kafka/common.rb), which read
// PEM: the brokers verified against the CA, Logstash's own certificate shown.
func kafkaInputTLS(k Kafka) string {
	if !k.TLS {
		return ""
	}
	return fmt.Sprintf("    security_protocol => \"SSL\"\n    ssl_truststore_type => \"PEM\"\n    ssl_truststore_location => \"%[1]s/ca.crt\"\n"+
		"    ssl_keystore_type => \"PEM\"\n    ssl_keystore_location => \"%[1]s/keystore.pem\"\n", kafkaCADir)
}
