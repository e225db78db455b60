package proc

import (
	"errors"
	"os"
	"os/exec"
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
