// Package filestate knows the insides of Pulumi's self-managed backend (a
// folder or a bucket as the blob library lays it out, pkg/backend/diy): its
// lock files, in a folder (Dir) or an S3 bucket (Bucket), and the metadata
// sidecars a killed write leaves empty in a folder. The driver reads them to
// recover a killed run; no other backend is looked into.
package filestate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/platform/internal/proc"
)

// Lock is a file backend's lock on a stack, as the engine writes it
// (pkg/backend/diy/lock.go: the pid is the engine's, the CLI process).
type Lock struct {
	Path      string    `json:"-"`
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
	// Unreadable says why the lock file could not be read (empty, cut short,
	// not JSON): whose it is cannot be told.
	Unreadable string `json:"-"`
}

func (l Lock) String() string {
	if l.Unreadable != "" {
		return fmt.Sprintf("unreadable lock %s (%s)", l.Path, l.Unreadable)
	}
	return fmt.Sprintf("pid %d, %s@%s, since %s", l.Pid, l.Username, l.Hostname, l.Timestamp.Format(time.RFC3339))
}

// Stale says whether the process that took the lock is known to be gone: it
// ran on this host, and no process has its pid now, or the process that has
// it started after the lock was taken (the pid was reused). A lock of
// another host, an unreadable one, or one of a live process is never stale.
func (l Lock) Stale() bool {
	if !l.onThisHost() {
		return false
	}
	started, err := proc.Started(l.Pid)
	if err != nil {
		return errors.Is(err, proc.ErrGone)
	}
	// The lock is written after its process starts. The start time is
	// derived from the boot time, which moves with the wall clock: a clock
	// stepped forward after the lock was taken moves it later. reuseSlack
	// keeps such a step from making a live run's lock look stale; a pid is
	// reused far later than that (its number has to come round again).
	return !l.Timestamp.IsZero() && started.After(l.Timestamp.Add(reuseSlack))
}

// reuseSlack is how much later than its lock a process must have started
// for its pid to count as reused.
const reuseSlack = 5 * time.Minute

// HeldHere says whether a live process on this host holds the lock.
func (l Lock) HeldHere() bool { return l.onThisHost() && !l.Stale() }

// Verifiable says whether this host can tell if the lock's run still goes:
// a readable lock taken on this host.
func (l Lock) Verifiable() bool { return l.onThisHost() }

func (l Lock) onThisHost() bool {
	host, err := os.Hostname()
	return err == nil && l.Unreadable == "" && l.Hostname == host && l.Pid > 0
}

// Store is where a backend keeps its stacks' locks, and the driver its
// Unrecorded marks: a file backend's folder (Dir) or an S3 bucket
// (Bucket). Project-scoped stacks lock under
// .pulumi/locks/<org>/<project>/<stack>/<id>.json.
type Store interface {
	// Locks reads the locks on a stack of the project.
	Locks(ctx context.Context, project, stack string) ([]Lock, error)
	// Remove removes a lock; one removed meanwhile is no error.
	Remove(ctx context.Context, l Lock) error
	// Unrecorded reads the stack's Unrecorded mark: nil when there is none.
	Unrecorded(ctx context.Context, project, stack string) (*Unrecorded, error)
	// SetUnrecorded writes the stack's mark, or removes it when u is nil.
	SetUnrecorded(ctx context.Context, project, stack string, u *Unrecorded) error
	// Checkpoint fingerprints the stack's state: it changes with every
	// write of the engine.
	Checkpoint(ctx context.Context, project, stack string) (string, error)
}

// RemoveStale removes the locks whose process is gone and returns
// them, and the others.
func RemoveStale(ctx context.Context, store Store, locks []Lock) (removed, held []Lock, err error) {
	for _, l := range locks {
		if !l.Stale() {
			held = append(held, l)
			continue
		}
		if err := store.Remove(ctx, l); err != nil {
			return removed, held, fmt.Errorf("removing the stale lock %s: %w", l.Path, err)
		}
		removed = append(removed, l)
	}
	return removed, held, nil
}

// parseLock reads a lock's content; one that is not a lock is Unreadable.
func parseLock(path string, data []byte) Lock {
	l := Lock{Path: path}
	if err := json.Unmarshal(data, &l); err != nil {
		l = Lock{Path: path, Unreadable: fmt.Sprintf("%d bytes: %v", len(data), err)}
	}
	return l
}

// Dir is a file backend's folder.
type Dir string

// Remove removes the lock's file.
func (d Dir) Remove(_ context.Context, l Lock) error {
	if err := os.Remove(l.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Locks reads the locks of a file backend's stack. The blob library writes
// a lock to a temporary file and renames it, so a lock is never read
// half-written.
func (d Dir) Locks(_ context.Context, project, stack string) ([]Lock, error) {
	stateDir := string(d)
	paths, err := filepath.Glob(filepath.Join(stateDir, ".pulumi", "locks", "*", project, stack, "*.json"))
	if err != nil {
		return nil, err
	}
	var locks []Lock
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		locks = append(locks, parseLock(p, data))
	}
	return locks, nil
}

// RepairSidecars removes the metadata sidecars (<file>.attrs) of a file
// backend that are not valid JSON. The backend's blob library writes a
// sidecar in place (os.Create, then encode: gocloud.dev/blob/fileblob,
// setAttrs), so a run killed in between leaves it empty, and every later
// read of its file then fails ("failed to load checkpoint: EOF"). A missing
// sidecar is read as default metadata, so removing it is safe.
//
// A live run may be writing a sidecar this instant. The stack's own files
// are repaired at once unless a live process on this host holds its lock
// (the run killed a moment ago holds none that lives); other files only once
// they are a few seconds old.
func RepairSidecars(stateDir, project, stack string) ([]string, error) {
	locks, err := Dir(stateDir).Locks(context.Background(), project, stack)
	if err != nil {
		return nil, err
	}
	stackBusy := false
	for _, l := range locks {
		stackBusy = stackBusy || !l.Stale()
	}
	root := filepath.Join(stateDir, ".pulumi")
	var removed []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".attrs") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		settled := time.Since(info.ModTime()) >= 5*time.Second
		if !settled && (stackBusy || !ofStack(root, path, project, stack)) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var attrs map[string]any
		if json.Unmarshal(data, &attrs) == nil {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		removed = append(removed, path)
		return nil
	})
	return removed, err
}

// ofStack says whether a file of the backend belongs to the stack: its
// checkpoint and backup (stacks/<project>/<stack>.json*), its history,
// backups and locks (<kind>/[<org>/]<project>/<stack>/...).
func ofStack(root, path, project, stack string) bool {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i := 1; i+1 < len(parts); i++ {
		if parts[i] == project && (parts[i+1] == stack || strings.HasPrefix(parts[i+1], stack+".json")) {
			return true
		}
	}
	return false
}
