//go:build e2e

package plugin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/acme/platform/components/workload"
)

// mockRun runs a compiled Pulumi Node.js program under @pulumi/pulumi's own
// mocks (no engine, no language host: the Node.js host's Go module is not
// served here) and prints the resources it registered, once its serviceDns
// output resolves.
const mockRun = `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setAllConfig({
    "greeter-ts:kubeconfig": "apiVersion: v1",
    "greeter-ts:image": "greeter@sha256:" + "0".repeat(64),
    "greeter-ts:apiToken": "t0ken",
}, ["greeter-ts:apiToken"]);
pulumi.runtime.setMocks({
    newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: args.name + "-id", state: { ...args.inputs, serviceDns: "dns" } };
    },
    call: (args) => args.inputs,
}, "greeter-ts", "test", false);
require(process.argv[2]).serviceDns.apply(() => {
    process.stdout.write(JSON.stringify(registered));
});
`

// TestTypeScriptProgramThroughTheSDK builds the generated TypeScript SDK
// (sdk/nodejs) as its publisher would, type-checks a service team's program
// against it (examples/greeter-ts, its dependencies pinned by its lockfile),
// runs the program under mocks, and decodes the Workload's inputs the SDK
// sent the way the plugin does: the SDK and the plugin agree on every name.
func TestTypeScriptProgramThroughTheSDK(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is not installed: `make e2e` installs it (Debian's nodejs and npm)")
	}
	work := t.TempDir()
	example := filepath.Join("..", "examples", "greeter-ts")
	for _, f := range []string{"index.ts", "package.json", "package-lock.json", "tsconfig.json"} {
		copyFile(t, filepath.Join(example, f), filepath.Join(work, f))
	}
	sdk := filepath.Join(work, "sdk")
	if err := os.CopyFS(sdk, os.DirFS(filepath.Join("..", "sdk", "nodejs"))); err != nil {
		t.Fatal(err)
	}
	run := func(dir, name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderrOf(err))
		}
		return out
	}
	run(work, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	tsc := filepath.Join(work, "node_modules", ".bin", "tsc")

	// The SDK as published: compiled to bin/ with its package.json, the
	// version set (the generator leaves ${VERSION} for the release).
	manifest, err := os.ReadFile(filepath.Join(sdk, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	manifest = []byte(strings.Replace(string(manifest), "${VERSION}", Version, 1))
	run(sdk, tsc, "-p", ".")
	if err := os.WriteFile(filepath.Join(sdk, "bin", "package.json"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "node_modules", "@acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(sdk, "bin"), filepath.Join(work, "node_modules", "@acme", "platform")); err != nil {
		t.Fatal(err)
	}
	run(work, tsc, "-p", ".")

	if err := os.WriteFile(filepath.Join(work, "mockrun.js"), []byte(mockRun), 0o644); err != nil {
		t.Fatal(err)
	}
	var registered []struct {
		Type, Name string
		Inputs     map[string]any
	}
	if err := json.Unmarshal(run(work, "node", "mockrun.js", "./bin/index.js"), &registered); err != nil {
		t.Fatal(err)
	}
	var inputs map[string]any
	for _, r := range registered {
		if r.Type == workload.TypeToken {
			inputs = r.Inputs
		}
	}
	if inputs == nil {
		t.Fatalf("the program registered no %s: %+v", workload.TypeToken, registered)
	}

	value, p := workloadComponent(t).decode(resource.NewPropertyMapFromMap(inputs), nil)
	if err := p.Err(); err != nil {
		t.Fatalf("the plugin refuses the inputs the TypeScript SDK sent: %v", err)
	}
	a := value.Interface().(workload.Args)
	if err := a.Validate().Err(); err != nil {
		t.Errorf("the TypeScript program's workload does not validate: %v", err)
	}
	if a.Environment != "local" || a.Name != "greeter-ts" || a.SecretEnv["GREETER_API_TOKEN"] != "apiToken" ||
		a.Placement.NodeSelector["type"] != "real" || len(a.Placement.Tolerations) != 1 ||
		a.Placement.Tolerations[0].Effect != "NoSchedule" {
		t.Errorf("decoded %+v: want the program's settings (environment, name, secretEnv, placement)", a)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func stderrOf(err error) string {
	if exit, ok := err.(*exec.ExitError); ok {
		return string(exit.Stderr)
	}
	return ""
}
