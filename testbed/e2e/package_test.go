//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/acme/platform/stacks/stackstest"
)

// TestYAMLProgramDeclaresAWorkload runs a service team's Pulumi YAML program
// (examples/greeter-yaml) on the real engine with the YAML language host and
// the package's plugin built from this checkout: up, the greeter's pod
// ready on the real node with its secret from the program's config (never
// plaintext in the state), a preview without changes, a bad input refused
// with its key, and destroy.
func TestYAMLProgramDeclaresAWorkload(t *testing.T) {
	requireRealNode(t)
	work := t.TempDir()
	plugins := filepath.Join(work, "plugins")
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "pulumi-resource-platform"), "./cmd/pulumi-resource-platform")
	build.Dir = projectRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	program, err := os.ReadFile(filepath.Join(projectRoot, "examples", "greeter-yaml", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "program")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The plugin from this checkout, by path: nothing is installed into the
	// shared Pulumi home.
	program = append(program, []byte("plugins:\n  providers:\n    - name: platform\n      path: "+plugins+"\n")...)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), program, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(work, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULUMI_BACKEND_URL", "file://"+state)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", stackstest.LocalPassphrase)
	// The YAML language host (scripts/tools.sh yaml_language) is on PATH:
	// YAML is bundled with the CLI, and never installed into a Pulumi home.
	t.Setenv("PULUMI_IGNORE_AMBIENT_PLUGINS", "false")

	// The CLI and its plugins get a temporary folder in the test's: the
	// Kubernetes plugin leaves its kubeconfig there (checked at the end).
	tmp := filepath.Join(work, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	pulumi := func(args ...string) (string, error) {
		cmd := exec.Command("pulumi", append(args, "--non-interactive")...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "TMPDIR="+tmp)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		start := time.Now()
		out, err := pulumi(args...)
		if err != nil {
			t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("pulumi %s: %s", args[0], time.Since(start).Round(time.Millisecond))
		return out
	}
	token := "yaml-e2e-token-" + strings.Repeat("x", 12)
	must("stack", "init", "e2e")
	must("config", "set", "kubeconfig", env.cluster.Kubeconfig())
	must("config", "set", "image", localImage())
	must("config", "set", "--secret", "apiToken", token)

	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if out, err := pulumi("destroy", "--yes", "--skip-preview"); err != nil {
				t.Errorf("cleaning up: pulumi destroy: %v\n%s", err, out)
			}
		}
	})
	// The platform's policy pack, built beside the platform command, with
	// its defaults: the team's Workload meets every mandatory rule.
	pack := []string{"--policy-pack", filepath.Join(filepath.Dir(env.platform), "pulumi-analyzer-policy-platform"), "--policy-pack-config", os.DevNull}
	must(append([]string{"up", "--yes", "--skip-preview"}, pack...)...)

	ready := string(kubectl(t, "-n", "greeter-yaml", "get", "deployment", "greeter-yaml", "-o", "jsonpath={.status.readyReplicas}"))
	if ready != "1" {
		t.Errorf("the YAML program's greeter has %q ready replicas, want 1", ready)
	}
	node := string(kubectl(t, "-n", "greeter-yaml", "get", "pods", "-o", "jsonpath={.items[*].spec.nodeName} {.items[*].status.phase}"))
	if !strings.Contains(node, "Running") || strings.Contains(node, "kwok") {
		t.Errorf("the greeter's pod is %q: want it Running on the real node", node)
	}
	// The token reached the pod's Secret from the program's secret config.
	encoded := string(kubectl(t, "-n", "greeter-yaml", "get", "secrets", "-o", "jsonpath={.items[*].data.GREETER_API_TOKEN}"))
	if decoded, err := base64.StdEncoding.DecodeString(encoded); err != nil || string(decoded) != token {
		t.Errorf("the greeter's Secret holds GREETER_API_TOKEN %q (%v), want the program's secret config", decoded, err)
	}
	if state := must("stack", "export", "--show-secrets=false"); strings.Contains(state, token) {
		t.Error("the API token is plaintext in the state")
	}
	if outputs := must("stack", "output", "serviceDns"); !strings.Contains(outputs, "greeter-yaml.greeter-yaml.svc.cluster.local") {
		t.Errorf("output serviceDns = %q", outputs)
	}
	must("preview", "--expect-no-changes")

	// The pack judges any program's resources, not only the components': a
	// raw Deployment beside the Workload that breaks three rules fails the
	// preview, each violation naming its rule, the resource's URN and the
	// property path; the same Deployment fixed passes.
	// --event-log (the engine's events, the URNs among them) is there with
	// PULUMI_DEBUG_COMMANDS, as the Automation API runs the CLI (pkg/v3
	// v3.274.1 cmd/pulumi/operations/preview.go).
	t.Setenv("PULUMI_DEBUG_COMMANDS", "true")
	judge := func(image, readiness, resources string) (error, []apitype.PolicyEvent) {
		t.Helper()
		raw := strings.NewReplacer("IMAGE", image, "READINESS", readiness, "RESOURCES", resources).Replace(rawDeployment)
		withRaw := bytes.Replace(program, []byte("outputs:\n"), []byte(raw+"outputs:\n"), 1)
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), withRaw, 0o644); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(work, "events.json")
		if err := os.Remove(log); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out, err := pulumi(append([]string{"preview", "--event-log", log}, pack...)...)
		t.Logf("pulumi preview with the raw Deployment:\n%s", out)
		return err, policyEvents(t, log)
	}
	err, events := judge("ghcr.io/acme/greeter:0.1.0", "/healthz", "")
	broken := map[string]string{}
	for _, e := range events {
		if e.EnforcementLevel != "mandatory" {
			continue
		}
		if !strings.HasSuffix(e.ResourceURN, "kubernetes:apps/v1:Deployment::raw") {
			t.Errorf("a mandatory violation on %s, not the raw Deployment: %s %s", e.ResourceURN, e.PolicyName, e.Message)
		}
		broken[e.PolicyName] = e.Message
	}
	for rule, path := range map[string]string{
		"images-pinned-by-digest": "spec.template.spec.containers[0].image",
		"resources-bounded":       "spec.template.spec.containers[0].resources.",
		"probes-distinct":         "spec.template.spec.containers[0].readinessProbe",
	} {
		if !strings.Contains(broken[rule], path) {
			t.Errorf("%s: want a mandatory violation at %s, got %q", rule, path, broken[rule])
		}
	}
	if err == nil || len(broken) != 3 {
		t.Errorf("the preview with a Deployment that breaks three rules: exit %v, violated %d rules, want 3: %v", err, len(broken), broken)
	}
	err, events = judge(localImage(), "/readyz", rawResources)
	if err != nil {
		t.Errorf("the fixed Deployment's preview failed: %v", err)
	}
	for _, e := range events {
		if e.EnforcementLevel == "mandatory" {
			t.Errorf("the fixed Deployment still breaks %s: %s", e.PolicyName, e.Message)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), program, 0o644); err != nil {
		t.Fatal(err)
	}

	// A bad input fails before anything changes, naming the key, the value
	// and what is allowed, as a bad stack config does in the Go program.
	bad := bytes.Replace(program, []byte("      version: 0.1.0\n"), []byte("      version: 0.1.0\n      replicas: 0\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := pulumi("preview")
	if err == nil || !strings.Contains(out, "replicas: 0: must be at least 1") {
		t.Errorf("a preview with replicas 0: want it refused naming replicas, got %v:\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), program, 0o644); err != nil {
		t.Fatal(err)
	}

	must("destroy", "--yes", "--skip-preview")
	destroyed = true
	if left := must("stack", "export"); strings.Contains(left, "platform:workload:Workload") {
		t.Error("the workload is still in the state after destroy")
	}

	// What the platform command's supervisor guards against with a TMPDIR of
	// each run's own (cli/driver/supervise.go; the suite fails on anything a
	// run leaves in its TMPDIR): the Kubernetes plugin copies the kubeconfig
	// it is given, credentials included, into TMPDIR at every Configure and
	// never removes it. Plain `pulumi` runs of a service team leave them too.
	copies, _ := filepath.Glob(filepath.Join(tmp, "kubeconfig*"))
	if len(copies) == 0 {
		t.Error("the Kubernetes plugin left no kubeconfig in TMPDIR: if upstream now removes it, the supervisor's own TMPDIR is no longer needed")
	}
	t.Logf("the plain pulumi runs left %d copies of the kubeconfig in their TMPDIR", len(copies))
}

// rawDeployment is a Kubernetes Deployment declared in the YAML program
// itself, beside the Workload: restricted, in the Workload's namespace
// (which has its default-deny policy); the image, the readiness path and
// the resources are filled in.
const rawDeployment = `  raw:
    type: kubernetes:apps/v1:Deployment
    properties:
      metadata:
        name: raw
        namespace: greeter-yaml
      spec:
        replicas: 1
        selector:
          matchLabels: {app: raw}
        template:
          metadata:
            labels: {app: raw}
          spec:
            securityContext:
              runAsNonRoot: true
              seccompProfile: {type: RuntimeDefault}
            containers:
              - name: raw
                image: IMAGE
                securityContext:
                  allowPrivilegeEscalation: false
                  capabilities: {drop: [ALL]}
                livenessProbe: {httpGet: {path: /healthz, port: 8080}}
                readinessProbe: {httpGet: {path: READINESS, port: 8080}}
RESOURCES    options:
      provider: ${cluster}
`

// rawResources bounds the raw Deployment's container.
const rawResources = `                resources:
                  requests: {cpu: 10m, memory: 32Mi, ephemeral-storage: 16Mi}
                  limits: {cpu: 100m, memory: 64Mi, ephemeral-storage: 64Mi}
`

// policyEvents are the policy violations an engine event log holds.
func policyEvents(t *testing.T, path string) []apitype.PolicyEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []apitype.PolicyEvent
	for _, line := range bytes.Split(data, []byte("\n")) {
		var e apitype.EngineEvent
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.PolicyEvent == nil {
			continue
		}
		out = append(out, *e.PolicyEvent)
	}
	return out
}
