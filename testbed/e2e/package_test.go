//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	pulumi := func(args ...string) (string, error) {
		cmd := exec.Command("pulumi", append(args, "--non-interactive")...)
		cmd.Dir = dir
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
	must("up", "--yes", "--skip-preview")

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
}
