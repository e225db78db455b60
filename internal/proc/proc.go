// Package proc reads what Linux's /proc says of a process: its state and
// when it started. With its pid, a process's start time identifies it, so a
// pid file or a lock that names a pid can tell its process from a later one
// that reuses the number.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrGone is returned for a pid no process has.
var ErrGone = errors.New("no such process")

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's start
// time: 100 on every Linux architecture Go runs on (sysconf(_SC_CLK_TCK)).
const clockTicks = 100

// StartTicks is the process's start time in clock ticks since boot (field 22
// of /proc/<pid>/stat).
func StartTicks(pid int) (uint64, error) {
	fields, err := stat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Started is when the process started, to the clock tick.
func Started(pid int) (time.Time, error) {
	ticks, err := StartTicks(pid)
	if err != nil {
		return time.Time{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(ticks) * time.Second / clockTicks), nil
}

// Zombie says whether the process has exited and waits to be reaped (or is
// gone).
func Zombie(pid int) bool {
	fields, err := stat(pid)
	return err != nil || fields[0] == "Z"
}

// stat returns /proc/<pid>/stat's fields after the command name (field 3 on).
func stat(pid int) ([]string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if err != nil {
		return nil, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 20 {
		return nil, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return fields, nil
}

// bootTime is when the machine booted (btime in /proc/stat).
func bootTime() (time.Time, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "btime "); ok {
			seconds, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return time.Unix(seconds, 0), err
		}
	}
	return time.Time{}, errors.New("/proc/stat has no btime")
}

// Descendants lists the pids of every process below root (children first,
// then theirs), as /proc shows them now.
func Descendants(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fields, err := stat(pid)
		if err != nil {
			continue
		}
		if parent, err := strconv.Atoi(fields[1]); err == nil {
			children[parent] = append(children[parent], pid)
		}
	}
	var out []int
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		out = append(out, children[queue[0]]...)
		queue = append(queue, children[queue[0]]...)
	}
	return out
}
