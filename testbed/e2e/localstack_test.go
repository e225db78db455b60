//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"gopkg.in/yaml.v3"

	"github.com/acme/platform/cli/changes"
	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/cli/policy"
	"github.com/acme/platform/policypack"
	"github.com/acme/platform/policypack/shared"
)

// localImage is the image Pulumi.local.yaml runs: the real node's greeter,
// pinned by digest (localcluster's TestLocalStackPinsTheNodesImages keeps
// the pin that of the image made from app/). Read on first use: the test
// binary also runs as the driver's supervisor, in another folder, and
// package variables are set before TestMain can tell.
var localImage = sync.OnceValue(func() string {
	data, err := os.ReadFile(filepath.Join(projectRoot, "Pulumi.local.yaml"))
	if err != nil {
		panic(err)
	}
	var file struct {
		Config struct {
			Services []struct {
				Name  string `yaml:"name"`
				Image string `yaml:"image"`
			} `yaml:"platform:services"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		panic(err)
	}
	for _, s := range file.Config.Services {
		if s.Name == "greeter" && s.Image != "" {
			return s.Image
		}
	}
	panic("Pulumi.local.yaml runs no greeter image")
})

// runPlatform runs the cli/platform binary on the test project, writing its
// output to stdout and stderr, and returns its exit code.
func runPlatform(t *testing.T, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	// Not cancelled with the test: cleanups run the command too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 5*time.Minute)
	defer cancel()
	if !slices.Contains(args, "--stack") {
		args = append(args, "--stack", "local")
	}
	if !slices.Contains(args, "--cwd") {
		args = append(args, "--cwd", env.projectDir)
	}
	cmd := exec.CommandContext(ctx, env.platform, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("platform %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("platform %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode()
}

// platform runs the platform command and returns its exit code and combined output.
func platform(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := runPlatform(t, &out, &out, args...)
	return code, out.String()
}

// platformStdout runs the platform command and returns its exit code and its
// stdout alone (a report); stderr goes to the test log.
func platformStdout(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runPlatform(t, &stdout, &stderr, args...)
	t.Logf("stderr of platform %s:\n%s", strings.Join(args, " "), stderr.String())
	return code, stdout.String()
}

func mustPlatform(t *testing.T, args ...string) string {
	t.Helper()
	code, out := platform(t, args...)
	if code != 0 {
		t.Fatalf("platform %v exited %d:\n%s", args, code, out)
	}
	return out
}

func kubectl(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := env.cluster.Kubectl(t.Context(), nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// driftReport runs a refresh preview through the driver: what changed outside
// Pulumi, resource by resource, without writing the state.
func driftReport(t *testing.T) changes.Changes {
	t.Helper()
	s, err := driver.Open(t.Context(), driver.Options{ProjectDir: env.projectDir, Stack: "local", Program: policy.Program})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	changes, err := s.Refresh(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("refresh preview: %s, %d drifted", time.Since(start).Round(time.Millisecond), len(changes))
	return changes
}

// workloads lists the stack's Deployments, StatefulSets and DaemonSets as the
// API server reports them.
type workload struct {
	Kind     string
	Name     string
	Desired  int
	Ready    int
	Updated  int
	Observed bool
}

func workloads(t *testing.T) []workload {
	t.Helper()
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name       string `json:"name"`
				Namespace  string `json:"namespace"`
				Generation int    `json:"generation"`
			} `json:"metadata"`
			Spec struct {
				Replicas *int `json:"replicas"`
			} `json:"spec"`
			Status struct {
				ObservedGeneration     int `json:"observedGeneration"`
				ReadyReplicas          int `json:"readyReplicas"`
				UpdatedReplicas        int `json:"updatedReplicas"`
				DesiredNumberScheduled int `json:"desiredNumberScheduled"`
				NumberReady            int `json:"numberReady"`
			} `json:"status"`
		} `json:"items"`
	}
	out := kubectl(t, "get", "deployments,statefulsets,daemonsets", "-A", "-l", "app.kubernetes.io/managed-by=pulumi", "-o", "json")
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	var ws []workload
	for _, i := range list.Items {
		w := workload{Kind: i.Kind, Name: i.Metadata.Namespace + "/" + i.Metadata.Name, Observed: i.Status.ObservedGeneration >= i.Metadata.Generation}
		if i.Kind == "DaemonSet" {
			w.Desired, w.Ready, w.Updated = i.Status.DesiredNumberScheduled, i.Status.NumberReady, i.Status.NumberReady
		} else {
			w.Desired, w.Ready, w.Updated = 1, i.Status.ReadyReplicas, i.Status.UpdatedReplicas
			if i.Spec.Replicas != nil {
				w.Desired = *i.Spec.Replicas
			}
		}
		ws = append(ws, w)
	}
	return ws
}

func findChange(found changes.Changes, typ, nameSuffix string) (changes.Change, bool) {
	for _, c := range found {
		if c.Type == typ && strings.HasSuffix(c.URN, "::"+nameSuffix) {
			return c, true
		}
	}
	return changes.Change{}, false
}

func hasPath(paths []string, prefix string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, prefix) })
}

// TestLocalStack walks the local stack through its life: up, no perpetual
// diffs, drift made with the Kubernetes API found and remediated, a config
// change rolling the pods, and destroy leaving nothing behind. The steps
// depend on each other, so the first failure stops the walk.
func TestLocalStack(t *testing.T) {
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"up", testUp},
		{"greeter runs on the real node", testGreeterOnTheRealNode},
		{"a pod reaches the greeter by its DNS name", testRequestThroughTheService},
		{"network policies hold on the real node", testPoliciesHold},
		{"the request's span is in Jaeger", testSpanInJaeger},
		{"a killed container is restarted", testKilledContainerRestarts},
		{"no changes after up", testNoChanges},
		{"no changes after refresh", testNoChangesAfterRefresh},
		{"drift is detected", testDriftDetected},
		{"up remediates drift", testRemediate},
		{"config change rolls the pods", testConfigChangeRolls},
		{"storage grows in place", testStorageGrowsInPlace},
		{"destroy leaves nothing", testDestroy},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

func testUp(t *testing.T) {
	mustPlatform(t, "up")
	ws := workloads(t)
	if len(ws) == 0 {
		t.Fatal("the stack declared no Deployment, StatefulSet or DaemonSet")
	}
	for _, w := range ws {
		if !w.Observed || w.Ready != w.Desired || w.Updated != w.Desired {
			t.Errorf("%s %s not ready: %+v", w.Kind, w.Name, w)
		}
	}
	// The namespace enforces Pod Security "restricted": the pods being there
	// proves the workload's security context passes admission.
	labels := string(kubectl(t, "get", "namespace", "greeter", "-o", "jsonpath={.metadata.labels}"))
	if !strings.Contains(labels, `"pod-security.kubernetes.io/enforce":"restricted"`) {
		t.Errorf("namespace greeter does not enforce restricted: %s", labels)
	}
	pods := string(kubectl(t, "get", "pods", "-n", "greeter", "-o", "jsonpath={.items[*].status.phase}"))
	if !strings.Contains(pods, "Running") {
		t.Errorf("no running pod of greeter: %q", pods)
	}
	out := mustPlatform(t, "outputs")
	for _, want := range []string{"greeter.greeter.svc.cluster.local:8080", `"otlpEndpoint": "http://jaeger-collector.observability.svc.cluster.local:4318"`, `"kibanaUrl"`, `"jaegerQueryUrl"`, `"kafkaBootstrap"`, `"elasticsearchUrl"`} {
		if !strings.Contains(out, want) {
			t.Errorf("outputs lack %s:\n%s", want, out)
		}
	}
	testObservabilityReady(t, ws)
}

// testObservabilityReady checks, as the API server reports it, that every
// part of the observability stack is there and ready (the loop above checked
// the replicas of each), its setup Jobs completed and its volumes bound.
func testObservabilityReady(t *testing.T, ws []workload) {
	want := []string{
		"StatefulSet observability/kafka", "StatefulSet observability/elasticsearch", "StatefulSet observability/logstash",
		"Deployment observability/kibana", "Deployment observability/jaeger", "DaemonSet observability-agents/filebeat",
		"Deployment greeter/greeter",
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Kind+" "+w.Name)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s missing; the stack runs %v", w, got)
		}
	}
	for _, w := range ws {
		if w.Kind == "DaemonSet" && w.Desired != 3 {
			t.Errorf("%s runs on %d nodes, want all 3", w.Name, w.Desired)
		}
	}
	jobs := string(kubectl(t, "-n", "observability", "get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.labels.app}={.status.succeeded}{" "}{end}`))
	for _, job := range []string{"kafka-setup=1", "elasticsearch-setup=1"} {
		if !strings.Contains(jobs, job) {
			t.Errorf("setup Job %s not complete: %s", job, jobs)
		}
	}
	claims := string(kubectl(t, "-n", "observability", "get", "pvc", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase}{" "}{end}`))
	for _, claim := range []string{"data-kafka-0=Bound", "data-elasticsearch-0=Bound"} {
		if !strings.Contains(claims, claim) {
			t.Errorf("claim %s: %s", claim, claims)
		}
	}
	for ns, level := range map[string]string{"observability": "restricted", "observability-agents": "privileged"} {
		labels := string(kubectl(t, "get", "namespace", ns, "-o", "jsonpath={.metadata.labels}"))
		if !strings.Contains(labels, `"pod-security.kubernetes.io/enforce":"`+level+`"`) {
			t.Errorf("namespace %s does not enforce %s: %s", ns, level, labels)
		}
	}
	endpoint := string(kubectl(t, "-n", "greeter", "get", "deployment", "greeter", "-o", `jsonpath={.spec.template.spec.containers[0].env[?(@.name=="OTEL_EXPORTER_OTLP_ENDPOINT")].value}`))
	if endpoint != "http://jaeger-collector.observability.svc.cluster.local:4318" {
		t.Errorf("greeter sends traces to %q", endpoint)
	}
}

func testNoChanges(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events.json")
	code, out := platform(t, "preview", "--expect-no-changes", "--events", events)
	if code != 0 {
		t.Fatalf("preview right after up found changes (exit %d):\n%s", code, out)
	}
	checkPolicyFindings(t, "local", policyEvents(t, events))
	// The local stack has no GitHub or Docker plugin, and its preview says what it leaves out.
	for _, says := range []string{"GitHub repository management is off for this stack", "no image builds in this stack"} {
		if !strings.Contains(out, says) {
			t.Errorf("the local preview does not say %q:\n%s", says, out)
		}
	}
	if changes := driftReport(t); len(changes) != 0 {
		t.Fatalf("refresh preview right after up found drift: %+v", changes)
	}
}

func testNoChangesAfterRefresh(t *testing.T) {
	mustPlatform(t, "refresh")
	if code, out := platform(t, "preview", "--expect-no-changes"); code != 0 {
		t.Fatalf("preview after refresh found changes (exit %d):\n%s", code, out)
	}
}

func testDriftDetected(t *testing.T) {
	kubectl(t, "-n", "greeter", "scale", "deployment", "greeter", "--replicas=3")
	kubectl(t, "-n", "greeter", "set", "image", "deployment/greeter", "greeter=ghcr.io/acme/greeter:0.0.9")
	cm := strings.TrimSpace(string(kubectl(t, "-n", "greeter", "get", "configmap", "-l", "app=greeter", "-o", "jsonpath={.items[0].metadata.name}")))
	kubectl(t, "-n", "greeter", "patch", "configmap", cm, "--type=merge", "-p", `{"data":{"GREETING":"edited by hand"}}`)
	kubectl(t, "-n", "greeter", "delete", "service", "greeter")
	kubectl(t, "-n", "greeter", "label", "serviceaccount", "greeter", "environment=tampered", "--overwrite")
	secret := strings.TrimSpace(string(kubectl(t, "-n", "greeter", "get", "secret", "-l", "app=greeter", "-o", "jsonpath={.items[0].metadata.name}")))
	kubectl(t, "-n", "greeter", "patch", "secret", secret, "--type=merge", "-p", `{"stringData":{"api-token":"`+leakCanary+`"}}`)

	changes := driftReport(t)
	want := []struct {
		typ, name, op string
		paths         []string
	}{
		{"kubernetes:apps/v1:Deployment", "greeter", "update", []string{"spec.replicas", "spec.template.spec.containers[0].image"}},
		{"kubernetes:core/v1:ConfigMap", "greeter-env", "update", []string{"data.GREETING"}},
		{"kubernetes:core/v1:Service", "greeter", "delete", nil},
		{"kubernetes:core/v1:ServiceAccount", "greeter", "update", []string{"metadata.labels.environment"}},
		{"kubernetes:core/v1:Secret", "greeter-secret-files", "update", []string{"data.api-token"}},
	}
	for _, w := range want {
		c, ok := findChange(changes, w.typ, w.name)
		if !ok {
			t.Errorf("drift of %s %s not reported; reported: %+v", w.typ, w.name, changes)
			continue
		}
		if string(c.Op) != w.op {
			t.Errorf("%s %s reported as %s, want %s", w.typ, w.name, c.Op, w.op)
		}
		for _, p := range w.paths {
			if !hasPath(c.Paths, p) {
				t.Errorf("%s %s: changed path %s not reported; paths: %v", w.typ, w.name, p, c.Paths)
			}
		}
	}
	if len(changes) != len(want) {
		t.Errorf("reported %d drifted resources, want %d: %+v", len(changes), len(want), changes)
	}
	// A preview writes nothing: the same drift is still there to find.
	if again := driftReport(t); len(again) != len(changes) {
		t.Errorf("second refresh preview found %d drifted resources, first %d: the state was written", len(again), len(changes))
	}
	if code, out := platform(t, "refresh", "--preview-only", "--expect-no-changes"); code != 3 {
		t.Errorf("refresh --preview-only --expect-no-changes exited %d on drift, want 3:\n%s", code, out)
	}
	testDriftCommand(t, len(want))
}

// leakCanary is a secret value set out of band: no report may show it.
const leakCanary = "leak-canary-4b1d"

// testDriftCommand runs the drift command as the scheduled job does.
func testDriftCommand(t *testing.T, drifted int) {
	var stdout, stderr bytes.Buffer
	code := runPlatform(t, &stdout, &stderr, "drift", "--format", "json")
	out := stdout.String()
	// Every format renders the same findings, which hold no secret value
	// (cli/drift's TestSecretsAreMasked): the fullest rendering, JSON, and
	// the command's log must not show it.
	if strings.Contains(out+stderr.String(), leakCanary) {
		t.Errorf("drift --format json, or its log, shows the secret value")
	}
	if code != 3 {
		t.Fatalf("drift exited %d with drift present, want 3:\n%s", code, out)
	}
	var report struct {
		Drifted   bool `json:"drifted"`
		Resources []struct {
			Type, Name, Change string
			Properties         []struct {
				Path     string
				Old, New any
			}
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("drift --format json is not JSON: %v\n%s", err, out)
	}
	if !report.Drifted || len(report.Resources) != drifted {
		t.Errorf("drift report lists %d resources, want %d:\n%s", len(report.Resources), drifted, out)
	}
	for _, r := range report.Resources {
		if r.Type == "kubernetes:apps/v1:Deployment" && (len(r.Properties) == 0 || r.Properties[0].Path != "spec.replicas" || r.Properties[0].New != 3.0) {
			t.Errorf("deployment drift %+v", r)
		}
	}
}

func testRemediate(t *testing.T) {
	// The local stack allows remediation (platform:drift.remediate defaults on).
	if code, out := platform(t, "drift", "--remediate"); code != 3 {
		t.Fatalf("drift --remediate exited %d, want 3 (drift found, then remediated):\n%s", code, out)
	}
	if code, out := platform(t, "drift"); code != 0 {
		t.Fatalf("drift after remediation exited %d, want 0:\n%s", code, out)
	}
	if changes := driftReport(t); len(changes) != 0 {
		t.Fatalf("drift left after up --refresh: %+v", changes)
	}
	if code, out := platform(t, "preview", "--expect-no-changes"); code != 0 {
		t.Fatalf("preview after remediation found changes (exit %d):\n%s", code, out)
	}
	image := string(kubectl(t, "-n", "greeter", "get", "deployment", "greeter", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"))
	if image != "1 "+localImage() {
		t.Errorf("deployment not restored: %q", image)
	}
	kubectl(t, "-n", "greeter", "get", "service", "greeter")
}

func testConfigChangeRolls(t *testing.T) {
	replicaSets := func() []string {
		out := kubectl(t, "-n", "greeter", "get", "replicasets", "-l", "app=greeter", "-o", "jsonpath={.items[*].metadata.name}")
		return strings.Fields(string(out))
	}
	before := replicaSets()
	stackFile := filepath.Join(env.projectDir, "Pulumi.local.yaml")
	data, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "GREETING: Hello from the local cluster", "GREETING: Hello again", 1)
	if changed == string(data) {
		t.Fatal("Pulumi.local.yaml no longer sets GREETING as this test expects")
	}
	if err := os.WriteFile(stackFile, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	approved := testApprovedPlanOnly(t, stackFile, changed)
	// A client asks all through the rollout: the old pod is told to stop
	// (preStop, SIGTERM, drain) only once the new one is ready, and no
	// request fails. It stops once every answer for 10 s has been the new
	// greeting: the old pod left the Service's endpoints before that (its
	// preStop pause begins after), so no request can reach it any more.
	requireRealNode(t)
	wait := clientLoop(t, "rollout-client", 90*time.Second, "-until", "Hello again", "-settle", "10s")
	mustPlatform(t, "up", "--approved", approved)
	report := wait()
	if report.Failed != 0 || report.OK < 100 {
		t.Errorf("through the rollout the client saw %d failed and %d answered requests, want 0 failed: %v", report.Failed, report.OK, report.Errors)
	}
	if !strings.Contains(report.LastBody, "Hello again") {
		t.Errorf("after the rollout the greeter answers %q, want the new greeting", report.LastBody)
	}
	after := replicaSets()
	var added []string
	for _, rs := range after {
		if !slices.Contains(before, rs) {
			added = append(added, rs)
		}
	}
	if len(added) != 1 {
		t.Fatalf("a config change gave %d new ReplicaSets (before %v, after %v), want 1", len(added), before, after)
	}
	ready := string(kubectl(t, "-n", "greeter", "get", "replicaset", added[0], "-o", "jsonpath={.status.readyReplicas}"))
	if ready != "1" {
		t.Errorf("new ReplicaSet %s has %q ready replicas", added[0], ready)
	}
	greetings := string(kubectl(t, "-n", "greeter", "get", "configmap", "-l", "app=greeter", "-o", "jsonpath={.items[*].data.GREETING}"))
	if greetings != "Hello again" {
		t.Errorf("config maps hold %q, want only the new one", greetings)
	}
}

// A drift check that cannot reach its backend fails with 1, never 0.
func TestDriftOnABrokenBackendExitsOne(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), env.platform, "drift", "--stack", "local", "--cwd", env.projectDir)
	cmd.Env = append(os.Environ(), "PULUMI_BACKEND_URL=file:///proc/no-such-backend")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("drift with a broken backend exited %d, want 1:\n%s", code, out)
	}
}

func testDestroy(t *testing.T) {
	mustPlatform(t, "destroy")
	out := kubectl(t, "get", "namespaces,persistentvolumes,deployments,statefulsets,daemonsets,services,clusterroles,clusterrolebindings", "-A",
		"-l", "app.kubernetes.io/managed-by=pulumi", "-o", "name")
	if left := strings.TrimSpace(string(out)); left != "" {
		t.Fatalf("destroy left objects behind:\n%s", left)
	}
	for _, ns := range []string{"greeter", "observability", "observability-agents"} {
		if _, err := env.cluster.Kubectl(t.Context(), nil, "get", "namespace", ns); err == nil {
			t.Fatalf("namespace %s still exists after destroy", ns)
		}
	}
	// No volume claimed from the stack's namespaces may be left either: the
	// local stack is not prod, whose claims are retained. Volumes go once
	// their claims are gone, which the cluster does after the namespace.
	deadline := time.Now().Add(30 * time.Second)
	for {
		claims := string(kubectl(t, "get", "persistentvolumes", "-o", `jsonpath={range .items[*]}{.spec.claimRef.namespace}{"\n"}{end}`))
		left := slices.DeleteFunc(strings.Fields(claims), func(ns string) bool { return ns != "greeter" && ns != "observability" })
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("destroy left volumes of %v behind", left)
		}
		time.Sleep(time.Second)
	}
}

// testApprovedPlanOnly does what a release does before and after its
// approval, on the real engine: the config change is previewed and its
// changes saved (what the reviewer approves); a second change made after
// the approval makes up --approved refuse, changing nothing; the stack file
// as approved is left for the caller's up --approved. It returns the file.
func testApprovedPlanOnly(t *testing.T, stackFile, approvedConfig string) string {
	approved := filepath.Join(t.TempDir(), "approved.json")
	mustPlatform(t, "preview", "--save-changes", approved)
	data, err := os.ReadFile(approved)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"stack": "local"`, `data.GREETING`, "Hello again"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the saved changes lack %s:\n%s", want, data)
		}
	}
	unapproved := strings.Replace(approvedConfig, "LOG_LEVEL: debug", "LOG_LEVEL: info", 1)
	if unapproved == approvedConfig {
		t.Fatal("Pulumi.local.yaml no longer sets LOG_LEVEL as this test expects")
	}
	if err := os.WriteFile(stackFile, []byte(unapproved), 0o600); err != nil {
		t.Fatal(err)
	}
	before := string(kubectl(t, "-n", "greeter", "get", "configmap", "-l", "app=greeter", "-o", "jsonpath={.items[*].data.GREETING}"))
	code, out := platform(t, "up", "--approved", approved)
	if code != 1 || !strings.Contains(out, "would not do what was approved") || !strings.Contains(out, "data.LOG_LEVEL") {
		t.Errorf("up --approved with a change made after the approval exited %d, want 1 naming data.LOG_LEVEL:\n%s", code, out)
	}
	if after := string(kubectl(t, "-n", "greeter", "get", "configmap", "-l", "app=greeter", "-o", "jsonpath={.items[*].data.GREETING}")); after != before {
		t.Errorf("a refused up changed the greeter's config: %q, was %q", after, before)
	}
	if err := os.WriteFile(stackFile, []byte(approvedConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// A refresh before the update could do what no approved preview showed.
	if code, out := platform(t, "up", "--approved", approved, "--refresh"); code != 1 || !strings.Contains(out, "a refresh first could change that") {
		t.Errorf("up --approved --refresh exited %d, want 1 and a refusal:\n%s", code, out)
	}
	return approved
}

// checkPolicyFindings checks that the platform's policy pack judged the
// stack with the stack's pack config: every mandatory finding is excepted by
// an exception of that config, and each exception matched (it is needed).
func checkPolicyFindings(t *testing.T, stack string, events []apitype.PolicyEvent) {
	t.Helper()
	config, err := policypack.LoadConfig(shared.ConfigFile(projectRoot, stack))
	if err != nil {
		t.Fatal(err)
	}
	matched := map[string]bool{}
	for _, e := range events {
		for _, x := range e.Exceptions {
			matched[x.ID] = true
		}
		if e.EnforcementLevel == "mandatory" && len(e.Exceptions) == 0 {
			t.Errorf("a mandatory violation no exception covers: %s on %s: %s", e.PolicyName, e.ResourceURN, e.Message)
		}
	}
	for id := range config.Exceptions {
		if !matched[id] {
			t.Errorf("exception %s of %s's pack config matched no finding: the pack did not run with it, or it is no longer needed", id, stack)
		}
	}
	t.Logf("policy pack: %d findings, exceptions matched: %v", len(events), slices.Sorted(maps.Keys(matched)))
}
