//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/testbed/s3server"
)

// s3Backend starts an S3 server on 127.0.0.1 (testbed/s3server) and points
// the engine and the driver at its bucket as CI points them at the team's:
// PULUMI_BACKEND_URL, and credentials in the environment. The server is
// stopped by its PID when the test ends.
func s3Backend(t *testing.T) string {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), "gofakes3.log"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := s3server.Start(filepath.Join(os.Getenv("PLATFORM_TOOLS"), "bin", "gofakes3"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Stop()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("the S3 server's log:\n%s", out)
		}
	})
	t.Setenv("PULUMI_BACKEND_URL", server.BackendURL)
	for _, kv := range s3server.Credentials {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return server.BackendURL
}

// backends runs test on each kind of self-managed backend: the project's
// file backend and a shared S3 bucket.
func backends(t *testing.T, test func(t *testing.T)) {
	t.Run("file", func(t *testing.T) {
		t.Setenv("PULUMI_BACKEND_URL", "")
		test(t)
	})
	t.Run("s3", func(t *testing.T) {
		s3Backend(t)
		test(t)
	})
}

// trivialProject lays out a project named platform with the given stacks,
// whose config is empty: the programs the tests pass need none.
func trivialProject(t *testing.T, stacks ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: platform\nruntime: go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, stack := range stacks {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte("config: {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "e2e")
	return dir
}

// helperVariable makes the suite's binary a helper process (TestMain runs
// runHelper instead of the suite): the tests start it to have a run on the
// stack that they can kill.
const helperVariable = "E2E_HELPER"

// runHelper runs the helper named by helperVariable: "slow-up" updates
// stack dev of the project E2E_DIR with a program that never ends, so the
// engine holds the stack's lock until the helper is killed; the engine
// writes the state at the end only, so the driver marks the stack.
func runHelper(name string) int {
	if name != "slow-up" {
		fmt.Fprintln(os.Stderr, "unknown helper", name)
		return 2
	}
	program := func(ctx *pulumi.Context) error {
		ctx.Export("version", pulumi.Int(2))
		time.Sleep(time.Hour)
		return nil
	}
	s, err := driver.Open(context.Background(), driver.Options{ProjectDir: os.Getenv("E2E_DIR"), Stack: "dev",
		Program:     func(auto.ConfigMap) pulumi.RunFunc { return program },
		Checkpoints: func(auto.ConfigMap) driver.Checkpoints { return driver.AtEnd }})
	if err == nil {
		err = s.Up(context.Background(), false)
	}
	fmt.Fprintln(os.Stderr, "slow-up:", err)
	return 1
}

// TestALockInTheSharedBackend: on an S3 bucket, as CI runs, a run that
// holds the stack's lock makes a second run on the stack fail clearly and
// keeps the recovery from touching its state; killed (as a cancelled or
// timed-out job's run is), its lock is removed by what deploy.yml runs
// after such a job, `platform cancel` without force (a dead process's
// lock of this host alone), and the next run converges with the state
// intact.
func TestALockInTheSharedBackend(t *testing.T) {
	s3Backend(t)
	dir := trivialProject(t, "dev")
	session := func(version int) *driver.Session {
		t.Helper()
		s, err := driver.Open(t.Context(), driver.Options{ProjectDir: dir, Stack: "dev", Create: true,
			Program: func(auto.ConfigMap) pulumi.RunFunc {
				return func(ctx *pulumi.Context) error {
					ctx.Export("version", pulumi.Int(version))
					return nil
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := session(1).Up(t.Context(), false); err != nil {
		t.Fatalf("the first up: %v", err)
	}

	slow := exec.Command(os.Args[0], "-test.run=^$")
	slow.Env = append(os.Environ(), helperVariable+"=slow-up", "E2E_DIR="+dir)
	slow.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	slow.Stdout, slow.Stderr = &out, &out
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = syscall.Kill(-slow.Process.Pid, syscall.SIGKILL)
			_ = slow.Wait()
		}
	})
	s := session(3)
	deadline := time.Now().Add(time.Minute)
	for {
		locks, err := s.Locks(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(locks) == 1 {
			t.Logf("the slow run holds the lock in the bucket: %s (%s)", locks[0], locks[0].Path)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lock in the bucket a minute after the slow up started (%d locks):\n%s", len(locks), out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A second run on the stack meanwhile: refused clearly, and nothing of
	// the live run's is recovered or cancelled.
	if err := s.Up(t.Context(), false); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("a second up beside the live run: want it refused as locked, got %v", err)
	}
	r, err := s.Recover(t.Context(), true)
	if err != nil || len(r.HeldLocks) != 1 || len(r.RemovedLocks)+len(r.ClearedOperations) != 0 {
		t.Errorf("recovery beside the live run: %+v, %v; want its lock held and nothing removed or cleared", r, err)
	}
	if _, err := s.Cancel(t.Context(), false); !errors.Is(err, driver.ErrLockHeld) {
		t.Errorf("cancel beside the live run: %v, want it refused (%v)", err, driver.ErrLockHeld)
	}

	// The job is cancelled: its processes are killed, its lock stays.
	lock, _ := s.Locks(t.Context())
	killed = true
	if err := syscall.Kill(-slow.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = slow.Wait()
	for deadline := time.Now().Add(15 * time.Second); syscall.Kill(lock[0].Pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the killed run's engine (pid %d) still runs", lock[0].Pid)
		}
	}
	if locks, _ := s.Locks(t.Context()); len(locks) != 1 {
		t.Fatalf("after the kill: %d locks, want the killed run's", len(locks))
	}
	code, cancelOut := platform(t, "cancel", "--stack", "dev", "--cwd", dir)
	if code != 0 || !strings.Contains(cancelOut, "removed the lock of pid") {
		t.Fatalf("the workflow's recovery step (platform cancel) exited %d:\n%s", code, cancelOut)
	}
	// The killed run's mark stays in the bucket, also once its lock is
	// gone: the next update refreshes first, and clears it.
	r, err = session(3).Recover(t.Context(), true)
	if err != nil || r.Unrecorded == nil || r.Unrecorded.Operation != "up" || r.Unrecorded.Pid != slow.Process.Pid || !r.NeedsRefresh() {
		t.Fatalf("recovery after the killed run: %+v, %v; want the mark of its up (pid %d) and a refresh", r, err, slow.Process.Pid)
	}
	t.Logf("the killed run's mark in the bucket: %s", r.Unrecorded)
	if err := s.Up(t.Context(), true); err != nil {
		t.Fatalf("up after the recovery: %v", err)
	}
	if r, err := s.Recover(t.Context(), false); err != nil || r.Unrecorded != nil {
		t.Errorf("after the recovered up: %+v, %v; want the mark cleared", r, err)
	}
	outputs, err := s.Outputs(t.Context())
	if err != nil || outputs["version"] != 3.0 {
		t.Errorf("outputs after the recovered up: %v, %v; want version 3", outputs, err)
	}
	if pending, err := s.PendingOperations(t.Context()); err != nil || len(pending) != 0 {
		t.Errorf("pending operations after the recovered up: %v, %v", pending, err)
	}
}
