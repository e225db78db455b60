package observability

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/acme/platform/internal/kube"
)

// The Elasticsearch pod's config init script, taken from the pod spec the
// component declares, run for real: as the pod's user (UID 1000, group 0, no
// capabilities) against a folder the way the kubelet makes an emptyDir (root's,
// mode 0777), with GNU cp, as the image has. A node that has not yet been part
// of a formed cluster bootstraps with cluster.initial_master_nodes; one whose
// data volume says it has starts without.
func TestElasticsearchConfigInitRunsAsThePodUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the script as another user, as the kubelet does")
	}
	for _, formed := range []bool{false, true} {
		config, _ := runElasticsearchInit(t, formed)
		bootstraps := strings.Contains(config, "cluster.initial_master_nodes: [elasticsearch-0, elasticsearch-1, elasticsearch-2]")
		if bootstraps == formed {
			t.Errorf("cluster formed before: %v; elasticsearch.yml sets cluster.initial_master_nodes: %v\n%s", formed, bootstraps, config)
		}
		if !strings.HasPrefix(config, "cluster.name: test\n") {
			t.Errorf("elasticsearch.yml is not the ConfigMap's:\n%s", config)
		}
	}
}

// The elastic user's password reaches the node's keystore as
// bootstrap.password on elasticsearch-keystore's stdin, never its
// arguments, and the config folder as a file the node's user alone reads
// (the readiness probe's): the node's environment holds no password.
func TestElasticPasswordReachesTheKeystoreNotTheEnvironment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the script as another user, as the kubelet does")
	}
	_, run := runElasticsearchInit(t, false)
	keystore, err := os.ReadFile(filepath.Join(run.config, "elasticsearch.keystore"))
	if err != nil || !strings.Contains(string(keystore), initTestPassword) {
		t.Errorf("the keystore holds %q (%v), want the password as bootstrap.password", keystore, err)
	}
	if calls := run.keystoreCalls; !strings.Contains(calls, "add -x -f bootstrap.password") || strings.Contains(calls, initTestPassword) {
		t.Errorf("elasticsearch-keystore was called with %q: want bootstrap.password added from stdin", calls)
	}
	file := filepath.Join(run.config, elasticPasswordFileName)
	info, err := os.Stat(file)
	if data, _ := os.ReadFile(file); err != nil || info.Mode().Perm() != 0o400 || string(data) != initTestPassword {
		t.Errorf("the probe's password file: %v, %v, %q; want mode 0400 holding the password", info, err, data)
	}
	sts := mustDeploy(t, prodArgs()).One(t, statefulSetType, "observability-elasticsearch")
	if env := fmt.Sprint(sts.MustInput(t, "spec.template.spec.containers.0.env")); strings.Contains(env, "ELASTIC_PASSWORD") {
		t.Errorf("the node's environment names the password: %s", env)
	}
}

// initTestPassword is the elastic password the init script is given.
const initTestPassword = "init-elastic-password"

// initRun is what an init script run left: the config folder, and what
// the stand-in elasticsearch-keystore was asked.
type initRun struct{ config, keystoreCalls string }

// runElasticsearchInit runs prod's prepare-config script as the pod runs it,
// with a data volume that holds the cluster-formed marker or not, and returns
// the elasticsearch.yml it leaves. elasticsearch-keystore (a JVM program of
// the image) is a stand-in that logs its arguments and keeps what it reads.
func runElasticsearchInit(t *testing.T, formed bool) (string, initRun) {
	g := mustDeploy(t, prodArgs())
	sts := g.One(t, statefulSetType, "observability-elasticsearch")
	inits := sts.MustInput(t, "spec.template.spec.initContainers").([]any)
	var script string
	for _, c := range inits {
		c := c.(map[string]any)
		if c["name"] == "prepare-config" {
			script = c["command"].([]any)[2].(string)
		}
	}
	if script == "" {
		t.Fatal("no prepare-config init container")
	}

	// Not t.TempDir: its parent is root's alone, which the pod's user cannot enter.
	base, err := os.MkdirTemp("", "es-init-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(base, "image-config") // the image's config folder, owned by its user
	for name, content := range map[string]string{"jvm.options": "-Xss1m\n", "log4j2.properties": "status = error\n"} {
		if err := os.MkdirAll(image, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(image, name), []byte(content), 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(image, elasticUID, 0); err != nil {
		t.Fatal(err)
	}
	emptyDir, settings, data := filepath.Join(base, "config"), filepath.Join(base, "settings"), filepath.Join(base, "data")
	for _, dir := range []string{emptyDir, settings, data} {
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // past the umask, as the kubelet sets it
			t.Fatal(err)
		}
	}
	if formed {
		if err := os.WriteFile(filepath.Join(data, filepath.Base(clusterFormedMarker)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(settings, "elasticsearch.yml"), []byte("cluster.name: test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bootstrap, keystoreLog := filepath.Join(base, "bootstrap"), filepath.Join(base, "keystore.log")
	if err := os.Mkdir(bootstrap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bootstrap, "password"), []byte(initTestPassword), 0o444); err != nil {
		t.Fatal(err)
	}
	keystoreTool := filepath.Join(base, "elasticsearch-keystore")
	stand := "#!/bin/sh\necho \"$*\" >> " + keystoreLog + "\ncase $1 in create) : > \"$ES_PATH_CONF/elasticsearch.keystore\" ;; add) cat >> \"$ES_PATH_CONF/elasticsearch.keystore\" ;; esac\n"
	if err := os.WriteFile(keystoreTool, []byte(stand), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keystoreLog, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keystoreLog, 0o666); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer(elasticKeystoreTool, keystoreTool, elasticBootstrapDir, bootstrap, "ES_PATH_CONF=/config", "ES_PATH_CONF="+emptyDir,
		"/usr/share/elasticsearch/config", image, elasticDataDir, data,
		"/config/", emptyDir+"/", "/settings/", settings+"/").Replace(script)

	cmd := exec.Command("/bin/sh", "-c", local)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: elasticUID, Gid: 0}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the init script fails as UID %d: %v\n%s\nscript: %s", elasticUID, err, out, local)
	}
	for _, name := range []string{"jvm.options", "log4j2.properties", "elasticsearch.yml"} {
		if _, err := os.Stat(filepath.Join(emptyDir, name)); err != nil {
			t.Errorf("%s not copied: %v", name, err)
		}
	}
	config, err := os.ReadFile(filepath.Join(emptyDir, "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := os.ReadFile(keystoreLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(config), initRun{config: emptyDir, keystoreCalls: string(calls)}
}

// Readiness, taken from prod's pod spec and run for real with curl and grep
// against a stand-in for Elasticsearch's HTTP API that asks for the elastic
// user's credentials: ready while the cluster's health answers; the
// cluster-formed marker written only once the node reports a cluster UUID,
// never for "_na_" (no cluster yet). The password is in no program's
// arguments: wrappers of curl and base64 log theirs.
func TestElasticsearchReadinessRecordsTheFormedCluster(t *testing.T) {
	const password = "s3cr3t-elastic-password"
	wrappers, argsLog := argvRecorders(t, "curl", "base64")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:"+password))
	g := mustDeploy(t, prodArgs())
	probe := g.One(t, statefulSetType, "observability-elasticsearch").MustInput(t, "spec.template.spec.containers.0.readinessProbe.exec.command").([]any)
	script := probe[2].(string)
	// Both of the formed cluster's requests fit in the probe's timeout.
	timeout := g.One(t, statefulSetType, "observability-elasticsearch").MustInput(t, "spec.template.spec.containers.0.readinessProbe.timeoutSeconds").(float64)
	if requests := strings.Count(script, "curl "); float64(requests*kube.ExecRequestSeconds) >= timeout {
		t.Errorf("readiness runs %d requests of up to %d s in a %v s timeout", requests, kube.ExecRequestSeconds, timeout)
	}
	status, uuid := "green", "_na_"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != basic:
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/_cluster/health":
			clusterHealth(w, r, status)
		case r.URL.Path == "/":
			fmt.Fprintf(w, "{\n  \"name\" : \"elasticsearch-0\",\n  \"cluster_uuid\" : %q\n}\n", uuid)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(api.Close)
	data := t.TempDir()
	marker := filepath.Join(data, filepath.Base(clusterFormedMarker))
	started := filepath.Join(t.TempDir(), "started")
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte(password), 0o400); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer(fmt.Sprintf("https://localhost:%d", elasticPort), api.URL, "--cacert /usr/share/elasticsearch/config/certs/ca.crt ", "",
		clusterFormedMarker, marker, elasticStartedFile, started, elasticPasswordFile, passwordFile).Replace(script)
	ready := func() bool {
		cmd := exec.Command("/bin/sh", "-c", local)
		cmd.Env = append(os.Environ(), "PATH="+wrappers+string(os.PathListSeparator)+os.Getenv("PATH"))
		return cmd.Run() == nil
	}
	exists := func() bool { _, err := os.Stat(marker); return err == nil }

	// A new node of three waits for green (Elastic's chart): a roll moves
	// on only once the shards have recovered.
	status = "yellow"
	if ready() {
		t.Fatalf("a new node is ready while the cluster is yellow\nscript: %s", local)
	}
	status = "green"
	if !ready() || exists() {
		t.Fatalf("no cluster yet: ready %v (want true), marker %v (want false)\nscript: %s", ready(), exists(), local)
	}
	uuid = "_6Yh3k9QvTqGk1a2b3c4dA" // a UUID may begin with "_"
	if !ready() || !exists() {
		t.Fatalf("cluster formed: ready %v, marker %v; want both", ready(), exists())
	}
	// Once ready, at least yellow keeps it so; red does not.
	status = "yellow"
	if !ready() {
		t.Error("a started node is not ready while the cluster is yellow")
	}
	status = "red"
	if ready() {
		t.Error("ready while the cluster is red")
	}
	status = ""
	if ready() {
		t.Error("ready while the cluster's health does not answer")
	}
	args, err := os.ReadFile(argsLog)
	if err != nil || !strings.Contains(string(args), "curl ") || !strings.Contains(string(args), "base64 ") {
		t.Fatalf("the wrappers logged no curl and base64 run (%v): the test is broken\n%s", err, args)
	}
	if strings.Contains(string(args), password) {
		t.Errorf("the password was in a program's arguments:\n%s", args)
	}
}

// A single node (dev) is ready at yellow from its start: its replicas have
// nowhere to go, so green may never come.
func TestSingleElasticsearchNodeIsReadyAtYellow(t *testing.T) {
	status := "yellow"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { clusterHealth(w, r, status) }))
	t.Cleanup(api.Close)
	script := mustDeploy(t, devArgs()).One(t, statefulSetType, "observability-elasticsearch").MustInput(t, "spec.template.spec.containers.0.readinessProbe.exec.command.2").(string)
	local := strings.NewReplacer(fmt.Sprintf("http://localhost:%d", elasticPort), api.URL, elasticStartedFile, filepath.Join(t.TempDir(), "started")).Replace(script)
	ready := func() bool { return exec.Command("/bin/sh", "-c", local).Run() == nil }
	if !ready() {
		t.Fatalf("one node at yellow is not ready\nscript: %s", local)
	}
	if status = "red"; ready() {
		t.Error("one node at red is ready")
	}
}

// clusterHealth answers _cluster/health as Elasticsearch does for a cluster
// whose status is status ("": no answer): 408 when the status asked for
// (wait_for_status) is not reached within the wait.
func clusterHealth(w http.ResponseWriter, r *http.Request, status string) {
	rank := map[string]int{"red": 1, "yellow": 2, "green": 3}
	if status == "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if want := r.URL.Query().Get("wait_for_status"); want != "" && rank[status] < rank[want] {
		w.WriteHeader(http.StatusRequestTimeout)
	}
	fmt.Fprintf(w, `{"status":%q}`, status)
}

// With mmap (prod), Elasticsearch waits for the node to be tuned instead of
// crash-looping on its bootstrap check; without, nothing waits.
func TestElasticsearchWaitsForNodeTuningOnlyWithMMap(t *testing.T) {
	for _, tt := range []struct {
		args Args
		want bool
	}{{devArgs(), false}, {prodArgs(), true}} {
		sts := mustDeploy(t, tt.args).One(t, statefulSetType, "observability-elasticsearch")
		first := sts.MustInput(t, "spec.template.spec.initContainers.0.name")
		if waits := first == "wait-for-node-tuning"; waits != tt.want {
			t.Errorf("%s: waits for node tuning %v, want %v", tt.args.Environment, waits, tt.want)
		}
	}
}

// argvRecorders puts wrappers of the programs in a folder to put first on
// PATH: each logs its arguments to the returned log, then runs the real one.
func argvRecorders(t *testing.T, programs ...string) (dir, log string) {
	t.Helper()
	dir, log = t.TempDir(), filepath.Join(t.TempDir(), "args.log")
	for _, program := range programs {
		real, err := exec.LookPath(program)
		if err != nil {
			t.Fatal(err)
		}
		wrapper := "#!/bin/sh\nprintf '%s %s\\n' " + program + " \"$*\" >> " + log + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, program), []byte(wrapper), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, log
}

// The setup Job's script, taken from prod's pod spec and run for real with
// bash, curl and base64 against a stand-in for Elasticsearch's API that asks
// for the elastic user's credentials: every request authorized, each
// service user given its own password and role; and no credential in any
// program's arguments (wrappers of curl and base64 log theirs).
func TestElasticsearchSetupKeepsCredentialsOffCommandLines(t *testing.T) {
	const password = "s3cr3t-elastic-password"
	wrappers, argsLog := argvRecorders(t, "curl", "base64")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:"+password))
	users := map[string]string{}
	for _, u := range []string{kibanaUser, logstashUser, jaegerUser} {
		users[u] = testCredential(u)
	}
	bodies := map[string]string{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != basic {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		bodies[r.Method+" "+r.URL.Path] = string(body)
		fmt.Fprint(w, `{"acknowledged":true}`)
	}))
	t.Cleanup(api.Close)
	script := mustDeploy(t, prodArgs()).One(t, jobType, "observability-elasticsearch-setup").MustInput(t, "spec.template.spec.containers.0.command.2").(string)
	local := strings.Replace(script, "--cacert "+certsDir+"/ca.crt ", "", 1)
	cmd := exec.Command("/bin/bash", "-c", local)
	cmd.Env = append(os.Environ(), "ES_URL="+api.URL, "ELASTIC_PASSWORD="+password,
		"KIBANA_SYSTEM_PASSWORD="+users[kibanaUser], "LOGSTASH_WRITER_PASSWORD="+users[logstashUser], "JAEGER_WRITER_PASSWORD="+users[jaegerUser],
		"PATH="+wrappers+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the setup script failed: %v\n%s\nscript:\n%s", err, out, local)
	}
	for request, want := range map[string]string{
		"POST /_security/user/" + kibanaUser + "/_password": `{"password":"` + users[kibanaUser] + `"}`,
		"PUT /_security/user/" + logstashUser:               `{"password":"` + users[logstashUser] + `","roles":["` + logstashUser + `"]}`,
		"PUT /_security/user/" + jaegerUser:                 `{"password":"` + users[jaegerUser] + `","roles":["` + jaegerUser + `"]}`,
	} {
		if got := bodies[request]; got != want {
			t.Errorf("%s sent %q, want %q", request, got, want)
		}
	}
	if _, ok := bodies["PUT /_ilm/policy/"+LogsPolicy]; !ok {
		t.Errorf("the lifecycle policy was not put (requests: %v)", bodies)
	}
	// The log data streams, the services' and the dead letters', map app
	// flattened: no service's field types can refuse another's events.
	var template struct {
		IndexPatterns []string `json:"index_patterns"`
		Template      struct {
			Mappings struct {
				Properties map[string]struct {
					Type string `json:"type"`
				} `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal([]byte(bodies["PUT /_index_template/logs-platform"]), &template); err != nil {
		t.Fatalf("the index template is not JSON: %v\n%s", err, bodies["PUT /_index_template/logs-platform"])
	}
	if !slices.Equal(template.IndexPatterns, []string{"logs-platform-*", "logs-platform.deadletter-*"}) || template.Template.Mappings.Properties["app"].Type != "flattened" {
		t.Errorf("index template: patterns %v, app mapped %q; want both log data streams and flattened", template.IndexPatterns, template.Template.Mappings.Properties["app"].Type)
	}
	if role := bodies["PUT /_security/role/"+logstashUser]; !strings.Contains(role, `"logs-platform.deadletter-*"`) {
		t.Errorf("Logstash's role cannot write the dead letters' data stream: %s", role)
	}
	args, err := os.ReadFile(argsLog)
	if err != nil || !strings.Contains(string(args), "curl ") || !strings.Contains(string(args), "base64 ") {
		t.Fatalf("the wrappers logged no curl and base64 run (%v): the test is broken\n%s", err, args)
	}
	for _, secret := range append([]string{password}, users[kibanaUser], users[logstashUser], users[jaegerUser]) {
		if strings.Contains(string(args), secret) {
			t.Errorf("a credential was in a program's arguments:\n%s", args)
		}
	}
}

// kibanaSecretSettings are the settings among kibana-docker's kibana_vars
// (elastic/dockerfiles, kibana/bin/kibana-docker) that hold secrets: a
// variable named after one (elasticsearch.password: ELASTICSEARCH_PASSWORD)
// becomes a --setting=value argument of the Kibana process.
var kibanaSecretSettings = []string{
	"elasticsearch.password", "elasticsearch.serviceAccountToken", "elasticsearch.ssl.keyPassphrase",
	"elasticsearch.ssl.keystore.password", "elasticsearch.ssl.truststore.password", "monitoring.ui.elasticsearch.password",
	"server.ssl.keyPassphrase", "server.ssl.keystore.password", "server.ssl.truststore.password",
	"xpack.encryptedSavedObjects.encryptionKey", "xpack.reporting.encryptionKey", "xpack.security.encryptionKey",
}

// Kibana's secrets reach it through kibana.yml's ${…}, never under a name
// its image's entrypoint puts on the command line.
func TestKibanaSecretsStayOffItsCommandLine(t *testing.T) {
	g := mustDeploy(t, prodArgs())
	vars := g.One(t, deploymentType, "observability-kibana").MustInput(t, "spec.template.spec.containers.0.env").([]any)
	config := file(t, g, "kibana", "kibana.yml")
	secrets := 0
	for _, v := range vars {
		name := v.(map[string]any)["name"].(string)
		for _, setting := range kibanaSecretSettings {
			if strings.ReplaceAll(strings.ToUpper(setting), ".", "_") == name {
				t.Errorf("Kibana's variable %s becomes --%s=… on its command line", name, setting)
			}
		}
		if _, fromSecret := v.(map[string]any)["valueFrom"]; fromSecret {
			secrets++
			if !strings.Contains(config, "${"+name+"}") {
				t.Errorf("kibana.yml does not read %s:\n%s", name, config)
			}
		}
	}
	if secrets != 4 {
		t.Errorf("Kibana gets %d secret variables, want its password and 3 encryption keys", secrets)
	}
}

// Kafka's startup probe, taken from the pod spec, run by sh against a
// stand-in kafka-topics.sh that prints what Kafka 4.1's TopicCommand prints
// for --under-replicated-partitions (a tab before each field), with
// busybox's shell, sed and grep as in the image where busybox is installed
// (make runtime): broker 1 is started once it holds no partition it is
// missing from the in-sync replicas.
func TestKafkaStartsOnceCaughtUp(t *testing.T) {
	probe := mustDeploy(t, prodArgs()).One(t, statefulSetType, "observability-kafka").MustInput(t, "spec.template.spec.containers.0.startupProbe").(map[string]any)
	command := stringsOf(probe["exec"].(map[string]any)["command"])
	if len(command) != 3 || command[0] != "/bin/sh" || probe["timeoutSeconds"].(float64) < 10 {
		t.Fatalf("Kafka's startup probe is not a shell script with time for a JVM: %v", probe)
	}
	line := func(partition int, replicas, isr string) string {
		return fmt.Sprintf("\tTopic: logs\tTopicId: x\tPartition: %d\tLeader: 0\tReplicas: %s\tIsr: %s\tElr: \tLastKnownElr: ", partition, replicas, isr)
	}
	tests := []struct {
		name    string
		out     string
		fails   bool
		started bool
	}{
		{"nothing under-replicated", "", false, true},
		{"another broker behind", line(0, "0,1,2", "0,1"), false, true},
		{"this broker behind", line(0, "0,2", "0,2") + "\n" + line(1, "2,1,0", "2,0"), false, false},
		{"broker 11 behind, not 1", line(0, "0,11,2", "0,2"), false, true},
		{"this broker behind while partitions move", line(3, "0,1", "0") + "\tAdding Replicas: 1\tRemoving Replicas: 2", false, false},
		{"the tool fails", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tool := filepath.Join(dir, "kafka-topics.sh")
			exit := 0
			if tt.fails {
				exit = 1
			}
			stub := fmt.Sprintf("#!/bin/sh\necho \"$*\" > %s/args\ncat <<'OUT'\n%s\nOUT\nexit %d\n", dir, tt.out, exit)
			if err := os.WriteFile(tool, []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", strings.Replace(command[2], "/opt/kafka/bin/kafka-topics.sh", tool, 1))
			cmd.Env = append(os.Environ(), "POD_NAME=kafka-1")
			if busybox, err := exec.LookPath("busybox"); err == nil {
				// The image's shell and text tools are busybox's (Alpine).
				for _, applet := range []string{"sh", "sed", "grep", "cat"} {
					if err := os.Symlink(busybox, filepath.Join(dir, applet)); err != nil {
						t.Fatal(err)
					}
				}
				cmd.Path, cmd.Args[0] = filepath.Join(dir, "sh"), "sh"
				cmd.Env = append(cmd.Env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			}
			out, err := cmd.CombinedOutput()
			if started := err == nil; started != tt.started {
				t.Errorf("started %v, want %v (%v)\n%s", started, tt.started, err, out)
			}
			args, _ := os.ReadFile(filepath.Join(dir, "args"))
			if !strings.Contains(string(args), "--bootstrap-server kafka-1.kafka-headless.observability.svc.cluster.local:9092 ") ||
				!strings.Contains(string(args), "--describe --under-replicated-partitions") {
				t.Errorf("the tool was asked %q", args)
			}
		})
	}
}

func stringsOf(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
