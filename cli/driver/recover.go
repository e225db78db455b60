package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

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

// Recovery is what Recover found and did.
type Recovery struct {
	// RepairedFiles are metadata files of the file backend that a killed
	// write left truncated, removed before the stack was opened.
	RepairedFiles []string
	// RemovedLocks are locks whose process no longer exists.
	RemovedLocks []Lock
	// HeldLocks are the locks left: of a live run here, of another host, or
	// unreadable. While one is held, pending operations are the live run's
	// and are left alone.
	HeldLocks []Lock
	// ClearedOperations are operations a killed run left pending.
	ClearedOperations []PendingOperation
}

// PendingOperation is an operation the engine started and never saw finish.
type PendingOperation struct {
	Type string // creating, updating, deleting, reading, importing
	URN  string
}

// NeedsRefresh says whether the next update must read the resources back
// first: a cleared operation may or may not have happened.
func (r Recovery) NeedsRefresh() bool { return len(r.ClearedOperations) > 0 }

// Recover makes the stack usable again after a run that was killed: it
// removes locks whose process is gone (file backends only; other backends
// keep their own locks) and, with operations, clears the operations the
// killed run left pending, unless a lock is still held: then they are the
// live run's, and the engine refuses to run beside it. A lock of a live
// process, of another host or that cannot be read is left alone: `platform
// cancel` is the way out.
func (s *Session) Recover(ctx context.Context, operations bool) (Recovery, error) {
	r := Recovery{RepairedFiles: s.repaired}
	locks, err := s.Locks()
	if err != nil {
		return r, err
	}
	r.RemovedLocks, r.HeldLocks, err = removeStaleLocks(locks)
	if err != nil || !operations || len(r.HeldLocks) > 0 {
		return r, err
	}
	r.ClearedOperations, err = s.clearPendingOperations(ctx)
	return r, err
}

// removeStaleLocks removes the locks whose process is gone and returns
// them, and the others.
func removeStaleLocks(locks []Lock) (removed, held []Lock, err error) {
	for _, l := range locks {
		if !l.Stale() {
			held = append(held, l)
			continue
		}
		if err := os.Remove(l.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, held, fmt.Errorf("removing the stale lock %s: %w", l.Path, err)
		}
		removed = append(removed, l)
	}
	return removed, held, nil
}

// Locks lists the locks on the stack in a file backend (none elsewhere).
func (s *Session) Locks() ([]Lock, error) {
	if s.stateDir == "" {
		return nil, nil
	}
	return stackLocks(s.stateDir, s.project, s.name)
}

// stackLocks reads the locks of a file backend's stack. Project-scoped
// stacks lock under locks/<org>/<project>/<stack>/<id>.json; the blob library
// writes a lock to a temporary file and renames it, so a lock is never read
// half-written.
func stackLocks(stateDir, project, stack string) ([]Lock, error) {
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
		l := Lock{Path: p}
		if err := json.Unmarshal(data, &l); err != nil {
			l = Lock{Path: p, Unreadable: fmt.Sprintf("%d bytes: %v", len(data), err)}
		}
		locks = append(locks, l)
	}
	return locks, nil
}

// ErrLockHeld is returned by Cancel when a live process on this host holds
// the stack's lock: stop that process instead.
var ErrLockHeld = errors.New("the stack's lock is held by a running process")

// ErrUnverifiable is returned by Cancel, without force, for a lock this host
// cannot check: another host's, an unreadable one, or any lock of a backend
// other than a local file one (the driver cannot read those).
var ErrUnverifiable = errors.New("whether the run holding the lock has ended cannot be checked from here")

// Cancel removes the stack's locks whose runs have ended. A live process's
// lock on this host is never removed. A lock this host cannot check is
// removed only with force, the operator's word that its run has ended; the
// removed locks are returned (for another backend, the lock the engine
// cancels is not known: none is listed).
func (s *Session) Cancel(ctx context.Context, force bool) ([]Lock, error) {
	if s.stateDir == "" {
		if !force {
			return nil, fmt.Errorf("%w: this backend's locks; once you know its run has ended, cancel --force removes the lock", ErrUnverifiable)
		}
		return nil, s.stack.Cancel(ctx)
	}
	locks, err := s.Locks()
	if err != nil {
		return nil, err
	}
	for _, l := range locks {
		switch {
		case l.HeldHere():
			return nil, fmt.Errorf("%w (%s): stop it, or wait for it to end", ErrLockHeld, l)
		case !l.Verifiable() && !force:
			return nil, fmt.Errorf("%w (%s): once you know its run has ended, cancel --force removes it", ErrUnverifiable, l)
		}
	}
	for _, l := range locks {
		if err := os.Remove(l.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing the lock %s: %w", l.Path, err)
		}
	}
	return locks, nil
}

// clearPendingOperations removes the operations a killed run left pending in
// the state, and returns them. Every one is safe to clear here, because the
// next update refreshes (Recovery.NeedsRefresh) and then:
//   - a pending update, delete, read or import concerns a resource the state
//     already holds: the refresh reads what it really is now;
//   - a pending create of a Kubernetes object: with server-side apply the
//     provider creates by an apply PATCH, which creates the object or, if the
//     killed run's create reached the API server, applies over it ("we always
//     send a PATCH request during creates with SSA enabled ... we currently
//     always upsert the object", pulumi-kubernetes v4.25 pkg/await/await.go,
//     Creation). So clearing is right, and needs no per-object ID as an
//     import would. One object can be left over: an auto-named one (a name
//     with a random suffix) whose create did reach the server gets a new name
//     on the next run; Recovery lists every cleared create by URN.
//
// A pending create of any other provider's resource may have made a real
// object the state does not know: clearing it would make a duplicate, so it
// is refused, naming what to import.
func (s *Session) clearPendingOperations(ctx context.Context) ([]PendingOperation, error) {
	exported, deployment, pending, err := s.pendingOperations(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	var cleared []PendingOperation
	var foreign []string
	for _, op := range pending {
		if op.Type == apitype.OperationTypeCreating && !strings.HasPrefix(string(op.Resource.Type), "kubernetes:") {
			foreign = append(foreign, string(op.Resource.URN))
		}
		cleared = append(cleared, PendingOperation{Type: string(op.Type), URN: string(op.Resource.URN)})
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("a killed run left creates pending that may have made real objects: %s; "+
			"check each, then run `pulumi refresh --import-pending-creates URN,ID` for those that exist "+
			"or `pulumi refresh --clear-pending-creates` if none does", strings.Join(foreign, ", "))
	}
	delete(deployment, "pending_operations")
	if exported.Deployment, err = json.Marshal(deployment); err != nil {
		return nil, err
	}
	if err := s.stack.Import(ctx, exported); err != nil {
		return nil, fmt.Errorf("writing the state without its pending operations: %w", err)
	}
	return cleared, nil
}

// PendingOperations lists the operations the state holds as started and
// never finished.
func (s *Session) PendingOperations(ctx context.Context) ([]PendingOperation, error) {
	_, _, pending, err := s.pendingOperations(ctx)
	var out []PendingOperation
	for _, op := range pending {
		out = append(out, PendingOperation{Type: string(op.Type), URN: string(op.Resource.URN)})
	}
	return out, err
}

// pendingOperations exports the state and returns it, its deployment's
// fields and the pending operations among them.
func (s *Session) pendingOperations(ctx context.Context) (apitype.UntypedDeployment, map[string]json.RawMessage, []apitype.OperationV2, error) {
	exported, err := s.stack.Export(ctx)
	if err != nil {
		return exported, nil, nil, fmt.Errorf("reading the state: %w", err)
	}
	var deployment map[string]json.RawMessage
	if len(exported.Deployment) == 0 {
		return exported, nil, nil, nil // a stack never deployed
	}
	if err := json.Unmarshal(exported.Deployment, &deployment); err != nil {
		return exported, nil, nil, fmt.Errorf("reading the state: %w", err)
	}
	var pending []apitype.OperationV2
	if raw, ok := deployment["pending_operations"]; ok {
		if err := json.Unmarshal(raw, &pending); err != nil {
			return exported, nil, nil, fmt.Errorf("reading the pending operations: %w", err)
		}
	}
	return exported, deployment, pending, nil
}

// repairSidecars removes the metadata sidecars (<file>.attrs) of a file
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
func repairSidecars(stateDir, project, stack string) ([]string, error) {
	locks, err := stackLocks(stateDir, project, stack)
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
