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
		"logstash.yml":      b.logstashSettings(),
		"pipelines.yml":     logstashPipelines,
		"logstash.conf":     b.logstashPipeline(),
		"dead-letters.conf": b.deadLetterPipeline(),
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
		fileMount("config", "/usr/share/logstash/pipeline/dead-letters.conf", "dead-letters.conf"),
		mount("data", "/usr/share/logstash/data", false), mount("logs", "/usr/share/logstash/logs", false),
		mount("tmp", "/tmp", false),
	}, append(access.mounts, kafka.mounts...)...)
	volumes := append(corev1.VolumeArray{configMapVolume("config", config), emptyDir("logs", "256Mi"), emptyDir("tmp", "256Mi")},
		append(access.volumes, kafka.volumes...)...)
	claims := map[string]Storage{}
	if l.PersistentQueue {
		claims["data"] = l.QueueStorage
	} else {
		volumes = append(volumes, emptyDir("data", logstashScratchData))
	}
	template := pod{id: id, uid: elasticUID, containers: corev1.ContainerArray{c}, volumes: volumes, spread: b.args.HighAvailability,
		graceSeconds: logstashGraceSeconds(l), placement: b.args.Logstash.Placement}.template()
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

// logstashScratchData is the data volume of a Logstash without a persistent
// queue: the dead letter queue and Logstash's own files.
const logstashScratchData = "1Gi"

// logstashPipelines runs the main pipeline and the one that reads its dead
// letter queue back. The second keeps no dead letter queue of its own: an
// event refused twice is counted (dropped_events) rather than looped.
const logstashPipelines = `- pipeline.id: main
  path.config: /usr/share/logstash/pipeline/logstash.conf
- pipeline.id: dead-letters
  path.config: /usr/share/logstash/pipeline/dead-letters.conf
  pipeline.workers: 1
  dead_letter_queue.enable: false
`

// logstashGraceSeconds is how long a Logstash pod has to stop. With a
// persistent queue it drains the queue before it exits (queue.drain), so
// that a pod removed by a scale-down leaves no events on a claim nothing
// reads again; a pod killed before it is done keeps them on its claim, and
// reads them when it starts again.
func logstashGraceSeconds(l Logstash) int {
	if l.PersistentQueue {
		return 600
	}
	return 60
}

func (b *builder) logstashSettings() string {
	l := b.args.Logstash
	var s strings.Builder
	s.WriteString("api.http.host: 0.0.0.0\npath.data: /usr/share/logstash/data\npipeline.ecs_compatibility: v8\nxpack.monitoring.enabled: false\n")
	// An event that Elasticsearch refuses (400, 404) goes to the dead
	// letter queue (path.data/dead_letter_queue), not away with a WARN
	// (Logstash settings: dead_letter_queue.enable, default false), and the
	// dead-letters pipeline writes it to its own data stream.
	data := logstashScratchData
	if l.PersistentQueue {
		// The queue and the dead letter queue share the data volume, 85%
		// and 10%, the rest left for Logstash's own files.
		data = l.QueueStorage.Size
		fmt.Fprintf(&s, "queue.type: persisted\nqueue.max_bytes: %s\nqueue.drain: true\n", percentOf(data, 85))
	} else {
		s.WriteString("queue.type: memory\n")
	}
	fmt.Fprintf(&s, "dead_letter_queue.enable: true\ndead_letter_queue.max_bytes: %s\n", percentOf(data, 10))
	return s.String()
}

// logstashPipeline reads Filebeat's events from Kafka, lifts a JSON log line
// (the services log JSON with trace ids) into the app field, and writes the
// platform's log data stream for the environment.
func (b *builder) logstashPipeline() string {
	a := b.args
	threads := max(1, a.Kafka.Partitions/a.Logstash.Replicas)
	return fmt.Sprintf(`input {
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
%s}
`, b.host("kafka"), kafkaPort, LogsTopic, logstashGroup, threads, kafkaInputTLS(a.Kafka), b.logstashOutput(LogsDataset))
}

// logstashOutput writes to the environment's log data stream of a dataset:
// logs-<dataset>-<environment>.
func (b *builder) logstashOutput(dataset string) string {
	var out strings.Builder
	fmt.Fprintf(&out, `  elasticsearch {
    hosts => ["%s"]
    data_stream => "true"
    data_stream_type => "logs"
    data_stream_dataset => "%s"
    data_stream_namespace => "%s"
`, b.elasticURL(), dataset, b.args.Environment)
	if b.secure() {
		fmt.Fprintf(&out, `    user => "${ELASTICSEARCH_USERNAME}"
    password => "${ELASTICSEARCH_PASSWORD}"
    ssl_enabled => true
    ssl_certificate_authorities => ["%s/ca.crt"]
`, certsDir)
	}
	out.WriteString("  }\n")
	return out.String()
}

// DeadLetterDataset is the data stream dataset of the events Elasticsearch
// refused once: logs-platform.deadletter-<environment>.
const DeadLetterDataset = "platform.deadletter"

// deadLetterPipeline reads the main pipeline's dead letter queue
// (logstash-input-dead_letter_queue: commit_offsets, clean_consumed since
// Logstash 8.4) and writes each event to its own data stream, without the
// parsed app object (the line stays in message) and with Elasticsearch's
// reason in error.message, so what was refused is searched like any log.
func (b *builder) deadLetterPipeline() string {
	var out strings.Builder
	fmt.Fprintf(&out, `input {
  dead_letter_queue {
    path => "/usr/share/logstash/data/dead_letter_queue"
    pipeline_id => "main"
    commit_offsets => true
    clean_consumed => true
  }
}
filter {
  mutate {
    remove_field => ["app"]
    copy => { "[@metadata][dead_letter_queue][reason]" => "[error][message]" }
  }
}
output {
%s}
`, b.logstashOutput(DeadLetterDataset))
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
