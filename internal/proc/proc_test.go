package proc

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// This test's own process started a moment ago, and a finished child's pid
// names no process.
func TestStarted(t *testing.T) {
	started, err := Started(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(started); age < 0 || age > 10*time.Minute {
		t.Errorf("this process started %s ago, by /proc", age)
	}
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Started(child.Process.Pid); !errors.Is(err, ErrGone) {
		t.Errorf("a reaped child's pid: %v, want ErrGone", err)
	}
	if Zombie(os.Getpid()) {
		t.Error("this process counts as a zombie")
	}
	if !Zombie(child.Process.Pid) {
		t.Error("a reaped child's pid counts as a live process")
	}
}

// A shell's child and grandchild are below it; the test itself is not.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sh -c 'sleep 5' & sleep 5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		below := Descendants(cmd.Process.Pid)
		if len(below) >= 3 { // the inner sh, its sleep, the outer sleep
			if slices.Contains(below, os.Getpid()) || slices.Contains(below, cmd.Process.Pid) {
				t.Fatalf("Descendants(%d) = %v holds the root or the test", cmd.Process.Pid, below)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Descendants(%d) = %v, want 3 processes", cmd.Process.Pid, below)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
