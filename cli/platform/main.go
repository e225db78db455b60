// Command platform runs the platform program on the real Pulumi engine
// through the Automation API, reading the same Pulumi.yaml and stack files as
// `pulumi up`:
//
//	platform preview  --stack local [--expect-no-changes] [--diff] [--save-changes FILE]
//	platform up       --stack local [--refresh] [--approved FILE]
//	platform refresh  --stack local [--preview-only] [--expect-no-changes]
//	platform destroy  --stack local [--unprotect]
//	platform outputs  --stack local
//	platform drift    --stack local [--format table|json|markdown] [--remediate]
//	platform certs    --stack prod [--days 730] [--renew | --rotate-ca]
//	platform cancel   --stack local [--force]
//
// Each command takes its own flags (and --stack, --cwd); a flag of another
// command is refused with the command's usage.
//
// Exit codes, the same for every command: 0 success; 1 error; 3 changes
// found (preview and refresh with --expect-no-changes) or drift found
// (drift, also when --remediate then repaired it); 4 no verdict (drift:
// the stack's state changed during the check, or operations were in flight
// when it began: a deployment ran, whose half-done steps are not drift). 3
// and 4, because no crash exits with them: a Go panic exits 2 and a signal
// 128+n, so a crashed drift check can never be taken for a finding. --events FILE writes every engine
// event as JSON lines. certs makes the observability stack's CA, the
// certificates of Elasticsearch, Kafka and Kafka's clients, the service
// users' credentials and Jaeger's UI password once and stores them as secret
// config of the stack, so every later run uses the same ones. Only up and certs create a stack that does not exist yet; every
// other command fails, naming the stack and the backend.
//
// Runs are crash-safe: the engine and its plugins die with the driver (see
// cli/driver's supervisor); SIGINT or SIGTERM lets the engine finish
// what it started and stop, a second one stops it at once. Every command
// first removes locks left by runs whose process is gone on this host, and
// up, refresh and destroy clear the operations such a run left pending (up
// then refreshes). cancel removes the stack's locks unless a live process
// here holds one.
//
// A gated deployment shows its plan before the approval and runs only that
// plan: preview --save-changes writes the changes the preview shows (what
// the reviewer approves, secrets masked); up --approved previews again and
// updates only when that preview shows the same changes, else it exits 1
// naming each difference and changes nothing.
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

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/acme/platform/cli/changes"
	"github.com/acme/platform/cli/drift"
	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/cli/policy"
	"github.com/acme/platform/policypack/shared"
)

// Exit codes, the same for every command (see the package comment).
const (
	exitOK        = 0
	exitError     = 1
	exitChanges   = 3
	exitNoVerdict = 4
)

const usage = `usage: platform <preview|up|refresh|destroy|outputs|drift|certs|cancel> --stack NAME [flags]

Runs the platform program on the Pulumi engine (Automation API, inline program).
` + "`platform COMMAND -h`" + ` lists a command's flags.
Exit codes: 0 success, 1 error, 3 changes found (--expect-no-changes) or drift found (drift),
4 no verdict (drift: a deployment changed the stack during the check).
`

// commandFlags are the flags each command takes beside --stack and --cwd.
var commandFlags = map[string][]string{
	"preview": {"expect-no-changes", "diff", "parallel", "events", "save-changes", "policy-pack"},
	"up":      {"refresh", "parallel", "checkpoints", "events", "approved", "policy-pack"},
	"refresh": {"preview-only", "expect-no-changes", "parallel", "checkpoints", "events"},
	"destroy": {"unprotect", "parallel", "checkpoints", "events"},
	"outputs": {},
	"drift":   {"format", "remediate", "parallel", "events"},
	"certs":   {"days", "renew", "rotate-ca"},
	"cancel":  {"force"},
}

func main() {
	driver.ServeSupervisor()
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
	if _, ok := commandFlags[command]; !ok {
		fmt.Fprintf(stderr, "platform: unknown command %q\n%s", command, usage)
		return exitError
	}
	// Every flag is declared once here; the command's flag set gets only
	// its own (the same variables), so another command's flag is refused.
	all := flag.NewFlagSet("platform", flag.ContinueOnError)
	stack := all.String("stack", "", "stack name: local, dev or prod")
	dir := all.String("cwd", "", "project directory (default: the nearest folder above with a Pulumi.yaml)")
	expectNoChanges := all.Bool("expect-no-changes", false, "exit 3 if anything would change")
	previewOnly := all.Bool("preview-only", false, "report drift without writing the state")
	refresh := all.Bool("refresh", false, "refresh the state before updating")
	diff := all.Bool("diff", false, "show the changed properties of every resource")
	format := all.String("format", "table", "report format: table, json or markdown")
	remediate := all.Bool("remediate", false, "run up --refresh after reporting, if the stack's platform:drift config allows it")
	eventsFile := all.String("events", "", "write every engine event to this file as JSON lines")
	days := all.Int("days", 730, "how long the certificate is valid (its CA twice as long)")
	renew := all.Bool("renew", false, "re-issue certificates that are still valid (from the same CA)")
	rotateCA := all.Bool("rotate-ca", false, "take the next of the CA rotation's three steps (each followed by up)")
	unprotect := all.Bool("unprotect", false, "first clear the protection of every resource (prod's namespaces and stateful sets)")
	parallel := all.Int("parallel", driver.DefaultParallel, "how many resource operations the engine runs at once (make bench -only scale measures it)")
	force := all.Bool("force", false, "also remove a lock whose run cannot be checked from here (another host's, an unreadable one, or a remote backend's): your word that its run has ended")
	saveChanges := all.String("save-changes", "", "write the changes the preview shows to this file (JSON, secrets masked): what a reviewer approves")
	approved := all.String("approved", "", "the file preview --save-changes wrote: update only if a preview now shows those changes")
	var extraPacks packList
	all.Var(&extraPacks, "policy-pack", "also run this policy pack (an analyzer executable or a pack folder; repeatable): the platform's own always runs")
	checkpoints := all.String("checkpoints", "auto", "when the engine writes the state: at-end (once; a killed run's changes are recovered by the next up), every-step, or auto: at-end for a stack of Kubernetes objects alone, every-step for one with repositories or image builds")
	flags := flag.NewFlagSet("platform "+command, flag.ContinueOnError)
	flags.SetOutput(stderr)
	for _, name := range append([]string{"stack", "cwd"}, commandFlags[command]...) {
		f := all.Lookup(name)
		flags.Var(f.Value, f.Name, f.Usage)
	}
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
	if err := requireSharedBackend(*stack); err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	when, err := checkpointsFlag(*checkpoints, projectDir)
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	opts := driver.Options{ProjectDir: projectDir, Stack: *stack, Program: policy.Program, Progress: stdout, Abort: abort, Parallel: *parallel, Checkpoints: when,
		Create: command == "up" || command == "certs"}
	if command == "preview" || command == "up" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "platform:", err)
			return exitError
		}
		packs, configs, err := policyPacks(filepath.Dir(exe), projectDir, *stack, extraPacks)
		if err != nil {
			fmt.Fprintln(stderr, "platform:", err)
			return exitError
		}
		opts.PolicyPacks, opts.PolicyPackConfigs = packs, configs
	}
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
		return runCancel(ctx, session, *stack, *force, stdout, stderr)
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
		fmt.Fprintln(stderr, "platform: refreshing before the update: the state does not say what the killed run did")
		*refresh = true
	}
	if u := recovery.Unrecorded; u != nil && u.Operation == "up" && command == "destroy" {
		// Objects the killed update made are in no state: a destroy would
		// leave them running.
		fmt.Fprintf(stderr, "platform: destroy of stack %q refused: a killed update (%s) made objects the state does not hold; `platform up --stack %s` records them (it refreshes first), then destroy\n", *stack, u, *stack)
		return exitError
	}
	if command == "drift" {
		return runDrift(ctx, session, recovery, *stack, projectDir, *format, *remediate, stdout, stderr)
	}
	if command == "certs" {
		return runCerts(ctx, session, *stack, *days, *renew, *rotateCA, stdout, stderr)
	}

	if command == "preview" || command == "up" {
		if err := checkOwnership(ctx, session, projectDir, *stack); err != nil {
			fmt.Fprintf(stderr, "platform: %s of stack %q refused: %v\n", command, *stack, err)
			return exitError
		}
	}

	var found changes.Changes
	switch command {
	case "preview":
		found, err = session.Preview(ctx, *diff)
		if err == nil && *saveChanges != "" {
			err = writeApproval(*saveChanges, changes.Approval{Stack: *stack, Changes: found})
		}
	case "up":
		if *approved != "" {
			if *refresh {
				// A refresh (asked for, or after clearing a killed run's
				// operations) could make up do what no approved preview showed.
				fmt.Fprintf(stderr, "platform: up of stack %q refused: --approved runs what the approved preview showed, and a refresh first could change that (a killed run's operations were cleared, or --refresh was given): run platform refresh --stack %s, then preview and approve again\n", *stack, *stack)
				return exitError
			}
			if code := checkApproval(ctx, session, *stack, *approved, stderr); code != exitOK {
				return code
			}
		}
		err = session.Up(ctx, *refresh)
	case "refresh":
		found, err = session.Refresh(ctx, *previewOnly)
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
		for _, hint := range policy.Hints(err.Error(), *stack) {
			fmt.Fprintln(stderr, "platform:", hint)
		}
		return exitError
	}
	if *expectNoChanges && len(found) > 0 {
		fmt.Fprintf(stderr, "platform: %s of stack %q found %d changed resources, expected none:\n", command, *stack, len(found))
		for _, c := range found {
			fmt.Fprintf(stderr, "  %-8s %s %s\n", c.Op, c.URN, strings.Join(c.Paths, ", "))
		}
		return exitChanges
	}
	return exitOK
}

// checkpointsFlag is the --checkpoints choice: auto decides by the stack's
// config (policy.Checkpoints).
func checkpointsFlag(value, projectDir string) (func(auto.ConfigMap) driver.Checkpoints, error) {
	always := func(c driver.Checkpoints) func(auto.ConfigMap) driver.Checkpoints {
		return func(auto.ConfigMap) driver.Checkpoints { return c }
	}
	switch value {
	case "auto":
		return func(config auto.ConfigMap) driver.Checkpoints { return policy.Checkpoints(config, projectDir) }, nil
	case "at-end":
		return always(driver.AtEnd), nil
	case "every-step":
		return always(driver.EveryStep), nil
	}
	return nil, fmt.Errorf("--checkpoints %q: want auto, at-end or every-step", value)
}

// analyzerName is the platform's policy pack, built beside this command
// (make platform).
const analyzerName = "pulumi-analyzer-policy-platform"

// policyPacks are the packs a preview or an update runs, with their
// configs: the platform's own (in dir, beside the command) with the stack's
// config (policypack/config/<stack>.json, when there is one), then the
// extra ones with their defaults.
func policyPacks(dir, projectDir, stack string, extra []string) ([]string, []string, error) {
	own := filepath.Join(dir, analyzerName)
	if _, err := os.Stat(own); err != nil {
		return nil, nil, fmt.Errorf("the platform's policy pack %s is missing: make platform builds it beside the platform command", own)
	}
	config := shared.ConfigFile(projectDir, driver.StackName(stack))
	if _, err := os.Stat(config); err != nil {
		config = ""
	}
	packs, configs := []string{own}, []string{config}
	for _, p := range extra {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, err
		}
		packs, configs = append(packs, abs), append(configs, "")
	}
	return packs, configs, nil
}

// packList is a repeatable flag's values.
type packList []string

func (l *packList) String() string     { return strings.Join(*l, ",") }
func (l *packList) Set(v string) error { *l = append(*l, v); return nil }

// writeApproval writes what a preview showed, for up --approved.
func writeApproval(path string, a changes.Approval) error {
	if a.Changes == nil {
		a.Changes = changes.Changes{}
	}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600)
}

// checkApproval previews the stack and compares what it shows with the
// approved changes in path: exitOK when they are the same.
func checkApproval(ctx context.Context, s *driver.Session, stack, path string, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	var a changes.Approval
	if err == nil {
		err = json.Unmarshal(data, &a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "platform: up of stack %q refused: reading the approved changes: %v\n", stack, err)
		return exitError
	}
	if a.Stack != stack {
		fmt.Fprintf(stderr, "platform: up of stack %q refused: %s holds the approved changes of stack %q\n", stack, path, a.Stack)
		return exitError
	}
	now, err := s.Preview(ctx, false)
	if err != nil {
		fmt.Fprintf(stderr, "platform: up of stack %q refused: the preview before it failed: %v\n", stack, err)
		return exitError
	}
	if differences := changes.Differences(a.Changes, now); len(differences) > 0 {
		fmt.Fprintf(stderr, "platform: up of stack %q refused: it would not do what was approved (%s); nothing was changed. Preview and approve again:\n", stack, path)
		for _, d := range differences {
			fmt.Fprintln(stderr, "  "+d)
		}
		return exitError
	}
	fmt.Fprintf(stderr, "platform: the preview shows the %d approved changes; updating\n", len(now))
	return exitOK
}

// checkOwnership refuses a stack that declares a repository another stack
// of the project governs (policy.CheckOwnership).
func checkOwnership(ctx context.Context, s *driver.Session, projectDir, stack string) error {
	config, err := s.Config(ctx)
	if err != nil {
		return err
	}
	return policy.CheckOwnership(config, projectDir, stack)
}

// reportRecovery says what was done to recover from a killed run.
func reportRecovery(w io.Writer, stack string, r driver.Recovery) {
	for _, f := range r.RepairedFiles {
		fmt.Fprintf(w, "platform: removed %s, a metadata file a killed run left truncated in the state backend\n", f)
	}
	for _, l := range r.RemovedLocks {
		fmt.Fprintf(w, "platform: removed the lock on stack %q left by a run that no longer exists (%s)\n", stack, l)
	}
	for _, l := range r.HeldLocks {
		if l.Unreadable != "" {
			fmt.Fprintf(w, "platform: stack %q has a lock that cannot be read, %s: once you know no run holds it, `platform cancel --stack %s --force` removes it\n", stack, l, stack)
		}
	}
	if r.Unrecorded != nil {
		fmt.Fprintf(w, "platform: a run ended before the engine recorded its changes to stack %q (%s): they are not in the state\n", stack, r.Unrecorded)
	}
	if len(r.ClearedOperations) > 0 {
		fmt.Fprintf(w, "platform: cleared %d operations a killed run left pending on stack %q:\n", len(r.ClearedOperations), stack)
		for _, op := range r.ClearedOperations {
			fmt.Fprintf(w, "  %-9s %s\n", op.Type, op.URN)
		}
	}
}

// runCancel removes the stack's locks whose runs have ended (see driver's
// Session.Cancel): never a live process's here; one that cannot be checked
// only with --force.
func runCancel(ctx context.Context, s *driver.Session, stack string, force bool, stdout, stderr io.Writer) int {
	locks, err := s.Cancel(ctx, force)
	if err != nil {
		fmt.Fprintf(stderr, "platform: cancel of stack %q: %v\n", stack, err)
		return exitError
	}
	if len(locks) == 0 {
		fmt.Fprintf(stdout, "stack %q: no lock left\n", stack)
	}
	for _, l := range locks {
		fmt.Fprintf(stdout, "stack %q: removed the lock of %s\n", stack, l)
	}
	return exitOK
}

// runDrift reports what changed outside Pulumi, from a refresh preview that
// never writes the state, and remediates it on request where allowed.
func runDrift(ctx context.Context, s *driver.Session, recovery driver.Recovery, stack, projectDir, format string, remediate bool, stdout, stderr io.Writer) int {
	if format != "table" && format != "json" && format != "markdown" {
		fmt.Fprintf(stderr, "platform: --format %q: want table, json or markdown\n", format)
		return exitError
	}
	config, err := s.Config(ctx)
	var drifts policy.Drift
	if err == nil {
		drifts, err = policy.DriftOf(config, projectDir, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	allowed := remediate && drifts.Remediate
	if remediate && !allowed {
		fmt.Fprintf(stderr, "platform: stack %q does not allow remediation (platform:drift.remediate is false): reporting only\n", stack)
	}
	before, err := s.Mark(ctx)
	var found changes.Changes
	if err == nil {
		found, err = s.Refresh(ctx, true)
	}
	written := false
	if err == nil {
		written, err = s.Written(ctx, before)
	}
	if err != nil {
		fmt.Fprintf(stderr, "platform: drift check of stack %q failed: %v\n", stack, err)
		return exitError
	}
	if written || before.Pending > 0 {
		// A deployment's steps in flight would be reported as drift.
		fmt.Fprintf(stderr, "platform: stack %q changed during the drift check, or had %d operations in flight when it began (a deployment running, or a killed one's left for the next up to clear): no verdict\n", stack, before.Pending)
		return exitNoVerdict
	}
	// A deployment that writes the state only at its end changes the
	// cluster with the state unchanged: it holds the stack's lock meanwhile,
	// and a killed one leaves its mark.
	locks, err := s.Locks(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "platform: drift check of stack %q failed: %v\n", stack, err)
		return exitError
	}
	if busy := len(locks) + len(recovery.HeldLocks); busy > 0 || recovery.Unrecorded != nil {
		fmt.Fprintf(stderr, "platform: stack %q had a run going during the drift check (%d locks), or a killed run's changes are not in its state (the next up records them): no verdict\n", stack, busy)
		return exitNoVerdict
	}
	report := drift.New(stack, found)
	report.Findings = drifts.Findings
	if err := report.Write(stdout, format); err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	if allowed && report.Drifted {
		fmt.Fprintf(stderr, "platform: remediating stack %q with up --refresh\n", stack)
		if err := s.Up(ctx, true); err != nil {
			fmt.Fprintf(stderr, "platform: remediation of stack %q failed: %v\n", stack, err)
			return exitError
		}
	}
	if report.NeedsAttention() {
		return exitChanges
	}
	return exitOK
}

// runCerts stores new TLS certificates (the CA, Elasticsearch's and Kafka's) in the stack's config.
func runCerts(ctx context.Context, s *driver.Session, stack string, days int, renew, rotateCA bool, stdout, stderr io.Writer) int {
	config, err := s.Config(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "platform:", err)
		return exitError
	}
	if rotateCA {
		values, step, err := policy.RotateCAConfig(config, days, time.Now())
		if err == nil {
			err = s.SetSecrets(ctx, values)
		}
		if err != nil {
			fmt.Fprintf(stderr, "platform: certs of stack %q: %v\n", stack, err)
			return exitError
		}
		fmt.Fprintf(stdout, "stack %q: %s\n", stack, step)
		return exitOK
	}
	values, err := policy.NewCertificateConfig(config, renew, days, time.Now())
	if errors.Is(err, policy.ErrCertificatesValid) {
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
	fmt.Fprintf(stdout, "stack %q: made and stored as secrets (certificates valid %d days): %s\n",
		stack, days, strings.Join(slices.Sorted(maps.Keys(values)), ", "))
	return exitOK
}

// requireSharedBackend refuses to run a stack other than local in CI
// without PULUMI_BACKEND_URL: the project's own file backend (.state in the
// checkout) would be thrown away with the runner, so a deploy would "succeed"
// into it and a drift check report a new, empty stack. An unset repository
// secret reaches the job as an empty variable, which is how this happens.
func requireSharedBackend(stack string) error {
	inCI := os.Getenv("CI") != "" || os.Getenv("GITHUB_ACTIONS") != ""
	if !inCI || stack == "local" || os.Getenv("PULUMI_BACKEND_URL") != "" {
		return nil
	}
	return fmt.Errorf("PULUMI_BACKEND_URL is empty: in CI stack %q runs only on the shared backend, never on the checkout's %s, which the runner throws away; set the repository secret PULUMI_BACKEND_URL (an unset secret reaches the job empty)", stack, driver.StateDir)
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
