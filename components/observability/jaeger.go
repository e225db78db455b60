package observability

import (
	"fmt"
	"strings"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const (
	jaegerQueryPort  = 16686
	jaegerHealthPort = 13133
	// jaegerUID is the Jaeger image's user.
	jaegerUID = 10001
)

func (b *builder) jaegerID() kube.Identity       { return b.id("jaeger", "tracing") }
func (b *builder) indexCleanerID() kube.Identity { return b.id("jaeger-index-cleaner", "retention") }

func (b *builder) jaegerStoresInElasticsearch() bool {
	return b.args.Jaeger.Storage == StorageElasticsearch
}

// jaeger declares Jaeger v2: OTLP receivers on 4317 (gRPC) and 4318 (HTTP),
// storage in memory or Elasticsearch, and the query UI.
func (b *builder) jaeger() error {
	j := b.args.Jaeger
	id := b.jaegerID()
	config, err := b.configMap("jaeger", id, map[string]string{"config.yaml": b.jaegerConfig()}, b.in)
	if err != nil {
		return err
	}
	var access clientAccess
	opts := b.in
	if b.jaegerStoresInElasticsearch() {
		if access, err = b.elasticClient("jaeger", id, jaegerUser); err != nil {
			return err
		}
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{b.elasticReady}))
	}
	c := container("jaeger", j.Image, j.Size, kube.Probes{Port: jaegerHealthPort, Startup: "/status", Readiness: "/status"})
	c.Args = pulumi.StringArray{pulumi.String("--config=/etc/jaeger/config.yaml")}
	c.Ports = ports(map[string]int{"otlp-grpc": OTLPGRPCPort, "otlp-http": OTLPHTTPPort, "query": jaegerQueryPort, "health": jaegerHealthPort})
	c.Env = access.credentials("ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")
	c.VolumeMounts = append(corev1.VolumeMountArray{mount("config", "/etc/jaeger", true), mount("tmp", "/tmp", false)}, access.mounts...)
	volumes := append(corev1.VolumeArray{configMapVolume("config", config), emptyDir("tmp", "64Mi")}, access.volumes...)
	template := pod{id: id, uid: jaegerUID, containers: corev1.ContainerArray{c}, volumes: volumes, spread: b.args.HighAvailability,
		placement: b.args.Jaeger.Placement}.template()
	if err := b.deployment("jaeger", id, j.Replicas, template, opts); err != nil {
		return err
	}
	if err := b.service("jaeger-collector", id, map[string]int{"otlp-grpc": OTLPGRPCPort, "otlp-http": OTLPHTTPPort}, false); err != nil {
		return err
	}
	if err := b.service("jaeger-query", id, map[string]int{"query": jaegerQueryPort}, false); err != nil {
		return err
	}
	if err := b.disruptionBudget("jaeger", id, j.Replicas); err != nil {
		return err
	}
	if err := b.ingress("jaeger-query", id, j.UI, "query"); err != nil {
		return err
	}

	var senders networkingv1.NetworkPolicyPeerArray
	for _, ns := range b.args.TelemetryFrom {
		senders = append(senders, kube.NamespacePeer(ns))
	}
	ingress := uiAccess(j.UI, jaegerQueryPort)
	if len(senders) > 0 {
		ingress = append(ingress, from(senders, OTLPGRPCPort, OTLPHTTPPort))
	}
	var egress networkingv1.NetworkPolicyEgressRuleArray
	if b.jaegerStoresInElasticsearch() {
		egress = append(egress, to(networkingv1.NetworkPolicyPeerArray{b.peer(b.elasticID())}, elasticPort))
		if err := b.indexCleaner(); err != nil {
			return err
		}
	}
	return b.policy("jaeger", b.args.Namespace, id, ingress, egress, b.in)
}

// jaegerConfig is Jaeger v2's configuration (an OpenTelemetry Collector
// configuration with Jaeger's extensions). The password comes from the
// environment, never from the ConfigMap.
func (b *builder) jaegerConfig() string {
	var backend string
	if b.jaegerStoresInElasticsearch() {
		replicas := min(b.args.Elasticsearch.Nodes-1, 1)
		// Reads look back as far as traces are kept: the reader's default,
		// 72h (jaeger v1.73.0, internal/storage/elasticsearch/config:
		// max_span_age), would hide a trace older than 3 days though the
		// index cleaner keeps it RetentionDays, and drop quiet services
		// from the service list.
		backend = fmt.Sprintf(`        elasticsearch:
          server_urls: ["%s"]
          max_span_age: %[3]dh
          indices:
            spans: {shards: 1, replicas: %[2]d}
            services: {shards: 1, replicas: %[2]d}
            dependencies: {shards: 1, replicas: %[2]d}
            sampling: {shards: 1, replicas: %[2]d}
`, b.elasticURL(), replicas, b.args.Jaeger.RetentionDays*24)
		if b.secure() {
			backend += fmt.Sprintf(`          auth:
            basic:
              username: ${env:ELASTICSEARCH_USERNAME}
              password: ${env:ELASTICSEARCH_PASSWORD}
          tls:
            ca_file: %s/ca.crt
`, certsDir)
		}
	} else {
		backend = "        memory:\n          max_traces: 100000\n"
	}
	var s strings.Builder
	fmt.Fprintf(&s, `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
      deployment.environment.name: %s
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 0.0.0.0:%d
  jaeger_query:
    storage:
      traces: traces
    http:
      endpoint: 0.0.0.0:%d
  jaeger_storage:
    backends:
      traces:
%sreceivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:%d
      http:
        endpoint: 0.0.0.0:%d
processors:
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: traces
`, b.args.Environment, jaegerHealthPort, jaegerQueryPort, backend, OTLPGRPCPort, OTLPHTTPPort)
	return s.String()
}

// indexCleaner deletes trace indices older than the retention, daily.
func (b *builder) indexCleaner() error {
	j := b.args.Jaeger
	id := b.indexCleanerID()
	access, err := b.elasticClient("jaeger-index-cleaner", id, jaegerUser)
	if err != nil {
		return err
	}
	c := task("index-cleaner", j.IndexCleanerImage, taskSize)
	c.Args = pulumi.StringArray{pulumi.Sprintf("%d", j.RetentionDays), pulumi.String(b.elasticURL())}
	if b.secure() {
		c.Env = append(access.credentials("ES_USERNAME", "ES_PASSWORD"),
			env("ES_TLS_ENABLED", pulumi.String("true")),
			env("ES_TLS_CA", pulumi.String(certsDir+"/ca.crt")))
	}
	c.VolumeMounts = access.mounts
	p := pod{id: id, uid: jaegerUID, containers: corev1.ContainerArray{c}, volumes: access.volumes, restartPolicy: "OnFailure",
		placement: b.args.Elasticsearch.Placement}
	_, err = batchv1.NewCronJob(b.ctx, b.name+"-jaeger-index-cleaner", &batchv1.CronJobArgs{
		Metadata: id.Metadata("jaeger-index-cleaner", b.args.Namespace),
		Spec: &batchv1.CronJobSpecArgs{
			Schedule:                   pulumi.String("55 23 * * *"),
			ConcurrencyPolicy:          pulumi.String("Forbid"),
			SuccessfulJobsHistoryLimit: pulumi.Int(1),
			FailedJobsHistoryLimit:     pulumi.Int(3),
			JobTemplate: &batchv1.JobTemplateSpecArgs{Spec: &batchv1.JobSpecArgs{
				BackoffLimit: pulumi.Int(3), Template: p.template(),
			}},
		},
	}, b.in...)
	if err != nil {
		return err
	}
	return b.policy("jaeger-index-cleaner", b.args.Namespace, id, nil,
		networkingv1.NetworkPolicyEgressRuleArray{to(networkingv1.NetworkPolicyPeerArray{b.peer(b.elasticID())}, elasticPort)}, b.in)
}
