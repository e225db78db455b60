// Package driver runs a Pulumi program on the real engine through the
// Automation API. The workspace's WorkDir is the project root, so it reads the
// same Pulumi.yaml and Pulumi.<stack>.yaml as `pulumi up`; the program runs
// inline in this process, so no Go language host is needed.
package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/changes"
	"github.com/acme/platform/cli/driver/filestate"
)

// Program builds the program to run from the stack's config, as the
// workspace reads it (secrets decrypted, flagged Secret).
type Program func(config auto.ConfigMap) pulumi.RunFunc

// Options say which project and stack to run, and where progress goes.
type Options struct {
	// ProjectDir holds Pulumi.yaml and the stack files.
	ProjectDir string
	// Stack is the stack name, e.g. "local".
	Stack string
	// Program is the program to run.
	Program Program
	// Progress receives the engine's progress display (nil: discarded).
	Progress io.Writer
	// Events, when set, receives every engine event as a line of JSON
	// (for debugging, and to record test fixtures).
	Events io.Writer
	// Abort, once closed, stops a running engine at once instead of letting
	// it finish the operations in flight (as cancelling the context does).
	Abort <-chan struct{}
	// Parallel is how many resource operations the engine runs at once;
	// 0 leaves the engine's default (4 per CPU: 8 on 2 cores).
	Parallel int
	// Checkpoints decides from the stack's config when the engine writes
	// the state during an update, refresh or destroy (nil: EveryStep).
	Checkpoints func(config auto.ConfigMap) Checkpoints
	// PolicyPacks are the policy packs the engine runs on every preview
	// and update (--policy-pack): an analyzer executable or a pack folder.
	PolicyPacks []string
	// PolicyPackConfigs are their configs (--policy-pack-config), by index;
	// "" runs a pack with its defaults.
	PolicyPackConfigs []string
	// Create makes the stack in the backend when it does not exist yet (up,
	// certs). Without it Open selects the stack and fails, naming the stack
	// and the backend, when it is missing: a mistyped --stack or a missing
	// backend setting never runs a preview, a drift check or an outputs read
	// against a new, empty stack (and never creates one in the backend).
	Create bool
}

// Checkpoints says when the engine writes a stack's state during an
// operation that changes it.
type Checkpoints int

const (
	// EveryStep writes the whole state after every step (the engine's
	// default): a run killed midway has every finished step recorded, and
	// its steps in flight pending. On a file backend each write is the whole
	// state: about 1 GB written by an up of 400 resources, three times slower
	// than AtEnd.
	EveryStep Checkpoints = iota
	// AtEnd writes it once, when the operation ends (PULUMI_SKIP_CHECKPOINTS).
	// A run killed midway leaves the state as it was, so the driver marks the
	// stack before such an operation and clears the mark once the engine
	// wrote the state (filestate.Unrecorded); Recover reports a mark left
	// behind, and the next update refreshes first and makes, under the same
	// names, what the killed run made (server-side apply adopts it). Only
	// right for programs whose every resource can be made twice that way:
	// Kubernetes objects named by the program, no repositories, no image
	// pushes. On a backend whose insides the driver cannot read (not a
	// folder or an S3 bucket) it is EveryStep.
	AtEnd
)

// DefaultParallel is the platform command's engine parallelism: most of an
// up's operations wait on the API server (a Deployment's rollout, a
// namespace's deletion), not on this machine's CPUs, so far more than the
// engine's 4 per CPU run at once (make bench -only scale measures it).
const DefaultParallel = 64

// StateDir is the local file backend's folder (git-ignored), used unless
// PULUMI_BACKEND_URL names another backend.
const StateDir = ".state"

// Session is an opened stack, ready to run operations on.
type Session struct {
	stack    auto.Stack
	parallel int
	progress io.Writer
	events   io.Writer
	project  string
	// name is the stack's own name.
	name string
	// locks is where the backend keeps its locks, when the driver can read
	// them: a file backend's folder or an S3 bucket (nil for others).
	locks filestate.Store
	// repaired are the files Open repaired before opening the stack.
	repaired []string
	// secrets are the values of the stack's secret config, masked wherever
	// a change shows them.
	secrets []string
	// policyPacks and policyPackConfigs are Options' (same lengths).
	policyPacks, policyPackConfigs []string
	// config is the stack's config as Open read it for the program; nil
	// once SetSecrets changed it.
	config auto.ConfigMap
	// atEnd says that the engine writes the state only when an operation
	// ends (Options.Checkpoints AtEnd, on a backend with a Store).
	atEnd bool
}

// Open opens the stack (creating it when opts.Create says so) and builds
// the program from the stack's config.
func Open(ctx context.Context, opts Options) (*Session, error) {
	root, err := filepath.Abs(opts.ProjectDir)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	backend := os.Getenv("PULUMI_BACKEND_URL")
	if backend == "" {
		state := filepath.Join(root, StateDir)
		if err := os.MkdirAll(state, 0o700); err != nil {
			return nil, err
		}
		backend = "file://" + state
		env["PULUMI_BACKEND_URL"] = backend
	}
	cli, err := newSupervisedCLI(opts.Abort)
	if err != nil {
		return nil, fmt.Errorf("finding the Pulumi CLI (scripts/tools.sh provides it): %w", err)
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(root), auto.EnvVars(env), auto.Pulumi(cli))
	if err != nil {
		return nil, fmt.Errorf("opening workspace %s: %w", root, err)
	}
	project, err := ws.ProjectSettings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(root, "Pulumi.yaml"), err)
	}
	var repaired []string
	if dir := fileBackendDir(backend); dir != "" {
		if repaired, err = filestate.RepairSidecars(dir, string(project.Name), StackName(opts.Stack)); err != nil {
			return nil, fmt.Errorf("repairing the state backend %s: %w", dir, err)
		}
	}
	stack, config, err := openStack(ctx, opts, ws, backend)
	if err != nil {
		return nil, err
	}
	ws.SetProgram(opts.Program(config))
	atEnd := opts.Checkpoints != nil && opts.Checkpoints(config) == AtEnd && lockStore(backend) != nil
	if atEnd {
		ws.SetEnvVar("PULUMI_SKIP_CHECKPOINTS", "true")
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	return &Session{
		stack: stack, parallel: opts.Parallel, progress: progress, events: opts.Events,
		project: string(project.Name), name: StackName(opts.Stack), locks: lockStore(backend), repaired: repaired, secrets: secretValues(config),
		policyPacks: opts.PolicyPacks, policyPackConfigs: packConfigs(opts), config: config,
		atEnd: atEnd,
	}, nil
}

// packConfigs are the configs of opts.PolicyPacks, one per pack: the
// engine pairs them by index, and its flag (a comma-separated list) drops an
// empty value, so a pack without config gets /dev/null, an empty config
// (its defaults; pkg/v3 v3.274.1 resource/analyzer/config.go accepts empty
// content).
func packConfigs(opts Options) []string {
	configs := make([]string, len(opts.PolicyPacks))
	for i := range configs {
		configs[i] = os.DevNull
		if i < len(opts.PolicyPackConfigs) && opts.PolicyPackConfigs[i] != "" {
			configs[i] = opts.PolicyPackConfigs[i]
		}
	}
	return configs
}

// openStack reads the stack's config, creating the stack first when it is
// missing and opts.Create allows. Reading the config is the one CLI run Open
// needs: it fails as `stack select` does for a missing stack, and every
// operation names the stack (--stack), so none is selected.
func openStack(ctx context.Context, opts Options, ws auto.Workspace, backend string) (auto.Stack, auto.ConfigMap, error) {
	stack, err := auto.SelectStack(ctx, opts.Stack, unselected{ws})
	if err != nil {
		return stack, nil, err
	}
	config, err := stack.GetAllConfig(ctx)
	if auto.IsSelectStack404Error(err) {
		if !opts.Create {
			return stack, nil, fmt.Errorf("stack %q does not exist in the backend %s: `platform up --stack %s` creates it; check --stack, and PULUMI_BACKEND_URL if the stack lives elsewhere", opts.Stack, backend, opts.Stack)
		}
		if stack, err = auto.NewStack(ctx, opts.Stack, ws); err != nil {
			return stack, nil, fmt.Errorf("creating stack %q: %w", opts.Stack, err)
		}
		config, err = stack.GetAllConfig(ctx)
	}
	if err != nil {
		return stack, nil, fmt.Errorf("reading config of stack %q: %w", opts.Stack, err)
	}
	return stack, config, nil
}

// unselected is a workspace whose SelectStack runs nothing (see openStack).
type unselected struct{ auto.Workspace }

// SelectStack does nothing: the stack is checked by reading its config.
func (unselected) SelectStack(context.Context, string) error { return nil }

// StackName is a stack's own name, without the organization (and project) a
// fully qualified name puts before it.
func StackName(stack string) string { return stack[strings.LastIndex(stack, "/")+1:] }

// lockStore is where the backend the URL names keeps its locks, when the
// driver can read them.
func lockStore(url string) filestate.Store {
	if dir := fileBackendDir(url); dir != "" {
		return filestate.Dir(dir)
	}
	if filestate.IsBucket(url) {
		return filestate.Bucket(url)
	}
	return nil
}

// fileBackendDir is the folder a file:// backend URL names, or "".
func fileBackendDir(url string) string {
	dir, ok := strings.CutPrefix(url, "file://")
	if !ok {
		return ""
	}
	if strings.HasPrefix(dir, "~") {
		if home, err := os.UserHomeDir(); err == nil {
			dir = home + dir[1:]
		}
	}
	return filepath.Clean(dir)
}

// Preview previews an update and returns the changes it would make. With
// diff the display shows each changed property (as on pull requests); without
// it, the program's messages show too.
func (s *Session) Preview(ctx context.Context, diff bool) (changes.Changes, error) {
	ch, done := s.collect()
	opts := []optpreview.Option{optpreview.ProgressStreams(s.progress), optpreview.EventStreams(ch)}
	if s.parallel > 0 {
		opts = append(opts, optpreview.Parallel(s.parallel))
	}
	if diff {
		opts = append(opts, optpreview.Diff())
	}
	if len(s.policyPacks) > 0 {
		opts = append(opts, optpreview.PolicyPacks(s.policyPacks...), optpreview.PolicyPackConfigs(s.policyPackConfigs...))
	}
	_, err := s.stack.Preview(ctx, opts...)
	return done(err), err
}

// Up updates the stack; with Options.Events, every event is written first.
func (s *Session) Up(ctx context.Context, refresh bool) error {
	ch, done := s.collect()
	opts := []optup.Option{optup.ProgressStreams(s.progress), optup.EventStreams(ch)}
	if s.parallel > 0 {
		opts = append(opts, optup.Parallel(s.parallel))
	}
	if refresh {
		opts = append(opts, optup.Refresh())
	}
	if len(s.policyPacks) > 0 {
		opts = append(opts, optup.PolicyPacks(s.policyPacks...), optup.PolicyPackConfigs(s.policyPackConfigs...))
	}
	return s.recorded(ctx, "up", refresh, func() error {
		_, err := s.stack.Up(ctx, opts...)
		done(err)
		return err
	})
}

// Refresh reads every resource back from its provider and returns what
// differs from the state. With previewOnly the state is not written.
func (s *Session) Refresh(ctx context.Context, previewOnly bool) (changes.Changes, error) {
	ch, done := s.collect()
	opts := []optrefresh.Option{optrefresh.ProgressStreams(s.progress), optrefresh.EventStreams(ch)}
	if s.parallel > 0 {
		opts = append(opts, optrefresh.Parallel(s.parallel))
	}
	var err error
	if previewOnly {
		_, err = s.stack.PreviewRefresh(ctx, opts...)
	} else {
		err = s.recorded(ctx, "refresh", true, func() error {
			_, err := s.stack.Refresh(ctx, opts...)
			return err
		})
	}
	return done(err), err
}

// Config returns the stack's config as the workspace reads it: the config
// the program runs with, read again only after SetSecrets changed it.
func (s *Session) Config(ctx context.Context) (auto.ConfigMap, error) {
	if s.config != nil {
		return maps.Clone(s.config), nil
	}
	return s.stack.GetAllConfig(ctx)
}

// Destroy deletes every resource of the stack.
func (s *Session) Destroy(ctx context.Context) error {
	opts := []optdestroy.Option{optdestroy.ProgressStreams(s.progress)}
	if s.parallel > 0 {
		opts = append(opts, optdestroy.Parallel(s.parallel))
	}
	return s.recorded(ctx, "destroy", false, func() error {
		_, err := s.stack.Destroy(ctx, opts...)
		return err
	})
}

// Outputs returns the stack outputs; secret ones are masked.
func (s *Session) Outputs(ctx context.Context) (map[string]any, error) {
	outputs, err := s.stack.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	plain := map[string]any{}
	for k, v := range outputs {
		if v.Secret {
			plain[k] = "[secret]"
		} else {
			plain[k] = v.Value
		}
	}
	return plain, nil
}

// collect gathers the changes that engine events report. done, given the
// operation's error, waits for the event stream to close and returns them.
// An operation that failed before its event stream started never closes the
// channel, so on error done returns at once, with no changes.
func (s *Session) collect() (chan<- events.EngineEvent, func(error) changes.Changes) {
	ch := make(chan events.EngineEvent)
	result := make(chan changes.Changes, 1)
	go func() {
		recorded := changes.Recorder{Secrets: s.secrets}
		var enc *json.Encoder
		if s.events != nil {
			enc = json.NewEncoder(s.events)
		}
		for e := range ch {
			if enc != nil {
				_ = enc.Encode(e.EngineEvent)
			}
			recorded.Record(e.EngineEvent)
		}
		result <- recorded.Changes()
	}()
	return ch, func(err error) changes.Changes {
		if err != nil {
			return nil
		}
		return <-result
	}
}

// SetSecrets stores values as secret config of the stack, encrypted by the
// stack's secrets provider, in its stack file.
//
// Each value reaches the CLI on its standard input, never as an argument:
// arguments are readable by every local user in /proc/<pid>/cmdline, and
// the SDK's SetAllConfig passes `--secret key=value`. `pulumi config set`
// reads a value from stdin when none is given and stdin is no terminal, and
// keeps its trailing newline with --raw (pkg/v3 v3.274.1,
// cmd/pulumi/config/config.go: configSetCmd.Run, the "raw" flag).
func (s *Session) SetSecrets(ctx context.Context, values map[string]string) error {
	s.config = nil
	for _, key := range slices.Sorted(maps.Keys(values)) {
		if _, err := s.cli(ctx, strings.NewReader(values[key]), "config", "set", "--secret", "--raw", "--stack", s.stack.Name(), key); err != nil {
			return fmt.Errorf("setting %s of stack %q: %w", key, s.stack.Name(), err)
		}
	}
	return nil
}

// Unprotect clears the protect flag of every resource in the state (`pulumi
// state unprotect --all`): the deliberate step before destroying a stack
// whose stateful resources are protected (prod).
func (s *Session) Unprotect(ctx context.Context) error {
	if _, err := s.cli(ctx, nil, "state", "unprotect", "--all", "--yes", "--stack", s.stack.Name()); err != nil {
		return fmt.Errorf("unprotecting the resources of stack %q: %w", s.stack.Name(), err)
	}
	return nil
}

// cli runs one command of the workspace's (supervised) CLI, with the
// workspace's environment, and returns its standard output; an error carries
// its standard error.
func (s *Session) cli(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	ws := s.stack.Workspace()
	var env []string
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	stdout, stderr, _, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), stdin, nil, nil, env, args...)
	if err != nil {
		return stdout, fmt.Errorf("%w: %s", err, stderr)
	}
	return stdout, nil
}

// secretValues are the values of the secret entries of a stack's config.
func secretValues(config auto.ConfigMap) []string {
	var out []string
	for _, v := range config {
		if v.Secret {
			out = append(out, v.Value)
		}
	}
	return out
}
