package observability

import (
	"fmt"
	"strings"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/kube"
)

const (
	// jaegerQueryPort is where the UI and its API are served: by the
	// proxy, which asks for UIUser's password and passes a request on to
	// Jaeger's own query server, on the pod's loopback only.
	jaegerQueryPort      = 16686
	jaegerQueryLocalPort = 16687
	jaegerHealthPort     = 13133
	// jaegerUID is the Jaeger image's user.
	jaegerUID = 10001
	// uiAuthUID is OAuth2 Proxy's image's user (its Dockerfile's base,
	// gcr.io/distroless/static:nonroot, runs as 65532).
	uiAuthUID = 65532
	uiAuthDir = "/etc/ui-auth"
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
	c.Ports = ports(map[string]int{"otlp-grpc": OTLPGRPCPort, "otlp-http": OTLPHTTPPort, "health": jaegerHealthPort})
	c.Env = append(corev1.EnvVarArray{env("GOMEMLIMIT", pulumi.Sprintf("%dMiB", memoryLimiter(j.Size.Memory).goLimitMiB))},
		access.credentials("ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")...)
	c.VolumeMounts = append(corev1.VolumeMountArray{mount("config", "/etc/jaeger", true), mount("tmp", "/tmp", false)}, access.mounts...)
	auth, err := b.uiAuth(id)
	if err != nil {
		return err
	}
	volumes := append(corev1.VolumeArray{configMapVolume("config", config), emptyDir("tmp", "64Mi"), secretVolume("ui-auth", auth)}, access.volumes...)
	template := pod{id: id, uid: jaegerUID, containers: corev1.ContainerArray{c, b.uiAuthProxy()}, volumes: volumes, spread: b.args.HighAvailability,
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
		backend = fmt.Sprintf("        memory:\n          max_traces: %d\n", memoryMaxTraces(b.args.Jaeger.Size.Memory))
	}
	limit := memoryLimiter(b.args.Jaeger.Size.Memory)
	var s strings.Builder
	fmt.Fprintf(&s, `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
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
      endpoint: 127.0.0.1:%d
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
  memory_limiter:
    check_interval: 1s
    limit_mib: %d
    spike_limit_mib: %d
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: traces
`, b.args.Environment, jaegerHealthPort, jaegerQueryLocalPort, backend, OTLPGRPCPort, OTLPHTTPPort, limit.hardMiB, limit.spikeMiB)
	return s.String()
}

// jaegerBytesPerSpan is the resident memory of a span held by Jaeger's
// memory storage: 3150 B, measured with the real Jaeger v1.73.0 (make bench
// BENCH_FLAGS="-only jaeger", 2026-12-05: 18000 traces of 10 greeter-like
// spans, 3146 to 3155 B in 3 runs; the Go collector's headroom included).
const jaegerBytesPerSpan = 3150

// jaegerSpansPerTrace is the trace the sizing assumes: a request through a
// few services (the greeter's alone is one span).
const jaegerSpansPerTrace = 10

// memoryMaxTraces is how many traces the memory storage keeps in a
// container of that memory: 40% of it for the traces, so that a full store
// (Jaeger itself is about 40 MiB resident without traces) stays under the
// memory limiter's soft limit, 60%: the oldest traces make way for new ones
// before the limiter would refuse them. Jaeger's own default, 100000 (the component's old setting), is
// about 3 GB of such traces: far over any dev limit, so Jaeger was killed
// for memory instead of dropping the oldest traces.
func memoryMaxTraces(memory string) int {
	q := resource.MustParse(memory)
	return int(q.Value() * 40 / 100 / (jaegerBytesPerSpan * jaegerSpansPerTrace))
}

// minMemoryStorage is the least memory of a Jaeger that keeps traces in
// memory: about 1700 traces.
const minMemoryStorage = "128Mi"

type memoryLimit struct{ hardMiB, spikeMiB, goLimitMiB int64 }

// memoryLimiter keeps Jaeger under its container's limit whatever the
// traces' size (a trace of thousands of spans would overrun the sizing
// above): the OpenTelemetry Collector's memory_limiter refuses data above
// 80% of the limit, and starts refusing at 60% (the hard limit less the
// spike); GOMEMLIMIT makes the Go collector work harder from 80% on
// (memorylimiterprocessor's README: limit_mib, spike_limit_mib).
func memoryLimiter(memory string) memoryLimit {
	q := resource.MustParse(memory)
	mib := q.Value() >> 20
	return memoryLimit{hardMiB: mib * 80 / 100, spikeMiB: mib * 20 / 100, goLimitMiB: mib * 80 / 100}
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

// uiAuth is the Secret the proxy reads: UIUser's htpasswd entry and the
// session cookies' key, as files.
func (b *builder) uiAuth(id kube.Identity) (pulumi.StringPtrOutput, error) {
	a := b.args.UIAuth
	return b.secret("jaeger-ui-auth", id, pulumi.StringMap{
		"htpasswd":      pulumi.ToSecret(pulumi.Sprintf("%s:%s\n", UIUser, a.PasswordHash)).(pulumi.StringOutput),
		"cookie-secret": pulumi.ToSecret(a.CookieSecret).(pulumi.StringOutput),
	})
}

// uiAuthProxy is OAuth2 Proxy (v7.15.6) in front of Jaeger's query server:
// a request passes with UIUser's password, as HTTP Basic credentials (an
// API client) or through its sign-in form (a browser, which then holds a
// session cookie); anything else gets 401 on the API and the sign-in page
// with 403 elsewhere. It reads
// its secrets from files (--htpasswd-file, --cookie-secret-file), never
// from arguments. The OAuth client it requires is a placeholder: single
// sign-on is not set up, the form is the way in.
func (b *builder) uiAuthProxy() *corev1.ContainerArgs {
	c := container("ui-auth", b.args.Jaeger.UIAuthImage, uiAuthSize,
		kube.Probes{Port: jaegerQueryPort, Startup: "/ping", Liveness: "/ping", Readiness: "/ready"})
	security := kube.RestrictedContainerSecurityContext()
	security.RunAsUser, security.RunAsGroup = pulumi.Int(uiAuthUID), pulumi.Int(uiAuthUID)
	c.SecurityContext = security
	args := []string{
		fmt.Sprintf("--http-address=0.0.0.0:%d", jaegerQueryPort),
		fmt.Sprintf("--upstream=http://127.0.0.1:%d/", jaegerQueryLocalPort),
		"--htpasswd-file=" + uiAuthDir + "/htpasswd",
		"--cookie-secret-file=" + uiAuthDir + "/cookie-secret",
		"--cookie-name=_jaeger_ui",
		"--email-domain=*",
		// Jaeger's API answers a client without credentials 401, not the
		// sign-in page.
		"--api-route=^/api/",
		"--client-id=single-sign-on-not-set-up",
		"--client-secret=single-sign-on-not-set-up",
		"--provider-display-name=single sign-on (not set up)",
		"--silence-ping-logging",
	}
	if b.args.Jaeger.UI.Ingress != nil {
		// Behind the ingress controller: the client's address and the
		// scheme come from its X-Forwarded headers.
		args = append(args, "--reverse-proxy")
	}
	c.Args = pulumi.ToStringArray(args)
	c.Ports = ports(map[string]int{"query": jaegerQueryPort})
	c.VolumeMounts = corev1.VolumeMountArray{mount("ui-auth", uiAuthDir, true)}
	return c
}

// uiAuthSize is the proxy's: it holds no state.
var uiAuthSize = Size{CPU: "50m", Memory: "64Mi"}
