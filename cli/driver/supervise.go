package driver

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/sys/unix"
)

// superviseEnv marks a re-executed binary as the supervisor of one Pulumi
// CLI run (see supervise).
const superviseEnv = "PLATFORM_SUPERVISE_PULUMI"

// servesSupervisor says that this binary called ServeSupervisor, so it can
// be re-executed as a supervisor.
var servesSupervisor bool

// ServeSupervisor lets the binary running the driver be its own supervisor
// of Pulumi CLI runs (see supervisedCLI): started as one, it supervises and
// exits; otherwise it returns at once. A program that opens sessions calls
// it first in main (a test binary, in TestMain); the driver refuses to run
// the CLI from a binary that did not. The binary's package variables are set
// before it runs, in the supervisor too (whose folder is the project's):
// their initializers must not read files or start anything.
func ServeSupervisor() {
	servesSupervisor = true
	if os.Getenv(superviseEnv) == "1" && len(os.Args) > 1 {
		os.Exit(supervise(os.Args[1], os.Args[2:]))
	}
}

// supervisedCLI runs the Pulumi CLI for the Automation API so that no engine
// or plugin process outlives the driver. Each CLI run has a supervisor: this
// binary, re-executed, which the kernel signals when the driver dies (the
// parent-death signal, so even SIGKILL of the driver reaches it) and which
// adopts every orphaned descendant (a child subreaper). The CLI starts its
// plugins in process groups of their own, and a plugin whose engine is gone
// notices only at its next health check, minutes later: killing a process
// group would miss them, a subreaper does not.
//
// Cancelling the context interrupts the CLI (SIGINT): the engine finishes the
// operations in flight, writes the state and releases the lock. Abort stops
// it at once.
type supervisedCLI struct {
	path    string
	version semver.Version
	// aborted is closed to stop every run at once (the driver was told twice).
	aborted <-chan struct{}
}

// newSupervisedCLI finds the CLI on PATH (the one scripts/tools.sh links)
// and runs it supervised.
func newSupervisedCLI(aborted <-chan struct{}) (auto.PulumiCommand, error) {
	path, err := exec.LookPath("pulumi")
	if err != nil {
		return nil, err
	}
	version, ok := builtVersion(path)
	if !ok {
		// Not built from its module (a release binary): ask it, the way the
		// Automation API does, which also checks its minimum version.
		checked, err := auto.NewPulumiCommand(nil)
		if err != nil {
			return nil, err
		}
		version = checked.Version()
	}
	return supervisedCLI{path: path, version: version, aborted: aborted}, nil
}

// cliModule is the module the Pulumi CLI is built from.
const cliModule = "github.com/pulumi/pulumi/pkg/v3"

// builtVersion reads the CLI's version from its Go build information, as
// scripts/tools.sh builds it (`go install` of cliModule at the pinned
// version): a few milliseconds instead of starting it for `pulumi version`
// (0.4 s, before every run). ok is false for a binary built otherwise.
func builtVersion(path string) (semver.Version, bool) {
	info, err := buildinfo.ReadFile(path)
	if err != nil || info.Main.Path != cliModule {
		return semver.Version{}, false
	}
	version, err := semver.ParseTolerant(info.Main.Version)
	if err != nil || version.Major != 3 {
		return semver.Version{}, false
	}
	return version, true
}

// Version reports the CLI's version.
func (c supervisedCLI) Version() semver.Version { return c.version }

// Run runs one CLI command under a supervisor, as the Automation API's own
// runner does (non-interactive, its output also captured and returned).
func (c supervisedCLI) Run(ctx context.Context, workdir string, stdin io.Reader,
	additionalOutput, additionalErrorOutput []io.Writer, additionalEnv []string, args ...string,
) (string, string, int, error) {
	if !servesSupervisor {
		return "", "", -1, errors.New("this binary cannot supervise the Pulumi CLI: call driver.ServeSupervisor first in its main (or TestMain)")
	}
	if !slices.Contains(args, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	self, err := os.Executable()
	if err != nil {
		return "", "", -1, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(self, append([]string{c.path}, args...)...)
	cmd.Dir = workdir
	cmd.Env = append(append(os.Environ(), additionalEnv...), "PULUMI_AUTOMATION_API=true", superviseEnv+"=1")
	cmd.Stdin = stdin
	cmd.Stdout = io.MultiWriter(append(additionalOutput, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(additionalErrorOutput, &stderr)...)
	// Its own process group: a terminal's Ctrl-C reaches the driver alone,
	// which decides what the engine is told.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// Output pipes close when the supervisor exits; bound the wait in case a
	// stray process still holds them.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return "", "", -1, err
	}
	waited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(os.Interrupt)
		case <-waited:
			return
		}
		select {
		case <-c.aborted:
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-waited:
		}
	}()
	err = cmd.Wait()
	close(waited)
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return stdout.String(), stderr.String(), code, err
}

// supervise runs the CLI and returns its exit code. SIGINT is passed on to
// the CLI (a graceful cancel); SIGTERM, which is also the death signal of the
// driver, kills the CLI and every process below it. Plugins the CLI leaves
// behind on any exit are killed too.
//
// The run gets a temporary folder of its own (TMPDIR, mode 0700), removed
// when its last process is gone: the Kubernetes plugin writes the kubeconfig
// it is given, credentials included, to $TMPDIR/kubeconfig* at every
// Configure and never removes it (pulumi-kubernetes v4.25.0,
// provider/pkg/provider/provider.go and util.go: writeKubeconfigToFile, for
// Helm's settings), so without this every run left one in /tmp.
func supervise(cli string, args []string) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "platform: supervisor:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "platform-run-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "platform: supervisor:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	cmd := exec.Command(cli, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, superviseEnv+"=") || strings.HasPrefix(kv, "TMPDIR=")
	})
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "platform: supervisor:", err)
		return 1
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	for {
		select {
		case s := <-signals:
			if s == os.Interrupt {
				_ = cmd.Process.Signal(os.Interrupt)
				continue
			}
			_ = cmd.Process.Kill()
			<-exited
			killOrphans(cmd.Process.Pid)
			return 128 + int(syscall.SIGTERM)
		case <-exited:
			killOrphans(cmd.Process.Pid)
			return cmd.ProcessState.ExitCode()
		}
	}
}

// killOrphans kills and reaps every child of this process but skip (which
// its own Wait reaps) until none is left: as a subreaper it inherits the
// descendants of each process that dies, so the loop reaches them all.
func killOrphans(skip int) {
	for {
		children := childrenOf(os.Getpid())
		children = slices.DeleteFunc(children, func(pid int) bool { return pid == skip })
		if len(children) == 0 {
			return
		}
		for _, pid := range children {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range children {
			var status syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &status, 0, nil)
		}
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, err := parentOf(child); err == nil && parent == pid {
			out = append(out, child)
		}
	}
	return out
}

// parentOf reads a process's parent from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself hold spaces and parentheses.
func parentOf(pid int) (int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 2 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(fields[1])
}
