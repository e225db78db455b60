package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acme/platform/internal/proc"
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

// measurePeaks is mustSucceed, and the peak resident memory (VmHWM) of
// each role's processes below the command, sampled every 100 ms while it
// runs: a process's VmHWM only grows, so its last sample is its peak.
func measurePeaks(ctx context.Context, dir string, env []string, name string, args ...string) (result, map[string]int64, error) {
	peaks := map[string]int64{}
	sample := func(pid int, done <-chan struct{}) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for role, rss := range samplePeaks(pid) {
				peaks[role] = max(peaks[role], rss)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}
	r, err := mustSucceedWhile(ctx, sample, dir, env, name, args...)
	return r, peaks, err
}

// samplePeaks reads the VmHWM, in bytes, of root and every process below
// it, the highest per role.
func samplePeaks(root int) map[string]int64 {
	peaks := map[string]int64{}
	for _, pid := range append(proc.Descendants(root), root) {
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
