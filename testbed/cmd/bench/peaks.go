package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processRoles name the processes below a platform run whose peak memory the
// scale figures report, by their command name (/proc/<pid>/comm, at most 15
// characters).
var processRoles = map[string]string{
	"pulumi":          "engine",
	"pulumi-resource": "plugin", // pulumi-resource-kubernetes, cut at 15
	"pulumi-analyzer": "policy pack",
	"platform":        "driver",
}

// measurePeaks is measure, and the peak resident memory (VmHWM) of each
// role's processes below the command, sampled every 100 ms while it runs:
// a process's VmHWM only grows, so its last sample is its peak up to then.
func measurePeaks(ctx context.Context, dir string, env []string, name string, args ...string) (result, map[string]int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, nil, err
	}
	peaks := map[string]int64{}
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for role, rss := range samplePeaks(cmd.Process.Pid) {
				peaks[role] = max(peaks[role], rss)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-sampled
	r := result{wall: time.Since(start), output: out.Bytes()}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return r, peaks, err
	}
	r.exit = cmd.ProcessState.ExitCode()
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
		r.peakRSS = usage.Maxrss * 1024
	}
	if r.exit != 0 {
		err = errors.New(name + " " + strings.Join(args, " ") + " exited " + strconv.Itoa(r.exit) + ":\n" + out.String())
	}
	return r, peaks, err
}

// samplePeaks reads the VmHWM, in bytes, of root and every process below
// it, the highest per role.
func samplePeaks(root int) map[string]int64 {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			parent[pid], _ = strconv.Atoi(fields[1])
		}
	}
	below := func(pid int) bool {
		for ; pid > 1; pid = parent[pid] {
			if pid == root {
				return true
			}
		}
		return false
	}
	peaks := map[string]int64{}
	for pid := range parent {
		if !below(pid) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		role, ok := processRoles[strings.TrimSpace(string(comm))]
		if !ok {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
				peaks[role] = max(peaks[role], n*1024)
			}
		}
	}
	return peaks
}
