// Command platform runs the platform program on the real Pulumi engine
// through the Automation API, reading the same Pulumi.yaml and stack files as
// `pulumi up`:
//
//	platform preview  --stack local [--expect-no-changes] [--diff]
//	platform up       --stack local [--refresh]
//	platform refresh  --stack local [--preview-only] [--expect-no-changes]
//	platform destroy  --stack local [--unprotect]
//	platform outputs  --stack local
//	platform drift    --stack local [--format table|json|markdown] [--remediate]
//	platform certs    --stack prod [--days 730] [--renew]
//	platform cancel   --stack local
//
// Exit codes: 0 success; 1 error; 2 changes found where --expect-no-changes
// said there should be none. drift: 0 clean, 2 drift found (also when
// --remediate then repaired it), 1 error, never 0 when the engine failed.
// --events FILE writes every engine event as JSON lines. certs makes
// Elasticsearch's CA and certificate once and stores them as secret config of
// the stack, so every later run uses the same ones.
//
// Runs are crash-safe: the engine and its plugins die with the driver (see
// internal/driver's supervisor); SIGINT or SIGTERM lets the engine finish
// what it started and stop, a second one stops it at once. Every command
// first removes locks left by runs whose process is gone on this host, and
// up, refresh and destroy clear the operations such a run left pending (up
// then refreshes). cancel removes the stack's locks unless a live process
// here holds one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/acme/platform/internal/drift"
	"github.com/acme/platform/internal/driver"
	"github.com/acme/platform/stacks"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

const usage = `usage: platform <preview|up|refresh|destroy|outputs|drift|certs|cancel> --stack NAME [flags]

Runs the platform program on the Pulumi engine (Automation API, inline program).
Exit codes: 0 success, 1 error, 2 changes found with --expect-no-changes;
drift: 0 clean, 2 drift found, 1 error.
`

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	abort := make(chan struct{})
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		fmt.Fprintf(os.Stderr, "platform: %v: the engine finishes the operations in flight and stops; signal again to stop it at once\n", s)
		cancel()
		s = <-signals
		fmt.Fprintf(os.Stderr, "platform: %v: stopping the engine now; the next run clears what it leaves pending\n", s)
		close(abort)
	}()
	os.Exit(run(ctx, abort, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	command := args[0]
	if !slices.Contains([]string{"preview", "up", "refresh", "destroy", "outputs", "drift", "certs", "cancel"}, command) {
		fmt.Fprintf(stderr, "platform: unknown command %q\n%s", command, usage)
		return exitError
	}
	flags := flag.NewFlagSet("platform "+command, flag.ContinueOnError)
	flags.SetOutput(stderr)
	stack := flags.String("stack", "", "stack name: local, dev or prod")
	dir := flags.String("cwd", "", "project directory (default: the nearest folder above with a Pulumi.yaml)")
	expectNoChanges := flags.Bool("expect-no-changes", false, "preview, refresh: exit 2 if anything would change")
	previewOnly := flags.Bool("preview-only", false, "refresh: report drift without writing the state")
	refresh := flags.Bool("refresh", false, "up: refresh the state before updating")
	diff := flags.Bool("diff", false, "preview: show the changed properties of every resource")
	format := flags.String("format", "table", "drift: report format, table, json or markdown")
	remediate := flags.Bool("remediate", false, "drift: run up --refresh after reporting, if the stack's platform:drift config allows it")
	eventsFile := flags.String("events", "", "write every engine event to this file as JSON lines")
	days := flags.Int("days", 730, "certs: how long the certificate is valid (its CA twice as long)")
	renew := flags.Bool("renew", false, "certs: replace certificates that are still valid")
	unprotect := flags.Bool("unprotect", false, "destroy: first clear the protection of every resource (prod's namespaces and stateful sets)")
	parallel := flags.Int("parallel", driver.DefaultParallel, "how many resource operations the engine runs at once (make bench -only scale measures it)")
	finalCheckpoint := flags.Bool("final-checkpoint-only", false, "write the state once at the end, not after every step: 3x faster at hundreds of resources, but a killed run's creations are unknown to the next")
	if err := flags.Parse(args[1:]); err != nil {
		return exitError
	}
	if *stack == "" {
		fmt.Fprintln(stderr, "platform: --stack is required")
		return exitError
	}
	projectDir, err := findProject(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	opts := driver.Options{ProjectDir: projectDir, Stack: *stack, Program: stacks.ProgramForWorkspace, Progress: stdout, Abort: abort, Parallel: *parallel, FinalCheckpointOnly: *finalCheckpoint}
	if *eventsFile != "" {
		f, err := os.Create(*eventsFile)
		if err != nil {
			fmt.Fprintln(stderr, "platform:", err)
			return exitError
		}
		defer f.Close()
		opts.Events = f
	}
	if command == "drift" {
		// The report is the output: engine progress goes to stderr.
		opts.Progress = stderr
	}
	session, err := driver.Open(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	if command == "cancel" {
		return runCancel(ctx, session, *stack, stdout, stderr)
	}
	// A run that changes the stack clears what a killed run left pending.
	mutates := command == "up" || command == "refresh" && !*previewOnly || command == "destroy" || command == "drift" && *remediate
	recovery, err := session.Recover(ctx, mutates)
	reportRecovery(stderr, *stack, recovery)
	if err != nil {
		fmt.Fprintf(stderr, "platform: recovering stack %q: %v\n", *stack, err)
		return exitError
	}
	if recovery.NeedsRefresh() && command == "up" && !*refresh {
		fmt.Fprintln(stderr, "platform: refreshing before the update: the cleared operations may or may not have happened")
		*refresh = true
	}
	if command == "drift" {
		return runDrift(ctx, session, *stack, projectDir, *format, *remediate, stdout, stderr)
	}
	if command == "certs" {
		return runCerts(ctx, session, *stack, *days, *renew, stdout, stderr)
	}

	var changes driver.Changes
	switch command {
	case "preview":
		changes, err = session.Preview(ctx, *diff)
	case "up":
		err = session.Up(ctx, *refresh)
	case "refresh":
		changes, err = session.Refresh(ctx, *previewOnly)
	case "destroy":
		if *unprotect {
			err = session.Unprotect(ctx)
		}
		if err == nil {
			err = session.Destroy(ctx)
		}
	case "outputs":
		var outputs map[string]any
		if outputs, err = session.Outputs(ctx); err == nil {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(outputs)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "platform: %s of stack %q failed: %v\n", command, *stack, err)
		for _, hint := range hints(err, *stack) {
			fmt.Fprintln(stderr, "platform:", hint)
		}
		return exitError
	}
	if *expectNoChanges && len(changes) > 0 {
		fmt.Fprintf(stderr, "platform: %s of stack %q found %d changed resources, expected none:\n", command, *stack, len(changes))
		for _, c := range changes {
			fmt.Fprintf(stderr, "  %-8s %s %s\n", c.Op, c.URN, strings.Join(c.Paths, ", "))
		}
		return exitChanges
	}
	return exitOK
}

// hints says what to do about engine errors that have a known remedy.
func hints(err error, stack string) []string {
	msg := err.Error()
	var out []string
	if strings.Contains(msg, "currently locked") {
		out = append(out, fmt.Sprintf("another run holds the lock; once it has ended, `platform cancel --stack %s` removes the lock", stack))
	}
	return append(out, stacks.Hints(msg)...)
}

// reportRecovery says what was done to recover from a killed run.
func reportRecovery(w io.Writer, stack string, r driver.Recovery) {
	for _, f := range r.RepairedFiles {
		fmt.Fprintf(w, "platform: removed %s, a metadata file a killed run left truncated in the state backend\n", f)
	}
	for _, l := range r.RemovedLocks {
		fmt.Fprintf(w, "platform: removed the lock on stack %q left by a run that no longer exists (%s)\n", stack, l)
	}
	if len(r.ClearedOperations) > 0 {
		fmt.Fprintf(w, "platform: cleared %d operations a killed run left pending on stack %q:\n", len(r.ClearedOperations), stack)
		for _, op := range r.ClearedOperations {
			fmt.Fprintf(w, "  %-9s %s\n", op.Type, op.URN)
		}
	}
}

// runCancel removes the stack's locks unless a live process here holds one.
func runCancel(ctx context.Context, s *driver.Session, stack string, stdout, stderr io.Writer) int {
	locks, err := s.Cancel(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "platform: cancel of stack %q: %v\n", stack, err)
		return exitError
	}
	if len(locks) == 0 {
		fmt.Fprintf(stdout, "stack %q: no lock to remove\n", stack)
	}
	for _, l := range locks {
		fmt.Fprintf(stdout, "stack %q: removed the lock of %s\n", stack, l)
	}
	return exitOK
}

// runDrift reports what changed outside Pulumi, from a refresh preview that
// never writes the state, and remediates it on request where allowed.
func runDrift(ctx context.Context, s *driver.Session, stack, projectDir, format string, remediate bool, stdout, stderr io.Writer) int {
	if format != "table" && format != "json" && format != "markdown" {
		fmt.Fprintf(stderr, "platform: --format %q: want table, json or markdown\n", format)
		return drift.ExitError
	}
	config, err := s.Config(ctx)
	var policy stacks.DriftPolicy
	if err == nil {
		policy, err = stacks.DriftPolicyOf(config, stacks.Environ{ProjectRoot: projectDir}, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return drift.ExitError
	}
	allowed := remediate && policy.Remediate
	if remediate && !allowed {
		fmt.Fprintf(stderr, "platform: stack %q does not allow remediation (platform:drift.remediate is false): reporting only\n", stack)
	}
	changes, err := s.Refresh(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "platform: drift check of stack %q failed: %v\n", stack, err)
		return drift.ExitError
	}
	report := drift.New(stack, changes)
	report.Findings = policy.Findings
	if err := report.Write(stdout, format); err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return drift.ExitError
	}
	if allowed && report.Drifted {
		fmt.Fprintf(stderr, "platform: remediating stack %q with up --refresh\n", stack)
		if err := s.Up(ctx, true); err != nil {
			fmt.Fprintf(stderr, "platform: remediation of stack %q failed: %v\n", stack, err)
			return drift.ExitError
		}
	}
	return report.ExitCode()
}

// runCerts stores new TLS certificates (the CA, Elasticsearch's and Kafka's) in the stack's config.
func runCerts(ctx context.Context, s *driver.Session, stack string, days int, renew bool, stdout, stderr io.Writer) int {
	config, err := s.Config(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	values, err := stacks.NewCertificateConfig(config, renew, time.Duration(days)*24*time.Hour, time.Now())
	if errors.Is(err, stacks.ErrCertificatesValid) {
		fmt.Fprintf(stdout, "stack %q: %v\n", stack, err)
		return exitOK
	}
	if err == nil {
		err = s.SetSecrets(ctx, values)
	}
	if err != nil {
		fmt.Fprintf(stderr, "platform: certs of stack %q: %v\n", stack, err)
		return exitError
	}
	fmt.Fprintf(stdout, "stack %q: new CA and Elasticsearch and Kafka certificates (valid %d days) stored as secrets %s\n",
		stack, days, strings.Join(slices.Sorted(maps.Keys(values)), ", "))
	return exitOK
}

func findProject(dir string) (string, error) {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err != nil {
			return "", fmt.Errorf("no Pulumi.yaml in %s (--cwd names the project folder)", dir)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no Pulumi.yaml in " + wd + " or above; pass --cwd")
		}
	}
}
