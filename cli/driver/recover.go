package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/acme/platform/cli/driver/filestate"
)

// Recovery is what Recover found and did.
type Recovery struct {
	// RepairedFiles are metadata files of the file backend that a killed
	// write left truncated, removed before the stack was opened.
	RepairedFiles []string
	// RemovedLocks are locks whose process no longer exists.
	RemovedLocks []filestate.Lock
	// HeldLocks are the locks left: of a live run here, of another host, or
	// unreadable. While one is held, pending operations are the live run's
	// and are left alone.
	HeldLocks []filestate.Lock
	// ClearedOperations are operations a killed run left pending.
	ClearedOperations []PendingOperation
	// Unrecorded is the mark of a run that ended before the engine wrote
	// what it did (Checkpoints AtEnd): nil when there is none, or when the
	// run is live on this host.
	Unrecorded *filestate.Unrecorded
}

// PendingOperation is an operation the engine started and never saw finish.
type PendingOperation struct {
	Type string // creating, updating, deleting, reading, importing
	URN  string
}

// NeedsRefresh says whether the next update must read the resources back
// first: a cleared operation may or may not have happened, and an
// unrecorded run's changes are not in the state.
func (r Recovery) NeedsRefresh() bool { return len(r.ClearedOperations) > 0 || r.Unrecorded != nil }

// Recover makes the stack usable again after a run that was killed: it
// removes locks whose process on this host is gone (in a file backend or an
// S3 bucket; other backends keep their own locks), reports the mark of an
// unrecorded run (the next operation that writes the state clears it) and,
// with operations, clears the operations the killed run left pending, unless
// a lock is still held: then they are the live run's, and the engine refuses
// to run beside it. A lock of a live process, of another host or that cannot
// be read is left alone: `platform cancel` is the way out.
func (s *Session) Recover(ctx context.Context, operations bool) (Recovery, error) {
	r := Recovery{RepairedFiles: s.repaired}
	locks, err := s.Locks(ctx)
	if err != nil {
		return r, err
	}
	r.RemovedLocks, r.HeldLocks, err = filestate.RemoveStale(ctx, s.locks, locks)
	if err != nil {
		return r, err
	}
	if s.locks != nil {
		if r.Unrecorded, err = s.locks.Unrecorded(ctx, s.project, s.name); err != nil {
			return r, fmt.Errorf("reading the stack's mark: %w", err)
		}
		if r.Unrecorded != nil && r.Unrecorded.HeldHere() {
			r.Unrecorded = nil // a live run's own
		}
	}
	if !operations || len(r.HeldLocks) > 0 {
		return r, nil
	}
	r.ClearedOperations, err = s.clearPendingOperations(ctx)
	return r, err
}

// Locks lists the locks on the stack in a file backend or an S3 bucket
// (none elsewhere: the driver cannot read other backends' locks).
func (s *Session) Locks(ctx context.Context) ([]filestate.Lock, error) {
	if s.locks == nil {
		return nil, nil
	}
	return s.locks.Locks(ctx, s.project, s.name)
}

// ErrLockHeld is returned by Cancel when a live process on this host holds
// the stack's lock: stop that process instead.
var ErrLockHeld = errors.New("the stack's lock is held by a running process")

// ErrUnverifiable is returned by Cancel, without force, for a lock this host
// cannot check: another host's, an unreadable one, or any lock of a backend
// other than a file one or an S3 bucket (the driver cannot read those).
var ErrUnverifiable = errors.New("whether the run holding the lock has ended cannot be checked from here")

// Cancel removes the stack's locks whose runs have ended. A live process's
// lock on this host is never removed. A lock this host cannot check is
// removed only with force, the operator's word that its run has ended; the
// removed locks are returned (for another backend, the lock the engine
// cancels is not known: none is listed).
func (s *Session) Cancel(ctx context.Context, force bool) ([]filestate.Lock, error) {
	if s.locks == nil {
		if !force {
			return nil, fmt.Errorf("%w: this backend's locks; once you know its run has ended, cancel --force removes the lock", ErrUnverifiable)
		}
		return nil, s.stack.Cancel(ctx)
	}
	locks, err := s.Locks(ctx)
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
		if err := s.locks.Remove(ctx, l); err != nil {
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
//     import would. The platform's program names every object (by content
//     where it changes, kube.ContentName); in another program an auto-named
//     object (a random suffix) whose create did reach the server would get a
//     new name on the next run; Recovery lists every cleared create by URN.
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
	exported, err := s.export(ctx)
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

// StateMark tells two readings of a stack's state apart: it changes with
// every checkpoint an update writes. Pending says whether an operation was
// in flight when it was taken (an update running, or a killed one's).
type StateMark struct {
	Hash    string
	Pending int
}

// Mark reads the stack's state as the backend keeps it (secrets encrypted)
// and marks it: only its hash is kept.
func (s *Session) Mark(ctx context.Context) (StateMark, error) {
	exported, _, pending, err := s.pendingOperations(ctx)
	if err != nil {
		return StateMark{}, err
	}
	if s.locks != nil {
		// The backend's own file: Written compares it without a CLI run.
		sum, err := s.locks.Checkpoint(ctx, s.project, s.name)
		return StateMark{Hash: sum, Pending: len(pending)}, err
	}
	sum := sha256.Sum256(exported.Deployment)
	return StateMark{Hash: hex.EncodeToString(sum[:]), Pending: len(pending)}, nil
}

// Written says whether the state was written since m was taken: on a
// folder or a bucket from its file alone (milliseconds; a `stack export` of
// 400 resources takes most of a second), elsewhere by marking it again.
func (s *Session) Written(ctx context.Context, m StateMark) (bool, error) {
	if s.locks != nil {
		sum, err := s.locks.Checkpoint(ctx, s.project, s.name)
		return sum != m.Hash, err
	}
	again, err := s.Mark(ctx)
	return again.Hash != m.Hash, err
}

// export reads the stack's state as the backend holds it: secrets stay
// ciphertext. The SDK's Export asks for --show-secrets, and its Import writes
// what it is given to a temporary file: an export of plaintext would leave
// the stack's secrets in clear on disk if the run were killed in between.
func (s *Session) export(ctx context.Context) (apitype.UntypedDeployment, error) {
	var state apitype.UntypedDeployment
	stdout, err := s.cli(ctx, nil, "stack", "export", "--stack", s.stack.Name())
	if err == nil {
		err = json.Unmarshal([]byte(stdout), &state)
	}
	return state, err
}

// recorded runs an operation that changes the stack, and keeps its mark
// (filestate.Unrecorded) true. When the engine writes the state only at the
// end (Checkpoints AtEnd), an unmarked stack is marked before, and the mark
// cleared once the engine wrote the state: the operation succeeded, or failed
// after writing (the engine writes when it ends, failed or not). A run that
// fails with the state unwritten, or is killed, leaves the mark: what it did
// is not known (it may have died before its first step; the next update's
// refresh costs seconds, a wrong guess a lost object). A mark found before
// the operation, a killed run's, is cleared only by one that succeeds after
// reading every resource back (refreshed), or by a destroy that finishes a
// killed one.
func (s *Session) recorded(ctx context.Context, operation string, refreshed bool, run func() error) error {
	if s.locks == nil {
		return run()
	}
	prior, err := s.locks.Unrecorded(ctx, s.project, s.name)
	if err != nil {
		return fmt.Errorf("reading the stack's mark: %w", err)
	}
	own := s.atEnd && prior == nil
	var before string
	if own {
		if before, err = s.locks.Checkpoint(ctx, s.project, s.name); err != nil {
			return fmt.Errorf("reading the stack's state: %w", err)
		}
		if err := s.locks.SetUnrecorded(ctx, s.project, s.name, newUnrecorded(operation)); err != nil {
			return fmt.Errorf("marking the stack: %w", err)
		}
	}
	err = run()
	clear := false
	switch {
	case own && err == nil:
		clear = true
	case own:
		after, ferr := s.locks.Checkpoint(ctx, s.project, s.name)
		clear = ferr == nil && after != before
	case prior != nil && err == nil:
		clear = refreshed || operation == "destroy" && prior.Operation == "destroy"
	}
	if !clear {
		return err
	}
	if cerr := s.locks.SetUnrecorded(ctx, s.project, s.name, nil); cerr != nil && err == nil {
		return fmt.Errorf("%s of stack %q succeeded, but its mark stays (the next update refreshes first): %w", operation, s.name, cerr)
	}
	return err
}

// newUnrecorded is the mark of an operation this process runs now.
func newUnrecorded(operation string) *filestate.Unrecorded {
	host, _ := os.Hostname()
	u := &filestate.Unrecorded{Operation: operation}
	u.Pid, u.Hostname, u.Timestamp = os.Getpid(), host, time.Now().UTC()
	if me, err := user.Current(); err == nil {
		u.Username = me.Username
	}
	return u
}
