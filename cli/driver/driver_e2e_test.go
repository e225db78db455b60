//go:build e2e

package driver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// trivialProgram registers one component with an output taken from config:
// it needs no resource plugin, so it exercises the engine, the backend, the
// workspace's config and the inline program alone.
func trivialProgram(config auto.ConfigMap) pulumi.RunFunc {
	greeting := config["trivial:greeting"].Value
	return func(ctx *pulumi.Context) error {
		var c struct{ pulumi.ResourceState }
		if err := ctx.RegisterComponentResource("platform:test:Trivial", "trivial", &c); err != nil {
			return err
		}
		if err := ctx.RegisterResourceOutputs(&c, pulumi.Map{"greeting": pulumi.String(greeting)}); err != nil {
			return err
		}
		ctx.Export("greeting", pulumi.String(greeting))
		return nil
	}
}

// trivialProject lays out a project with the given Pulumi.yaml config block
// and stack config, on the default file backend in the project.
func trivialProject(t *testing.T, projectConfig, stackConfig string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Pulumi.yaml":         "name: trivial\nruntime: go\nconfig:\n" + projectConfig,
		"Pulumi.trivial.yaml": "config:\n" + stackConfig,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PULUMI_BACKEND_URL", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "test")
	return dir
}

func TestDriverRunsTheRealEngine(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")

	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, StateDir)); err != nil {
		t.Fatalf("no local file backend in the project: %v", err)
	}
	changes, err := s.Preview(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 || changes[0].Op != "create" {
		t.Fatalf("preview of a new stack: %+v, want creates", changes)
	}
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	outputs, err := s.Outputs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if outputs["greeting"] != "hello" {
		t.Fatalf("outputs %v", outputs)
	}
	if changes, err := s.Preview(t.Context(), false); err != nil || len(changes) != 0 {
		t.Fatalf("preview after up: %+v, %v; want no changes", changes, err)
	}
	if err := s.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Only a run that deploys creates a stack: a preview, a drift check or an
// outputs read of a stack that does not exist (a mistyped --stack, a missing
// backend setting) fails, naming the stack and the backend, and the backend
// holds no new stack afterwards.
func TestOpenWithoutCreateNeverMakesAStack(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	_, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram})
	backend := "file://" + filepath.Join(dir, StateDir)
	if err == nil || !strings.Contains(err.Error(), `stack "trivial" does not exist in the backend `+backend) {
		t.Fatalf("opening a missing stack: %v; want it refused, naming the stack and %s", err, backend)
	}
	stacks, _ := filepath.Glob(filepath.Join(dir, StateDir, ".pulumi", "stacks", "*", "*"))
	if len(stacks) != 0 {
		t.Fatalf("opening a missing stack left %v in the backend", stacks)
	}
	if _, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram}); err != nil {
		t.Fatalf("opening the stack once it exists: %v", err)
	}
}

// An operation that the CLI refuses before the engine starts must come back
// with its error, not wait for events that never come.
func TestFailureBeforeTheEngineStartsReturns(t *testing.T) {
	dir := trivialProject(t, "  required:\n    type: string\n", "  trivial:unrelated: x\n")
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := s.Preview(ctx, false); err == nil || !strings.Contains(err.Error(), "missing configuration value") {
		t.Fatalf("preview with a missing required key: %v", err)
	}
}

// The official CLI, run in the project without PULUMI_BACKEND_URL, keeps its
// state where the driver does: Pulumi.yaml's backend is the driver's StateDir,
// and the folder exists in every clone (the CLI does not create it).
func TestTheCLIUsesTheDriversBackend(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", filepath.Join(StateDir, ".gitignore")} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cli, err := exec.LookPath("pulumi")
	if err != nil {
		t.Fatal("no pulumi on PATH: run through `make e2e` (scripts/env.sh)")
	}
	cmd := exec.Command(cli, "stack", "init", "probe", "--non-interactive")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULUMI_BACKEND_URL=", "PULUMI_CONFIG_PASSPHRASE=test", "PULUMI_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pulumi stack init: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, StateDir, ".pulumi", "stacks", "platform", "probe.json")); err != nil {
		t.Fatalf("the CLI did not keep the stack in %s: %v", StateDir, err)
	}
}

// The engine takes the driver's parallelism and the final-checkpoint-only
// choice: an up and a destroy with both succeed, and the state written at
// the end holds the outputs.
func TestParallelismAndFinalCheckpointReachTheEngine(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: fast\n")
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true, Parallel: 2, FinalCheckpointOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if outputs, err := s.Outputs(t.Context()); err != nil || outputs["greeting"] != "fast" {
		t.Fatalf("outputs %v, %v", outputs, err)
	}
	if err := s.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A drift check gives no verdict when the state changed under it: the mark of
// the state is the same for two readings without a write, and differs once
// an update wrote it (a deployment that ran meanwhile).
func TestTheMarkChangesWithEveryWrite(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	first, err := s.Mark(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	again, err := s.Mark(t.Context())
	if err != nil || again != first || first.Pending != 0 {
		t.Fatalf("marks around a refresh preview: %+v then %+v (%v); want the same, nothing pending", first, again, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.trivial.yaml"), []byte("config:\n  trivial:greeting: hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if after, err := s.Mark(t.Context()); err != nil || after == first {
		t.Fatalf("mark after an update: %+v (%v); want another than %+v", after, err, first)
	}
}

// Secrets reach the CLI on its standard input, never in its arguments
// (readable by every local user in /proc/<pid>/cmdline), and keep every byte,
// a PEM block's trailing newline included. A wrapper of the real CLI logs the
// arguments of every run.
func TestSecretsNeverOnTheCommandLine(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	real, err := exec.LookPath("pulumi")
	if err != nil {
		t.Fatal(err)
	}
	bin, log := t.TempDir(), filepath.Join(t.TempDir(), "args.log")
	wrapper := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	key := "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
	if err := s.SetSecrets(t.Context(), map[string]string{"trivial:tlsKey": key, "trivial:token": "s3cr3t-token"}); err != nil {
		t.Fatal(err)
	}
	config, err := s.Config(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := config["trivial:tlsKey"]; v.Value != key || !v.Secret {
		t.Errorf("the key read back as %q (secret %v), want it byte for byte, secret", v.Value, v.Secret)
	}
	args, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(args), "config set --secret --raw") {
		t.Fatalf("the wrapper saw no config set: the test is broken:\n%s", args)
	}
	for _, secret := range []string{"c2VjcmV0LWtleS1tYXRlcmlhbA==", "s3cr3t-token"} {
		if strings.Contains(string(args), secret) {
			t.Errorf("a secret was on the CLI's command line:\n%s", args)
		}
	}
}

// Recovery rewrites the state through a temporary file: it reads the state
// as the backend keeps it, secrets as ciphertext, so a run killed meanwhile
// leaves no secret in clear on disk.
func TestTheStateIsReadWithSecretsEncrypted(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	secretProgram := func(config auto.ConfigMap) pulumi.RunFunc {
		token := config["trivial:token"].Value
		return func(ctx *pulumi.Context) error {
			ctx.Export("token", pulumi.ToSecret(pulumi.String(token)))
			return nil
		}
	}
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: secretProgram, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecrets(t.Context(), map[string]string{"trivial:token": "s3cr3t-in-state"}); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: secretProgram}); err != nil {
		t.Fatal(err)
	}
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	state, err := s.export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(state.Deployment), "ciphertext") {
		t.Fatalf("the state holds no encrypted value: the test is broken\n%s", state.Deployment)
	}
	if strings.Contains(string(state.Deployment), "s3cr3t-in-state") {
		t.Error("the state was read with its secrets in clear")
	}
}
