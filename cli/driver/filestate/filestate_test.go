package filestate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLockStale(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		lock        Lock
		stale, held bool
	}{
		{"process gone on this host", Lock{Pid: dead.Process.Pid, Hostname: host}, true, false},
		{"live process on this host", Lock{Pid: os.Getpid(), Hostname: host}, false, true},
		{"live process that took the lock", Lock{Pid: os.Getpid(), Hostname: host, Timestamp: time.Now()}, false, true},
		// The pid now names a process that started after the lock was taken.
		{"pid reused by a later process", Lock{Pid: os.Getpid(), Hostname: host, Timestamp: time.Now().Add(-24 * time.Hour)}, true, false},
		{"another host", Lock{Pid: dead.Process.Pid, Hostname: host + "-other"}, false, false},
		{"no pid", Lock{Hostname: host}, false, false},
		{"unreadable", Lock{Pid: os.Getpid(), Hostname: host, Unreadable: "0 bytes"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lock.Stale(); got != tt.stale {
				t.Errorf("Stale = %v, want %v", got, tt.stale)
			}
			if got := tt.lock.HeldHere(); got != tt.held {
				t.Errorf("HeldHere = %v, want %v", got, tt.held)
			}
		})
	}
}

// A sidecar a killed write left empty or cut short is removed (it would fail
// every read of its file); sound ones stay, and so do fresh ones a live run
// may be writing: any fresh one of another stack, the stack's own while a
// live process holds its lock.
func TestRepairSidecars(t *testing.T) {
	host, _ := os.Hostname()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	const (
		checkpoint = "stacks/platform/local.json.attrs"
		backup     = "stacks/platform/local.json.bak.attrs"
		history    = "history/platform/local/local-1.checkpoint.json.attrs"
		other      = "stacks/platform/dev.json.attrs"
		meta       = "meta.yaml.attrs"
	)
	tests := []struct {
		name      string
		lockPid   int // 0: no lock
		sidecars  map[string]string
		settled   bool
		wantRemov []string
	}{
		{"sound ones stay", 0, map[string]string{checkpoint: `{"user.cache_control":""}`, other: `{}`}, true, nil},
		{"settled broken ones go", 0, map[string]string{checkpoint: "", other: `{"user.ca`, meta: ""}, true, []string{checkpoint, other, meta}},
		{"the stack's fresh ones go when no run holds it", 0, map[string]string{checkpoint: "", backup: "", history: "{", other: ""}, false, []string{checkpoint, backup, history}},
		{"the stack's fresh ones go when its lock's run is gone", gone.Process.Pid, map[string]string{checkpoint: ""}, false, []string{checkpoint}},
		{"the stack's fresh ones stay while a live run holds it", os.Getpid(), map[string]string{checkpoint: "", other: ""}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, ".pulumi")
			write := func(rel, content string) {
				path := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				if tt.settled {
					old := time.Now().Add(-time.Minute)
					if err := os.Chtimes(path, old, old); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.lockPid != 0 {
				write("locks/organization/platform/local/1.json", fmt.Sprintf(`{"pid":%d,"hostname":%q}`, tt.lockPid, host))
			}
			for rel, content := range tt.sidecars {
				write(rel, content)
			}
			removed, err := RepairSidecars(dir, "platform", "local")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range removed {
				rel, _ := filepath.Rel(root, p)
				got = append(got, filepath.ToSlash(rel))
			}
			slices.Sort(got)
			want := slices.Clone(tt.wantRemov)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("removed %v, want %v", got, want)
			}
			for rel := range tt.sidecars {
				_, err := os.Stat(filepath.Join(root, rel))
				if exists, kept := err == nil, !slices.Contains(want, rel); exists != kept {
					t.Errorf("%s exists: %v, want %v", rel, exists, kept)
				}
			}
		})
	}
	if removed, err := RepairSidecars(t.TempDir(), "platform", "local"); err != nil || len(removed) != 0 {
		t.Errorf("a backend without files: %v, %v", removed, err)
	}
}
