package observability

import (
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const (
	elasticPort          = 9200
	elasticTransportPort = 9300
	// elasticUID is the user of the Elastic images (Elasticsearch, Logstash, Kibana).
	elasticUID = 1000
	// LogsPolicy is the index lifecycle policy of the log data streams.
	LogsPolicy = "platform-logs"
	// LogsDataset is the data stream dataset of the services' logs:
	// logs-platform-<environment>.
	LogsDataset = "platform"
	// certsDir is where clients find the CA certificate (ca.crt).
	certsDir = "/etc/elasticsearch-ca"
)

// The service users the setup Job creates; their passwords derive from the
// elastic password.
const (
	kibanaUser   = "kibana_system"
	logstashUser = "logstash_writer"
	jaegerUser   = "jaeger_writer"
)

func (b *builder) elasticID() kube.Identity      { return b.id("elasticsearch", "storage") }
func (b *builder) elasticSetupID() kube.Identity { return b.id("elasticsearch-setup", "setup") }

func (b *builder) elasticURL() string {
	scheme := "http"
	if b.secure() {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s:%d", scheme, b.host("elasticsearch"), elasticPort)
}

// elasticsearch declares the nodes, their Services and a setup Job that
// creates the log lifecycle policy, the index template and the service users.
func (b *builder) elasticsearch() error {
	e := b.args.Elasticsearch
	id := b.elasticID()
	config, err := b.configMap("elasticsearch", id, map[string]string{"elasticsearch.yml": b.elasticConfig()}, b.in)
	if err != nil {
		return err
	}
	volumes := corev1.VolumeArray{
		configMapVolume("settings", config), emptyDir("config", "64Mi"), emptyDir("logs", "1Gi"), emptyDir("tmp", "1Gi"),
	}
	mounts := corev1.VolumeMountArray{
		mount("config", "/usr/share/elasticsearch/config", false), mount("data", elasticDataDir, false),
		mount("logs", "/usr/share/elasticsearch/logs", false), mount("tmp", "/tmp", false),
	}
	c := container("elasticsearch", e.Image, e.Size, kube.Probes{Port: elasticPort, ReadinessCommand: b.elasticReadiness(), StartupSeconds: 300})
	c.Ports = ports(map[string]int{"http": elasticPort, "transport": elasticTransportPort})
	podEnv := corev1.EnvVarArray{envFromField("POD_NAME", "metadata.name"), env("ES_JAVA_OPTS", pulumi.String(heapOptions(e.Size.Memory)+" "+elasticJVMLogging))}
	var setupEnv corev1.EnvVarArray
	if b.secure() {
		tls, err := b.secret("elasticsearch-tls", id, pulumi.StringMap{
			"ca.crt":  pulumi.ToSecret(b.args.TLS.CA).(pulumi.StringOutput),
			"tls.crt": pulumi.ToSecret(b.args.TLS.Elasticsearch.Certificate).(pulumi.StringOutput),
			"tls.key": pulumi.ToSecret(b.args.TLS.Elasticsearch.Key).(pulumi.StringOutput),
		})
		if err != nil {
			return err
		}
		users := pulumi.StringMap{"elastic": pulumi.ToSecret(b.args.ElasticPassword).(pulumi.StringOutput)}
		for _, user := range []string{kibanaUser, logstashUser, jaegerUser} {
			users[user] = b.args.Credentials.password(user)
		}
		passwords, err := b.secret("elasticsearch-users", b.elasticSetupID(), users)
		if err != nil {
			return err
		}
		volumes = append(volumes, secretVolume("certs", tls), &corev1.VolumeArgs{
			Name: pulumi.String("bootstrap"),
			Secret: &corev1.SecretVolumeSourceArgs{SecretName: passwords, DefaultMode: pulumi.Int(0o440), Items: corev1.KeyToPathArray{
				&corev1.KeyToPathArgs{Key: pulumi.String("elastic"), Path: pulumi.String("password")},
			}},
		})
		mounts = append(mounts, mount("certs", "/usr/share/elasticsearch/config/certs", true))
		setupEnv = corev1.EnvVarArray{envFromSecret("ELASTIC_PASSWORD", passwords, "elastic")}
		for _, user := range []string{kibanaUser, logstashUser, jaegerUser} {
			setupEnv = append(setupEnv, envFromSecret(strings.ToUpper(user)+"_PASSWORD", passwords, user))
		}
	}
	c.Env = podEnv
	c.VolumeMounts = mounts
	prepare := task("prepare-config", e.Image, taskSize)
	prepare.Command = pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(b.elasticPrepareScript())}
	prepareMounts := corev1.VolumeMountArray{
		mount("config", "/config", false), mount("settings", "/settings", true), mount("data", elasticDataDir, true),
	}
	if b.secure() {
		// elasticsearch-keystore is a JVM: more than a shell script's taskSize.
		prepare.Resources = Size{CPU: "100m", Memory: "256Mi"}.resources().Args()
		prepareMounts = append(prepareMounts, mount("bootstrap", elasticBootstrapDir, true))
	}
	prepare.VolumeMounts = prepareMounts
	inits := corev1.ContainerArray{prepare}
	if e.MMap {
		// Memory-mapped storage needs the node tuned first (node-tuning
		// DaemonSet): wait for it rather than crash-loop on the bootstrap check.
		wait := task("wait-for-node-tuning", e.Image, taskSize)
		wait.Command = pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(fmt.Sprintf(
			`until [ "$(cat /proc/sys/vm/max_map_count)" -ge %d ]; do echo "waiting for vm.max_map_count >= %d (node-tuning)"; sleep 5; done`,
			maxMapCount, maxMapCount))}
		inits = append(corev1.ContainerArray{wait}, inits...)
	}
	template := pod{
		id: id, uid: elasticUID, containers: corev1.ContainerArray{c}, initContainers: inits,
		volumes: volumes, spread: b.args.HighAvailability, graceSeconds: 120, placement: e.Placement,
	}.template()

	clients := networkingv1.NetworkPolicyPeerArray{
		b.peer(id), b.peer(b.elasticSetupID()), b.peer(b.logstashID()), b.peer(b.kibanaID()),
	}
	if b.args.Jaeger.Storage == StorageElasticsearch {
		clients = append(clients, b.peer(b.jaegerID()), b.peer(b.indexCleanerID()))
	}
	sts, err := b.cluster("elasticsearch", id, e.Nodes, template, e.Storage,
		clusterPorts{client: "http", clientPort: elasticPort, peer: "transport", peerPort: elasticTransportPort}, clients)
	if err != nil {
		return err
	}
	return b.elasticSetup(sts, setupEnv)
}

// elasticReadiness is ready when the cluster is healthy enough, as the node
// sees it (local=true: no master round trip): a node that has just started
// waits for green (yellow alone on one node, whose replicas have nowhere to
// go), so a rolling restart or a drain moves on only once the shards have
// recovered; after that, at least yellow. That is Elastic's own Helm chart's
// readiness (elastic/helm-charts elasticsearch/templates/statefulset.yaml:
// wait_for_status=green&timeout=1s until a start file exists, which lives in
// the pod's /tmp, so a new pod waits again); Elasticsearch answers 408 when
// the wait times out, which curl --fail counts as a failure.
//
// curl is the image's. With security on, the password comes from the file
// the prepare step leaves in the config folder (elasticPasswordFile) and the
// CA from the certs folder, never from the pod spec; they reach curl as a
// config on its standard input (`-K -`: an Authorization header, the user and
// password base64-encoded by coreutils' base64 from its stdin), so no
// process's arguments, readable by every user of the node in
// /proc/<pid>/cmdline, ever hold the password (printf is the shell's
// builtin, cat reads the file; the shell's own arguments hold the script,
// unexpanded).
func (b *builder) elasticReadiness() []string {
	base := fmt.Sprintf("http://localhost:%d", elasticPort)
	curl := fmt.Sprintf("curl --silent --fail --max-time %d", kube.ExecRequestSeconds)
	if b.secure() {
		base = fmt.Sprintf("https://localhost:%d", elasticPort)
		curl = `printf 'header = "Authorization: Basic %s"\n' "$({ printf 'elastic:'; cat ` + elasticPasswordFile + `; } | base64 -w0)" | ` +
			curl + ` -K - --cacert /usr/share/elasticsearch/config/certs/ca.crt`
	}
	first := "green"
	if b.args.Elasticsearch.Nodes == 1 {
		first = "yellow"
	}
	check := fmt.Sprintf(`want=yellow; [ -e %[1]s ] || want=%[2]s; %[3]s "%[4]s/_cluster/health?local=true&wait_for_status=$want&timeout=1s" >/dev/null && touch %[1]s`,
		elasticStartedFile, first, curl, base)
	if b.args.Elasticsearch.Nodes > 1 {
		// Once the node reports a cluster UUID it has been part of a formed
		// cluster: record it on the data volume, so that restarts start
		// without cluster.initial_master_nodes (see elasticPrepareScript).
		// A UUID may begin with any base64url character; "_na_" means none.
		check += fmt.Sprintf(` && { [ -e %[1]s ] || { root=$(%[2]s '%[3]s/') && echo "$root" | grep -q '"cluster_uuid"' && ! echo "$root" | grep -q '"_na_"' && touch %[1]s; } || true; }`,
			clusterFormedMarker, curl, base)
	}
	return []string{"/bin/sh", "-c", check}
}

// elasticJVMLogging sends the JVM's own logging to stderr, warnings only:
// the image's jvm.options writes GC logs to logs/gc.log, up to 32 x 64 MB
// ("can consume up to 2 GB", Elastic's GC logging docs), into a 1 GiB
// emptyDir; -Xlog:disable first turns that off, as the docs' Docker example
// does. Elasticsearch's own logs go to the console in its image.
const elasticJVMLogging = "-Xlog:disable -Xlog:all=warning:stderr:utctime,level,tags"

// elasticStartedFile says the node has been ready once since its pod
// started: on the pod's /tmp emptyDir, kept over a container restart, new
// with every pod.
const elasticStartedFile = "/tmp/.platform-started"

// The elastic user's password: mounted for the prepare step alone, which
// copies it into the config folder (elasticPasswordFile) for the probe.
const (
	elasticBootstrapDir     = "/etc/elasticsearch-bootstrap"
	elasticPasswordFileName = "bootstrap-password"
	elasticPasswordFile     = "/usr/share/elasticsearch/config/" + elasticPasswordFileName
	elasticKeystoreTool     = "/usr/share/elasticsearch/bin/elasticsearch-keystore"
)

// elasticDataDir is where Elasticsearch keeps its data: the claim.
const elasticDataDir = "/usr/share/elasticsearch/data"

// clusterFormedMarker says, on the data volume, that this node has been part
// of a formed cluster.
const clusterFormedMarker = elasticDataDir + "/.platform-cluster-formed"

// elasticPrepareScript copies the image's config folder to a writable volume
// and puts elasticsearch.yml in it. Elasticsearch writes its keystore there,
// and the root filesystem is read-only. Plain cp -R: as UID 1000 without
// capabilities, cp -a cannot give the kubelet's root-owned emptyDir the times
// and mode of the source folder, and fails.
//
// A cluster of several nodes bootstraps with cluster.initial_master_nodes,
// which Elastic says to remove once the cluster has formed ("Important
// discovery and cluster formation settings", 8.19): it is added only while
// the node's data volume has no clusterFormedMarker, which readiness writes
// once the node reports a cluster UUID.
func (b *builder) elasticPrepareScript() string {
	script := "cp -R /usr/share/elasticsearch/config/. /config/ && cp /settings/elasticsearch.yml /config/elasticsearch.yml"
	if b.secure() {
		// The elastic user's password reaches Elasticsearch as the
		// keystore's bootstrap.password, which it authenticates the user
		// with while the security index holds no password of its own, and
		// the readiness probe as a file of the config folder: both copies
		// made at the pod's start, so they agree until the next, and the
		// node's environment holds no password. The image's entrypoint
		// would set it from ELASTIC_PASSWORD (or ELASTIC_PASSWORD_FILE,
		// which elasticsearch-env-from-file exports into the environment
		// of Elasticsearch itself: elastic/elasticsearch
		// distribution/docker/src/docker/bin/docker-entrypoint.sh).
		// elasticsearch-keystore add -x reads the value from stdin.
		script += fmt.Sprintf(" && cp %[1]s/password %[2]s && chmod 0400 %[2]s"+
			" && { [ -f /config/elasticsearch.keystore ] || ES_PATH_CONF=/config %[3]s create; }"+
			" && ES_PATH_CONF=/config %[3]s add -x -f bootstrap.password < %[1]s/password",
			elasticBootstrapDir, "/config/"+elasticPasswordFileName, elasticKeystoreTool)
	}
	e := b.args.Elasticsearch
	if e.Nodes == 1 {
		return script
	}
	var masters []string
	for i := range e.Nodes {
		masters = append(masters, fmt.Sprintf("elasticsearch-%d", i))
	}
	return script + fmt.Sprintf(" && { [ -e %s ] || echo 'cluster.initial_master_nodes: [%s]' >> /config/elasticsearch.yml; }",
		clusterFormedMarker, strings.Join(masters, ", "))
}

// elasticConfig is elasticsearch.yml.
func (b *builder) elasticConfig() string {
	e := b.args.Elasticsearch
	var s strings.Builder
	fmt.Fprintf(&s, "cluster.name: platform-%s\nnode.name: ${POD_NAME}\nnetwork.host: 0.0.0.0\n", b.args.Environment)
	if e.Nodes == 1 {
		s.WriteString("discovery.type: single-node\n")
	} else {
		// cluster.initial_master_nodes is added by the init script, only
		// until the node has been part of a formed cluster.
		fmt.Fprintf(&s, "discovery.seed_hosts: [%s]\n", b.host("elasticsearch-headless"))
	}
	if !e.MMap {
		s.WriteString("# vm.max_map_count is left as the node has it: no memory-mapped store.\nnode.store.allow_mmap: false\n")
	}
	s.WriteString("xpack.ml.enabled: false\n")
	if !b.secure() {
		s.WriteString("xpack.security.enabled: false\n")
		return s.String()
	}
	s.WriteString(`xpack.security.enabled: true
xpack.security.enrollment.enabled: false
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/tls.key
xpack.security.http.ssl.certificate: certs/tls.crt
xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]
xpack.security.transport.ssl.enabled: true
xpack.security.transport.ssl.verification_mode: certificate
xpack.security.transport.ssl.key: certs/tls.key
xpack.security.transport.ssl.certificate: certs/tls.crt
xpack.security.transport.ssl.certificate_authorities: [certs/ca.crt]
`)
	return s.String()
}

// elasticSetup runs the setup script once Elasticsearch is up, and again
// whenever the script or a password changes.
func (b *builder) elasticSetup(sts pulumi.Resource, secretEnv corev1.EnvVarArray) error {
	e := b.args.Elasticsearch
	id := b.elasticSetupID()
	c := task("setup", e.Image, taskSize)
	c.Command = pulumi.StringArray{pulumi.String("/bin/bash"), pulumi.String("-c"), pulumi.String(b.setupScript())}
	c.Env = append(corev1.EnvVarArray{env("ES_URL", pulumi.String(b.elasticURL()))}, secretEnv...)
	p := pod{id: id, uid: elasticUID, containers: corev1.ContainerArray{c}, placement: e.Placement}
	if b.secure() {
		access, err := b.elasticClient("elasticsearch-setup", id, "")
		if err != nil {
			return err
		}
		c.VolumeMounts = access.mounts
		p.volumes = access.volumes
	}
	job, err := b.job("elasticsearch-setup", id, p, append(b.in, pulumi.DependsOn([]pulumi.Resource{sts})))
	if err != nil {
		return err
	}
	b.elasticReady = job
	return b.policy("elasticsearch-setup", b.args.Namespace, id, nil,
		networkingv1.NetworkPolicyEgressRuleArray{to(networkingv1.NetworkPolicyPeerArray{b.peer(b.elasticID())}, elasticPort)}, b.in)
}

// setupScript is idempotent: it waits for the cluster, puts the lifecycle
// policy (rollover daily, delete after the retention), the index template of
// the platform's log data streams and, with security, the service users.
//
// With security, no credential is ever an argument (readable by every user
// of the node in /proc/<pid>/cmdline): each curl reads a config on its
// standard input (`-K -`) written by bash's printf builtin, holding the
// elastic user's Authorization header (base64 of the password piped into
// base64, not passed to it) and, for a user's password, the request body.
func (b *builder) setupScript() string {
	e := b.args.Elasticsearch
	replicas := min(e.Nodes-1, 1)
	var s strings.Builder
	s.WriteString("set -euo pipefail\nopts=(-sS --fail-with-body -H 'Content-Type: application/json')\n")
	es := `curl "${opts[@]}"`
	if b.secure() {
		fmt.Fprintf(&s, "opts+=(--cacert %s/ca.crt -K -)\nauth=$(printf 'elastic:%%s' \"$ELASTIC_PASSWORD\" | base64 -w0)\n", certsDir)
		es = `printf 'header = "Authorization: Basic %s"\n' "$auth" | ` + es
	}
	fmt.Fprintf(&s, `until %[4]s -o /dev/null "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=10s"; do sleep 5; done
%[4]s -X PUT "$ES_URL/_ilm/policy/%[1]s" -d '{"policy":{"phases":{"hot":{"actions":{"rollover":{"max_age":"1d","max_primary_shard_size":"50gb"}}},"delete":{"min_age":"%[2]dd","actions":{"delete":{}}}}}}'
%[4]s -X PUT "$ES_URL/_index_template/logs-platform" -d '%[5]s'
`, LogsPolicy, e.RetentionDays, replicas, es, logsTemplate(replicas))
	if b.secure() {
		// A password's body is a config line too: data = "{\"password\":\"…\"}".
		withPassword := func(variable string) string {
			return `printf 'header = "Authorization: Basic %s"\ndata = "{\\"password\\":\\"%s\\"%s}"\n' "$auth" "${` + variable + `}"`
		}
		fmt.Fprintf(&s, `%[4]s '' | curl "${opts[@]}" -X POST "$ES_URL/_security/user/%[1]s/_password"
%[7]s -X PUT "$ES_URL/_security/role/%[2]s" -d '{"cluster":["monitor","manage_index_templates","manage_ilm"],"indices":[{"names":[%[8]s],"privileges":["create_doc","create_index","auto_configure","view_index_metadata"]}]}'
%[5]s ',\"roles\":[\"%[2]s\"]' | curl "${opts[@]}" -X PUT "$ES_URL/_security/user/%[2]s"
%[7]s -X PUT "$ES_URL/_security/role/%[3]s" -d '{"cluster":["monitor","manage_index_templates"],"indices":[{"names":["jaeger-*"],"privileges":["all"]}]}'
%[6]s ',\"roles\":[\"%[3]s\"]' | curl "${opts[@]}" -X PUT "$ES_URL/_security/user/%[3]s"
`, kibanaUser, logstashUser, jaegerUser, withPassword("KIBANA_SYSTEM_PASSWORD"), withPassword("LOGSTASH_WRITER_PASSWORD"), withPassword("JAEGER_WRITER_PASSWORD"), es, logsPatterns)
	}
	return s.String()
}

// logsTemplate is the index template of the log data streams, the
// services' and the dead letters'. A service's JSON line is parsed into
// app, which is mapped flattened (Elasticsearch reference 8.19, "Flattened
// field type": the whole object one field, its leaves indexed as
// keywords): two services that log the same key as a number and as an
// object cannot make Elasticsearch refuse each other's events, which a
// dynamic mapping of app.* would (400, mapper_parsing_exception).
func logsTemplate(replicas int) string {
	return fmt.Sprintf(`{"index_patterns":[%s],"data_stream":{},"priority":200,`+
		`"composed_of":["logs@mappings","logs@settings"],"template":{"settings":{"index.lifecycle.name":"%s","index.number_of_replicas":%d},`+
		`"mappings":{"properties":{"app":{"type":"flattened"}}}}}`, logsPatterns, LogsPolicy, replicas)
}

// logsPatterns names the log data streams, as a JSON list's items.
var logsPatterns = fmt.Sprintf(`"logs-%s-*","logs-%s-*"`, LogsDataset, DeadLetterDataset)

// clientAccess is what a client of Elasticsearch mounts and reads to connect.
type clientAccess struct {
	// secret holds ca.crt and, for a user, its password.
	secret  pulumi.StringPtrOutput
	user    string
	volumes corev1.VolumeArray
	mounts  corev1.VolumeMountArray
}

// credentials are the client's user and password as the variables its
// program reads them from (the password from the client's own Secret);
// none without security or a user.
func (a clientAccess) credentials(usernameVar, passwordVar string) corev1.EnvVarArray {
	if a.user == "" {
		return nil
	}
	return corev1.EnvVarArray{env(usernameVar, pulumi.String(a.user)), envFromSecret(passwordVar, a.secret, "password")}
}

// elasticClient gives a client the CA certificate and, for a user, its
// password (see credentials), each in its own Secret: a client reads no
// other client's password. Without security there is nothing to give.
func (b *builder) elasticClient(name string, id kube.Identity, user string) (clientAccess, error) {
	var access clientAccess
	if !b.secure() {
		return access, nil
	}
	data := pulumi.StringMap{"ca.crt": pulumi.ToSecret(b.args.TLS.CA).(pulumi.StringOutput)}
	if user != "" {
		data["password"] = b.args.Credentials.password(user)
	}
	secret, err := b.secret(name+"-elasticsearch", id, data)
	if err != nil {
		return access, err
	}
	access.secret = secret
	access.volumes = corev1.VolumeArray{&corev1.VolumeArgs{Name: pulumi.String("elasticsearch-ca"), Secret: &corev1.SecretVolumeSourceArgs{
		SecretName: secret, Items: corev1.KeyToPathArray{&corev1.KeyToPathArgs{Key: pulumi.String("ca.crt"), Path: pulumi.String("ca.crt")}},
	}}}
	access.mounts = corev1.VolumeMountArray{mount("elasticsearch-ca", certsDir, true)}
	access.user = user
	return access, nil
}
