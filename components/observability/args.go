package observability

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/validate"
)

// Args describes the observability stack of one environment. The JSON names
// are the keys of stack config platform:observability; zero values take the
// defaults of Defaults, which depend on HighAvailability.
type Args struct {
	// Environment is dev, prod or local; it labels every object and every log event.
	Environment string `json:"-"`
	// HighAvailability picks the prod shape: three Kafka brokers and three
	// Elasticsearch nodes, two replicas of the rest spread over zones,
	// Elasticsearch security on, Logstash's persistent queue, traces in Elasticsearch.
	HighAvailability bool `json:"-" package:"highAvailability"`
	// Protect guards the namespaces and the stateful sets against deletion and
	// keeps their volumes when a stateful set is deleted or scaled down.
	Protect bool `json:"-" package:"protect"`

	// Namespace of the pipeline and the UIs (default "observability"); it
	// enforces Pod Security "restricted".
	Namespace string `json:"namespace,omitempty"`
	// AgentsNamespace holds the node agents (default "observability-agents"):
	// Filebeat reads the nodes' log files through hostPath volumes, which only
	// Pod Security "privileged" admits, so they live apart from the rest.
	AgentsNamespace string `json:"agentsNamespace,omitempty"`

	Kafka         Kafka         `json:"kafka"`
	Elasticsearch Elasticsearch `json:"elasticsearch"`
	Logstash      Logstash      `json:"logstash"`
	Kibana        Kibana        `json:"kibana"`
	Jaeger        Jaeger        `json:"jaeger"`
	Filebeat      Filebeat      `json:"filebeat"`

	// Recreate names the stateful parts (kafka, elasticsearch, logstash)
	// that this run deletes and makes anew with their claims, for a change
	// that a running part cannot take (another storage class, a smaller
	// claim, another broker count): their data is gone. Only where nothing
	// is protected (dev, local), and only for a part with such a change, so
	// the key serves one run and is refused after it.
	Recreate []string `json:"recreate,omitempty"`

	// DNS is how the cluster's pods look names up (the stack's
	// platform:kubernetes.dns): the policies allow it, and the parts name
	// each other under its domain (so do the certificates).
	DNS kube.DNS `json:"-" package:"dns"`
	// TelemetryFrom names the namespaces whose pods may send traces (OTLP) to
	// Jaeger: the services' namespaces.
	TelemetryFrom []string `json:"-" package:"telemetryFrom"`
	// ElasticPassword is the password of the "elastic" superuser, required
	// when Elasticsearch security is on; the component keeps it a Pulumi
	// secret wherever it goes. Only the setup Job and the Elasticsearch
	// nodes get it.
	ElasticPassword pulumi.StringInput `json:"-" package:"elasticPassword,secret"`
	// Credentials are the service users' passwords and Kibana's encryption
	// keys, each its own random secret, required when Elasticsearch
	// security is on.
	Credentials *Credentials `json:"-" package:"credentials,secret"`
	// UIAuth is what Jaeger's UI asks of a person or a client (the proxy in
	// front of it): required.
	UIAuth *UIAuth `json:"-" package:"uiAuth,secret"`
	// TLS is the servers' certificates, required when Elasticsearch
	// security or Kafka TLS is on.
	TLS *TLS `json:"-" package:"tls,secret"`
	// Deployed is what the stack's last run deployed of each stateful part
	// (its output deployed; nil on a first run): Validate refuses the
	// changes a running part cannot take.
	Deployed map[string]Deployed `json:"-"`
}

// TLS is the PEM material of the stack's TLS servers, as Pulumi secrets: the
// CA every client trusts, and a certificate and key for Elasticsearch's HTTP
// and transport layers and for Kafka's listeners. They come from stack
// config, so they stay the same from one run to the next (see NewCertificates).
type TLS struct {
	CA                   pulumi.StringInput
	Elasticsearch, Kafka KeyPair
	// KafkaFilebeat, KafkaLogstash and KafkaSetup are the certificates that
	// Kafka's clients authenticate with (Filebeat, Logstash, the topic Job).
	KafkaFilebeat, KafkaLogstash, KafkaSetup KeyPair
}

// kafkaComplete says whether t holds what Kafka's TLS needs: the CA, the
// brokers' key pair and every client's (kafkaClients).
func (t *TLS) kafkaComplete() bool {
	if t == nil || t.CA == nil || !t.Kafka.complete() {
		return false
	}
	for _, client := range kafkaClients {
		if !t.kafkaClient(client.name).complete() {
			return false
		}
	}
	return true
}

// kafkaClient is the key pair of a Kafka client, by its principal's name.
func (t *TLS) kafkaClient(name string) KeyPair {
	return map[string]KeyPair{filebeatPrincipal: t.KafkaFilebeat, logstashPrincipal: t.KafkaLogstash, kafkaSetupPrincipal: t.KafkaSetup}[name]
}

// KeyPair is a server's PEM certificate and private key.
type KeyPair struct {
	Certificate, Key pulumi.StringInput
}

func (k KeyPair) complete() bool { return k.Certificate != nil && k.Key != nil }

// Size is a container's CPU and memory. Requests and limits are the same for
// memory (the JVMs size their heap from it); the CPU limit is CPULimit or
// twice the request.
type Size struct {
	CPU      string `json:"cpu,omitempty"`
	Memory   string `json:"memory,omitempty"`
	CPULimit string `json:"cpuLimit,omitempty"`
}

// Storage is a persistent volume claim per pod.
type Storage struct {
	// Size as a Kubernetes quantity, e.g. 50Gi.
	Size string `json:"size,omitempty"`
	// Class is the StorageClass; empty: the cluster's default. In prod use a
	// class with reclaimPolicy Retain, so a deleted claim keeps its volume.
	Class string `json:"class,omitempty"`
}

// Kafka is the log buffer between Filebeat and Logstash, in KRaft mode: every
// node is broker and controller, no ZooKeeper.
type Kafka struct {
	Image             string `json:"image,omitempty"`
	Brokers           int    `json:"brokers,omitempty"`
	Partitions        int    `json:"partitions,omitempty"`
	ReplicationFactor int    `json:"replicationFactor,omitempty"`
	MinInsyncReplicas int    `json:"minInsyncReplicas,omitempty"`
	RetentionHours    int    `json:"retentionHours,omitempty"`
	// TLS encrypts every connection to the brokers, and between them, with
	// the certificates `platform certs` makes (default: prod only; prod
	// cannot turn it off). Filebeat, Logstash and the topic Job verify the
	// brokers against the stack's CA.
	TLS       bool           `json:"tls"`
	Storage   Storage        `json:"storage"`
	Size      Size           `json:"size"`
	Placement kube.Placement `json:"placement"`
}

// Elasticsearch stores the logs (and prod's traces).
type Elasticsearch struct {
	Image string `json:"image,omitempty"`
	// Nodes are master-eligible data nodes: 1, or an odd number >= 3.
	Nodes   int     `json:"nodes,omitempty"`
	Storage Storage `json:"storage"`
	Size    Size    `json:"size"`
	// RetentionDays is how long log indices are kept (default 7, prod 30).
	RetentionDays int `json:"retentionDays,omitempty"`
	// Security turns on TLS and authentication (default: prod only; prod
	// cannot turn it off).
	Security bool `json:"security"`
	// MMap keeps Lucene's memory-mapped store, which needs the nodes'
	// vm.max_map_count raised to 262144: a privileged DaemonSet in the agents
	// namespace sets it (default: prod only). Off, Elasticsearch runs with
	// node.store.allow_mmap: false and needs nothing from the node.
	MMap bool `json:"mmap"`
	// Placement of the nodes, their setup Job and the node tuning.
	Placement kube.Placement `json:"placement"`
}

// Logstash reads the logs from Kafka and writes them to Elasticsearch.
type Logstash struct {
	Image    string `json:"image,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
	// PersistentQueue buffers events on disk (default: prod only).
	PersistentQueue bool           `json:"persistentQueue"`
	QueueStorage    Storage        `json:"queueStorage"`
	Size            Size           `json:"size"`
	Placement       kube.Placement `json:"placement"`
}

// UI is how people reach a web UI: from the namespaces named, and through an
// Ingress when a host is given.
type UI struct {
	AllowFrom []string      `json:"allowFrom,omitempty"`
	Ingress   *kube.Ingress `json:"ingress,omitempty"`
}

// Kibana is the log UI.
type Kibana struct {
	Image     string         `json:"image,omitempty"`
	Replicas  int            `json:"replicas,omitempty"`
	Size      Size           `json:"size"`
	UI        UI             `json:"ui"`
	Placement kube.Placement `json:"placement"`
}

// Jaeger is the tracing backend (Jaeger v2, built on the OpenTelemetry
// Collector): OTLP in, storage, query UI.
type Jaeger struct {
	Image    string `json:"image,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
	// Storage is "memory" (default; one replica, traces lost on restart) or
	// "elasticsearch" (default in prod).
	Storage string `json:"storage,omitempty"`
	// RetentionDays of trace indices in Elasticsearch (default the log retention).
	RetentionDays int `json:"retentionDays,omitempty"`
	// IndexCleanerImage removes trace indices older than RetentionDays, daily.
	IndexCleanerImage string `json:"indexCleanerImage,omitempty"`
	// UIAuthImage is the proxy in front of the query UI and API, in
	// Jaeger's pods: every request needs UIUser's password (UIAuth).
	UIAuthImage string `json:"uiAuthImage,omitempty"`
	Size        Size   `json:"size"`
	UI          UI     `json:"ui"`
	// Placement of the collector and query pods (the index cleaner, a
	// client of Elasticsearch, goes with Elasticsearch's placement).
	Placement kube.Placement `json:"placement"`
}

// Filebeat ships every container's log lines to Kafka, one pod per node.
type Filebeat struct {
	Image string `json:"image,omitempty"`
	Size  Size   `json:"size"`
	// Placement narrows the nodes Filebeat runs on (by default every node,
	// tainted ones too); its tolerations add to that default.
	Placement kube.Placement `json:"placement"`
}

// The pinned images. Each is overridable in config; the Elastic stack's
// parts share one version.
const (
	elasticVersion           = "8.19.3"
	DefaultKafkaImage        = "apache/kafka:4.1.0"
	DefaultElasticImage      = "docker.elastic.co/elasticsearch/elasticsearch:" + elasticVersion
	DefaultLogstashImage     = "docker.elastic.co/logstash/logstash:" + elasticVersion
	DefaultKibanaImage       = "docker.elastic.co/kibana/kibana:" + elasticVersion
	DefaultFilebeatImage     = "docker.elastic.co/beats/filebeat:" + elasticVersion
	DefaultJaegerImage       = "jaegertracing/jaeger:2.10.0"
	DefaultIndexCleanerImage = "jaegertracing/jaeger-es-index-cleaner:1.73.0"
	DefaultSysctlImage       = "busybox:1.37.0"
	DefaultUIAuthImage       = "quay.io/oauth2-proxy/oauth2-proxy:v7.15.6"
)

// Jaeger storage backends.
const (
	StorageMemory        = "memory"
	StorageElasticsearch = "elasticsearch"
)

// Profile returns the defaults of an environment's observability stack (dev,
// prod or local; any other gets dev's): the one table of them. dev and local
// are small, one of each part; prod is highly available and protected. A
// stack's config is decoded over it, so an unset key keeps its default.
func Profile(environment string) Args {
	if environment == component.Prod {
		return Args{
			Environment: environment, HighAvailability: true, Protect: true,
			Namespace: "observability", AgentsNamespace: "observability-agents",
			Kafka: Kafka{
				Image: DefaultKafkaImage, Brokers: 3, Partitions: 6, ReplicationFactor: 3, MinInsyncReplicas: 2,
				RetentionHours: 72, TLS: true, Storage: Storage{Size: "50Gi"}, Size: Size{CPU: "1", Memory: "4Gi"},
			},
			Elasticsearch: Elasticsearch{
				Image: DefaultElasticImage, Nodes: 3, Storage: Storage{Size: "100Gi"}, Size: Size{CPU: "2", Memory: "8Gi"},
				RetentionDays: 30, Security: true, MMap: true,
			},
			Logstash: Logstash{
				Image: DefaultLogstashImage, Replicas: 2, PersistentQueue: true, QueueStorage: Storage{Size: "10Gi"},
				Size: Size{CPU: "1", Memory: "2Gi"},
			},
			Kibana: Kibana{Image: DefaultKibanaImage, Replicas: 2, Size: Size{CPU: "500m", Memory: "2Gi"}},
			Jaeger: Jaeger{
				Image: DefaultJaegerImage, IndexCleanerImage: DefaultIndexCleanerImage, UIAuthImage: DefaultUIAuthImage, Replicas: 2,
				Storage: StorageElasticsearch, RetentionDays: 30, Size: Size{CPU: "500m", Memory: "1Gi"},
			},
			Filebeat: Filebeat{Image: DefaultFilebeatImage, Size: Size{CPU: "100m", Memory: "256Mi"}},
		}
	}
	return Args{
		Environment: environment,
		Namespace:   "observability", AgentsNamespace: "observability-agents",
		Kafka: Kafka{
			Image: DefaultKafkaImage, Brokers: 1, Partitions: 3, ReplicationFactor: 1, MinInsyncReplicas: 1,
			RetentionHours: 24, Storage: Storage{Size: "5Gi"}, Size: Size{CPU: "250m", Memory: "1Gi"},
		},
		Elasticsearch: Elasticsearch{
			Image: DefaultElasticImage, Nodes: 1, Storage: Storage{Size: "10Gi"}, Size: Size{CPU: "500m", Memory: "2Gi"},
			RetentionDays: 7,
		},
		Logstash: Logstash{
			Image: DefaultLogstashImage, Replicas: 1, QueueStorage: Storage{Size: "5Gi"}, Size: Size{CPU: "250m", Memory: "1Gi"},
		},
		Kibana: Kibana{Image: DefaultKibanaImage, Replicas: 1, Size: Size{CPU: "250m", Memory: "1Gi"}},
		Jaeger: Jaeger{
			Image: DefaultJaegerImage, IndexCleanerImage: DefaultIndexCleanerImage, UIAuthImage: DefaultUIAuthImage, Replicas: 1,
			Storage: StorageMemory, RetentionDays: 7, Size: Size{CPU: "100m", Memory: "256Mi"},
		},
		Filebeat: Filebeat{Image: DefaultFilebeatImage, Size: Size{CPU: "50m", Memory: "128Mi"}},
	}
}

// Defaults returns the arguments as they are: every default comes from
// Profile, and no field derives from another.
func (a Args) Defaults() Args { return a }

// NeedsProvider is true: every object goes to the cluster the provider names.
func (Args) NeedsProvider() bool { return true }

// resources are the container's requests and limits.
func (s Size) resources() kube.Resources {
	limit := s.CPULimit
	if limit == "" {
		q := resource.MustParse(s.CPU)
		limit = resource.NewMilliQuantity(2*q.MilliValue(), resource.DecimalSI).String()
	}
	return kube.Resources{
		Requests: kube.Quantities{CPU: s.CPU, Memory: s.Memory},
		Limits:   kube.Quantities{CPU: limit, Memory: s.Memory},
	}
}

// Validate reports every problem with defaulted arguments at once, one per
// line: the config key under platform:observability, the value and what is allowed.
func (a Args) Validate() validate.Problems {
	var p validate.Problems
	a.validateChanges(&p)
	p.Nest("dns", a.DNS.Validate())
	for key, ns := range map[string]string{"namespace": a.Namespace, "agentsNamespace": a.AgentsNamespace} {
		if !kube.IsDNSLabel(ns) {
			p.Add(key, ns, "must be a namespace name (a DNS label)")
		}
	}
	if a.Namespace == a.AgentsNamespace {
		p.Add("agentsNamespace", a.AgentsNamespace, "must differ from namespace: the agents need Pod Security \"privileged\", the rest runs \"restricted\"")
	}
	images := map[string]string{
		"kafka.image": a.Kafka.Image, "elasticsearch.image": a.Elasticsearch.Image, "logstash.image": a.Logstash.Image,
		"kibana.image": a.Kibana.Image, "jaeger.image": a.Jaeger.Image, "jaeger.indexCleanerImage": a.Jaeger.IndexCleanerImage,
		"jaeger.uiAuthImage": a.Jaeger.UIAuthImage, "filebeat.image": a.Filebeat.Image,
	}
	for key, ref := range images {
		if err := kube.ValidateImageReference(ref); err != nil {
			p.Add(key, ref, err.Error())
		}
	}

	for key, placement := range map[string]kube.Placement{
		"kafka.placement": a.Kafka.Placement, "elasticsearch.placement": a.Elasticsearch.Placement,
		"logstash.placement": a.Logstash.Placement, "kibana.placement": a.Kibana.Placement,
		"jaeger.placement": a.Jaeger.Placement, "filebeat.placement": a.Filebeat.Placement,
	} {
		p.Nest(key, placement.Validate())
	}

	k := a.Kafka
	atLeast(&p, "kafka.brokers", k.Brokers, 1)
	atLeast(&p, "kafka.partitions", k.Partitions, 1)
	atLeast(&p, "kafka.retentionHours", k.RetentionHours, 1)
	if k.ReplicationFactor < 1 || k.ReplicationFactor > k.Brokers {
		p.Add("kafka.replicationFactor", k.ReplicationFactor, fmt.Sprintf("must be from 1 to kafka.brokers (%d): each replica needs its own broker", k.Brokers))
	}
	if k.MinInsyncReplicas < 1 || k.MinInsyncReplicas > k.ReplicationFactor {
		p.Add("kafka.minInsyncReplicas", k.MinInsyncReplicas, fmt.Sprintf("must be from 1 to kafka.replicationFactor (%d)", k.ReplicationFactor))
	}
	if k.Brokers > 1 && k.Brokers%2 == 0 {
		p.Add("kafka.brokers", k.Brokers, "must be odd: every broker is also a KRaft controller, and an even quorum tolerates no more failures than the odd one below it")
	}

	e := a.Elasticsearch
	switch {
	case e.Nodes < 1:
		p.Add("elasticsearch.nodes", e.Nodes, "must be at least 1")
	case e.Nodes%2 == 0:
		p.Add("elasticsearch.nodes", e.Nodes, "must be odd: all nodes are master-eligible, and an even number of them splits no better than one fewer")
	}
	atLeast(&p, "elasticsearch.retentionDays", e.RetentionDays, 1)
	atLeast(&p, "jaeger.retentionDays", a.Jaeger.RetentionDays, 1)
	atLeast(&p, "logstash.replicas", a.Logstash.Replicas, 1)
	atLeast(&p, "kibana.replicas", a.Kibana.Replicas, 1)
	atLeast(&p, "jaeger.replicas", a.Jaeger.Replicas, 1)

	if a.HighAvailability {
		if e.Nodes < 3 {
			p.Add("elasticsearch.nodes", e.Nodes, "must be at least 3 in a highly available environment (prod): a quorum of masters survives one node")
		}
		if k.Brokers < 3 {
			p.Add("kafka.brokers", k.Brokers, "must be at least 3 in a highly available environment (prod)")
		}
		if !e.Security {
			p.Add("elasticsearch.security", false, "must be on in a highly available environment (prod): TLS and authentication")
		}
		if !k.TLS {
			p.Add("kafka.tls", false, "must be on in a highly available environment (prod): the logs cross nodes and zones")
		}
	}
	if e.Security {
		if a.ElasticPassword == nil {
			p.Add("elasticsearch.passwordSecret", "", "is required when security is on: the secret config key holding the elastic user's password")
		}
		if a.Credentials == nil || !a.Credentials.complete() {
			p.Add("elasticsearch.credentials", "", "are required when security is on: the service users' passwords and Kibana's encryption keys (see `platform certs`)")
		}
		if a.TLS == nil || a.TLS.CA == nil || !a.TLS.Elasticsearch.complete() {
			p.Add("elasticsearch.tls", "", "is required when security is on: CA, certificate and key (see `platform certs`)")
		}
	}
	if !a.UIAuth.complete() {
		p.Add("jaeger.ui.auth", "", "is required: the hash of the UI password and the session cookies' key (see `platform certs`)")
	}
	if a.Kibana.UI.Ingress != nil && !e.Security {
		p.Add("kibana.ui.ingress.host", a.Kibana.UI.Ingress.Host, "needs elasticsearch.security on: without it Kibana asks no one for a password, and anyone reaching the host reads, writes and deletes every index")
	}
	if k.TLS && !a.TLS.kafkaComplete() {
		p.Add("kafka.tls", true, "needs the CA, Kafka's certificate and key and its clients' (see `platform certs`)")
	}

	switch a.Jaeger.Storage {
	case StorageMemory:
		if a.Jaeger.Replicas != 1 {
			p.Add("jaeger.replicas", a.Jaeger.Replicas, "must be 1 with memory storage: each replica would hold different traces")
		}
		if m, err := resource.ParseQuantity(a.Jaeger.Size.Memory); err == nil && m.Cmp(resource.MustParse(minMemoryStorage)) < 0 {
			p.Add("jaeger.size.memory", a.Jaeger.Size.Memory, "must be at least "+minMemoryStorage+" with memory storage: Jaeger itself takes about 40Mi, and the traces 40% of the limit")
		}
	case StorageElasticsearch:
	default:
		p.Add("jaeger.storage", a.Jaeger.Storage, "must be memory or elasticsearch")
	}

	for key, q := range map[string]string{
		"kafka.storage.size": k.Storage.Size, "elasticsearch.storage.size": e.Storage.Size,
		"logstash.queueStorage.size": a.Logstash.QueueStorage.Size,
	} {
		positiveQuantity(&p, key, q)
	}
	for part, s := range map[string]Size{
		"kafka": k.Size, "elasticsearch": e.Size, "logstash": a.Logstash.Size,
		"kibana": a.Kibana.Size, "jaeger": a.Jaeger.Size, "filebeat": a.Filebeat.Size,
	} {
		positiveQuantity(&p, part+".size.cpu", s.CPU)
		positiveQuantity(&p, part+".size.memory", s.Memory)
		if s.CPULimit != "" && positiveQuantity(&p, part+".size.cpuLimit", s.CPULimit) {
			if l, r := resource.MustParse(s.CPULimit), parseOrZero(s.CPU); l.Cmp(r) < 0 {
				p.Add(part+".size.cpuLimit", s.CPULimit, fmt.Sprintf("must be at least the CPU request %q", s.CPU))
			}
		}
	}
	validateUI(&p, "kibana.ui", a.Kibana.UI)
	validateUI(&p, "jaeger.ui", a.Jaeger.UI)
	for i, ns := range a.TelemetryFrom {
		if !kube.IsDNSLabel(ns) {
			p.Add(fmt.Sprintf("telemetryFrom[%d]", i), ns, "must be a namespace name")
		}
	}
	return p
}

// parseOrZero is the quantity, or zero if it is not one (reported elsewhere).
func parseOrZero(s string) resource.Quantity {
	q, _ := resource.ParseQuantity(s)
	return q
}

func atLeast(p *validate.Problems, key string, value, least int) {
	if value < least {
		p.Add(key, value, fmt.Sprintf("must be at least %d", least))
	}
}

func positiveQuantity(p *validate.Problems, key, value string) bool {
	q, err := resource.ParseQuantity(value)
	if err != nil || q.Sign() <= 0 {
		p.Add(key, value, "must be a positive Kubernetes quantity such as 500m, 2Gi or 50Gi")
		return false
	}
	return true
}

func validateUI(p *validate.Problems, key string, ui UI) {
	for i, ns := range ui.AllowFrom {
		if !kube.IsDNSLabel(ns) {
			p.Add(fmt.Sprintf("%s.allowFrom[%d]", key, i), ns, "must be a namespace name")
		}
	}
	if in := ui.Ingress; in != nil {
		p.Nest(key+".ingress", in.Validate())
	}
}
