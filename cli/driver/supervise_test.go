package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/platform/cli/driver/filestate"
)

// helperEnv makes the test binary play the driver: it runs the fake CLI
// named by fakeCLIEnv under the supervisor and waits (see TestMain).
const (
	helperEnv  = "DRIVER_TEST_HELPER"
	fakeCLIEnv = "DRIVER_TEST_FAKE_CLI"
)

func TestMain(m *testing.M) {
	ServeSupervisor()
	if os.Getenv(helperEnv) == "1" {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// The test interrupts the helper to cancel, as a terminal's Ctrl-C does.
			s := make(chan os.Signal, 1)
			signal.Notify(s, os.Interrupt)
			<-s
			cancel()
		}()
		_, _, code, _ := supervisedCLI{path: os.Getenv(fakeCLIEnv)}.Run(ctx, "", nil, nil, nil, nil, "up")
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// fakeCLI writes a stand-in for the Pulumi CLI that starts a "plugin" in a
// session of its own (as the CLI starts plugins in their own process groups),
// records both pids, and waits; on SIGINT it records that and exits 0. Like
// the Kubernetes plugin, it writes a kubeconfig to its TMPDIR and leaves it.
func fakeCLI(t *testing.T) (script, dir string) {
	t.Helper()
	dir = t.TempDir()
	script = filepath.Join(dir, "pulumi")
	body := `#!/usr/bin/env bash
trap 'echo interrupted > "` + dir + `/interrupted"; exit 0' INT
echo "$TMPDIR" > "` + dir + `/tmpdir"
echo "token: s3cret" > "$TMPDIR/kubeconfig123"
setsid sleep 300 &
echo $! > "` + dir + `/plugin.pid"
echo $$ > "` + dir + `/cli.pid"
while true; do sleep 0.1; done
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, dir
}

// startDriver starts the test binary as a driver running the fake CLI, with
// a temporary folder of its own (tmp), and waits until the CLI and its
// plugin run.
func startDriver(t *testing.T, script, dir string) (driver *exec.Cmd, cli, plugin int, tmp string) {
	t.Helper()
	tmp = t.TempDir()
	driver = exec.Command(os.Args[0], "-test.run=^$")
	driver.Env = append(os.Environ(), helperEnv+"=1", fakeCLIEnv+"="+script, "TMPDIR="+tmp)
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = driver.Process.Kill()
		_ = driver.Wait()
	})
	cli, plugin = waitPid(t, dir, "cli.pid"), waitPid(t, dir, "plugin.pid")
	t.Cleanup(func() {
		_ = syscall.Kill(cli, syscall.SIGKILL)
		_ = syscall.Kill(plugin, syscall.SIGKILL)
	})
	return driver, cli, plugin, tmp
}

// waitTemporaryGone checks that the CLI ran with a temporary folder of its
// own inside the driver's (tmp), and waits until the supervisor has removed
// it, with what the CLI left there.
func waitTemporaryGone(t *testing.T, dir, tmp string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "tmpdir"))
	if err != nil {
		t.Fatal(err)
	}
	runTmp := strings.TrimSpace(string(data))
	if filepath.Dir(runTmp) != tmp {
		t.Fatalf("the CLI's TMPDIR is %q, want a folder of its own in the driver's %s", runTmp, tmp)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ := os.ReadDir(tmp)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run's temporary folder is still there: %s", left[0].Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitPid(t *testing.T, dir, name string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never written", name)
	return 0
}

// waitGone waits until none of pids is a live process (a zombie counts as gone).
func waitGone(t *testing.T, what string, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: process %d still runs", what, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(data[i+1:])), "Z")
}

func TestKilledDriverLeavesNoEngineOrPlugin(t *testing.T) {
	script, dir := fakeCLI(t)
	driver, cli, plugin, tmp := startDriver(t, script, dir)
	if err := driver.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = driver.Wait()
	waitGone(t, "after SIGKILL of the driver", cli, plugin)
	waitTemporaryGone(t, dir, tmp)
}

func TestInterruptedDriverLetsTheEngineStopCleanly(t *testing.T) {
	script, dir := fakeCLI(t)
	driver, cli, plugin, tmp := startDriver(t, script, dir)
	if err := driver.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := driver.Wait()
	if _, statErr := os.Stat(filepath.Join(dir, "interrupted")); statErr != nil {
		t.Fatalf("the CLI was not interrupted (driver: %v)", err)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if err != nil {
		t.Errorf("the driver exited %v after the CLI stopped cleanly", err)
	}
	// The CLI exited on its own; the plugin it left behind goes with it.
	waitGone(t, "after the CLI's exit", cli, plugin)
	waitTemporaryGone(t, dir, tmp)
}

func TestParentOf(t *testing.T) {
	parent, err := parentOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if parent != os.Getppid() {
		t.Fatalf("parentOf(self) = %d, want %d", parent, os.Getppid())
	}
}

// Locks that never wedge and never lie: an unreadable lock is listed, not an
// error; cancel never removes a live run's lock here, removes a dead run's,
// and removes one it cannot check (unreadable, another host's) only with
// force; recovery leaves pending operations alone while a lock is held.
func TestCancelAndRecoveryOfLocks(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	lockJSON := func(pid int, hostname string) string {
		return fmt.Sprintf(`{"pid":%d,"username":"t","hostname":%q,"timestamp":%q}`, pid, hostname, time.Now().Format(time.RFC3339Nano))
	}
	tests := []struct {
		name, content    string
		force            bool
		wantErr          error
		removed, recover bool // removed by cancel; recovery may clear pending operations
	}{
		{"a dead run's", lockJSON(dead.Process.Pid, host), false, nil, true, true},
		{"a live run's here", lockJSON(os.Getpid(), host), false, ErrLockHeld, false, false},
		{"a live run's here, forced", lockJSON(os.Getpid(), host), true, ErrLockHeld, false, false},
		{"another host's", lockJSON(dead.Process.Pid, host+"-other"), false, ErrUnverifiable, false, false},
		{"another host's, forced", lockJSON(dead.Process.Pid, host+"-other"), true, nil, true, false},
		{"empty", "", false, ErrUnverifiable, false, false},
		{"empty, forced", "", true, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			dir := filepath.Join(state, ".pulumi", "locks", "organization", "platform", "local")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, "lock.json")
			if err := os.WriteFile(lock, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &Session{locks: filestate.Dir(state), project: "platform", name: "local"}
			locks, err := s.Locks(t.Context())
			if err != nil || len(locks) != 1 {
				t.Fatalf("Locks = %v, %v; want the one lock, readable or not", locks, err)
			}
			if _, held, _ := filestate.RemoveStale(t.Context(), s.locks, slices.Clone(locks)); (len(held) == 0) != tt.recover {
				t.Errorf("locks held after removing the stale: %v; recovery may clear pending operations: want %v", held, tt.recover)
			}
			if err := os.WriteFile(lock, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = s.Cancel(t.Context(), tt.force)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Cancel(force %v) = %v, want %v", tt.force, err, tt.wantErr)
			}
			if _, statErr := os.Stat(lock); os.IsNotExist(statErr) != tt.removed {
				t.Errorf("lock removed: %v, want %v", os.IsNotExist(statErr), tt.removed)
			}
		})
	}
}

// A binary that never said it serves the supervisor is not re-executed as
// one: re-executing a test binary would run its tests again instead.
func TestABinaryThatDoesNotServeTheSupervisorIsRefused(t *testing.T) {
	servesSupervisor = false
	defer func() { servesSupervisor = true }()
	_, _, _, err := supervisedCLI{path: "/bin/true"}.Run(t.Context(), t.TempDir(), nil, nil, nil, nil, "version")
	if err == nil || !strings.Contains(err.Error(), "ServeSupervisor") {
		t.Fatalf("run from a binary that does not serve the supervisor: %v", err)
	}
}

// A binary not built from the CLI's module (this test binary, a release
// download) has no version the driver trusts: it asks the CLI instead.
func TestBuiltVersionOnlyFromTheCLIsModule(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := builtVersion(self); ok {
		t.Fatalf("builtVersion(%s) = %v, want none", self, v)
	}
	if v, ok := builtVersion(filepath.Join(t.TempDir(), "missing")); ok {
		t.Fatalf("builtVersion of a missing file = %v, want none", v)
	}
}
