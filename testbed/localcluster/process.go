package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acme/platform/internal/proc"
)

// process is a started server, recorded in a pid file as "pid starttime path"
// so that a later stop can check that the pid is still the process it started
// and never signals an unrelated process that reused the number.
type process struct {
	name    string
	pidFile string
	logFile string
}

// start runs the binary detached in its own session, logging to its log file.
// With dieWithParent the kernel kills it when the starting process dies, so a
// test that crashes or times out leaves nothing behind.
func (p process) start(binary string, args []string, dieWithParent bool) error {
	log, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if dieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it exits while we run
	started, err := proc.StartTicks(cmd.Process.Pid)
	if err != nil {
		return err
	}
	record := fmt.Sprintf("%d %d %s\n", cmd.Process.Pid, started, binary)
	return os.WriteFile(p.pidFile, []byte(record), 0o600)
}

// running returns the pid if the recorded process is still the one started.
func (p process) running() (int, bool) {
	data, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(fields[0])
	want, err2 := strconv.ParseUint(fields[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	got, err := proc.StartTicks(pid)
	if err != nil || got != want {
		return 0, false
	}
	return pid, true
}

// stop sends SIGTERM, waits up to grace for the process to exit, then SIGKILL.
func (p process) stop(grace time.Duration) error {
	defer os.Remove(p.pidFile)
	pid, ok := p.running()
	if !ok {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping %s (pid %d): %w", p.name, pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if _, alive := p.running(); !alive || proc.Zombie(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}
