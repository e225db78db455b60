//go:build e2e

package driver

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/driver/filestate"
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

// The engine takes the driver's parallelism and writes the state once per
// operation with Checkpoints AtEnd. While the state is behind, the stack
// carries the driver's mark: cleared once the engine wrote the state, whether
// the operation succeeded or failed, and left when it failed before writing
// or was killed; then Recover reports it, asks for a refresh, and the next
// update clears it.
func TestCheckpointsAtEndMarkTheStackUntilTheStateIsWritten(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: fast\n")
	atEnd := func(auto.ConfigMap) Checkpoints { return AtEnd }
	open := func(program Program) *Session {
		s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: program, Create: true, Parallel: 2, Checkpoints: atEnd})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	store := filestate.Dir(filepath.Join(dir, StateDir))
	mark := func() *filestate.Unrecorded {
		u, err := store.Unrecorded(t.Context(), "trivial", "trivial")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// Every write of the state is kept as a file of its own.
	t.Setenv("PULUMI_RETAIN_CHECKPOINTS", "true")
	writes := func() int {
		files, _ := filepath.Glob(filepath.Join(dir, StateDir, ".pulumi", "stacks", "trivial", "trivial.json.[0-9]*[0-9]"))
		return len(files)
	}
	s := open(trivialProgram)
	before := writes()
	if err := s.Up(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if n := writes() - before; n != 1 {
		// Every step: 6 writes for the stack and its component.
		t.Fatalf("the update wrote the state %d times, want once, at its end", n)
	}
	if outputs, err := s.Outputs(t.Context()); err != nil || outputs["greeting"] != "fast" {
		t.Fatalf("outputs %v, %v", outputs, err)
	}
	if u := mark(); u != nil {
		t.Fatalf("a finished update left its mark: %s", u)
	}

	// A run that fails before the engine writes the state leaves the mark:
	// what it did is not known.
	required := filepath.Join(dir, "Pulumi.yaml")
	project, err := os.ReadFile(required)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(required, append(project, "  required:\n    type: string\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := open(trivialProgram).Up(t.Context(), false); err == nil || !strings.Contains(err.Error(), "missing configuration value") {
		t.Fatalf("update without a required key: %v", err)
	}
	if u := mark(); u == nil || u.Operation != "up" || u.Pid != os.Getpid() {
		t.Fatalf("the update refused before the engine wrote left the mark %v, want this process's", u)
	}
	if err := os.WriteFile(required, project, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := store.SetUnrecorded(t.Context(), "trivial", "trivial", nil); err != nil {
		t.Fatal(err)
	}

	failing := func(auto.ConfigMap) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error { return errors.New("the program fails") }
	}
	if err := open(failing).Up(t.Context(), false); err == nil {
		t.Fatal("the failing program's update succeeded")
	}
	if u := mark(); u != nil {
		t.Fatalf("an update that failed after the engine wrote the state left its mark: %s", u)
	}

	// A killed run's mark: its process is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	killed := &filestate.Unrecorded{Lock: filestate.Lock{Pid: gone.Process.Pid, Hostname: host, Timestamp: time.Now().Add(-time.Minute)}, Operation: "up"}
	if err := store.SetUnrecorded(t.Context(), "trivial", "trivial", killed); err != nil {
		t.Fatal(err)
	}
	s = open(trivialProgram)
	recovery, err := s.Recover(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if recovery.Unrecorded == nil || recovery.Unrecorded.Pid != killed.Pid || !recovery.NeedsRefresh() {
		t.Fatalf("Recover after a killed run: %+v; want its mark reported and a refresh asked for", recovery)
	}
	if err := s.Up(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if u := mark(); u != nil {
		t.Fatalf("the update after the killed run left the mark: %s", u)
	}
	if err := s.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u := mark(); u != nil {
		t.Fatalf("destroy left its mark: %s", u)
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
	if written, err := s.Written(t.Context(), first); err != nil || written {
		t.Fatalf("written after a refresh preview: %v (%v), want not", written, err)
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
	if written, err := s.Written(t.Context(), first); err != nil || !written {
		t.Fatalf("written after an update: %v (%v), want it", written, err)
	}
}

// Secrets reach the CLI on its standard input, never in its arguments
// (readable by every local user in /proc/<pid>/cmdline), and keep every byte,
// a PEM block's trailing newline included. A wrapper of the real CLI logs the
// arguments of every run.
func TestSecretsNeverOnTheCommandLine(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	log := logCLIRuns(t)
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

// logCLIRuns puts a Pulumi CLI on PATH that logs each run's arguments, one
// line per run, to the file it returns, and runs the real CLI.
func logCLIRuns(t *testing.T) string {
	t.Helper()
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
	return log
}

// Every run starts with Open, and each CLI run costs the CLI's start (0.4 to
// 0.7 s): opening an existing stack reads its config once, selects nothing,
// and the session's Config gives that config until SetSecrets changes it.
func TestOpenRunsTheCLIOnce(t *testing.T) {
	dir := trivialProject(t, "  greeting:\n    type: string\n", "  trivial:greeting: hello\n")
	if _, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram, Create: true}); err != nil {
		t.Fatal(err)
	}
	log := logCLIRuns(t)
	runs := func() []string {
		data, _ := os.ReadFile(log)
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			// The wrapper is no Go binary: the driver asks its version.
			if line != "" && line != "version" {
				out = append(out, line)
			}
		}
		return out
	}
	s, err := Open(t.Context(), Options{ProjectDir: dir, Stack: "trivial", Program: trivialProgram})
	if err != nil {
		t.Fatal(err)
	}
	if got := runs(); len(got) != 1 || !strings.Contains(got[0], "config --show-secrets --json --stack trivial") {
		t.Fatalf("opening an existing stack ran the CLI %d times, want once, reading its config: %q", len(got), got)
	}
	config, err := s.Config(t.Context())
	if err != nil || config["trivial:greeting"].Value != "hello" {
		t.Fatalf("config %v, %v", config, err)
	}
	if got := runs(); len(got) != 1 {
		t.Fatalf("the session's Config ran the CLI again: %q", got)
	}
	if err := s.SetSecrets(t.Context(), map[string]string{"trivial:token": "t"}); err != nil {
		t.Fatal(err)
	}
	if config, err := s.Config(t.Context()); err != nil || config["trivial:token"].Value != "t" {
		t.Fatalf("config after SetSecrets: %v, %v; want the new secret read back", config, err)
	}
}

// The driver reads the CLI's version from its build information instead of
// running `pulumi version`; both must agree for the CLI scripts/tools.sh
// builds.
func TestTheCLIsVersionFromItsBuild(t *testing.T) {
	path, err := exec.LookPath("pulumi")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := builtVersion(path)
	if !ok {
		t.Fatalf("no version in the build information of %s", path)
	}
	if want := strings.TrimSpace(string(out)); "v"+got.String() != want {
		t.Fatalf("build information says v%s, `pulumi version` says %s", got, want)
	}
}
