package filestate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// Unrecorded marks a stack that a run may have changed without the state
// saying so: the driver writes it before an operation on which the engine
// writes the state only at its end, and removes it once the engine did. A
// mark left behind is a run killed midway: what it made, changed or deleted
// is not in the state.
type Unrecorded struct {
	// Lock says whose run it is: the driver's process, user and host, and
	// when the operation began (an unreadable mark is Unreadable).
	Lock
	// Operation is the operation: up, refresh or destroy.
	Operation string `json:"operation"`
}

func (u Unrecorded) String() string {
	if u.Unreadable != "" {
		return u.Lock.String()
	}
	return u.Operation + " by " + u.Lock.String()
}

// unrecordedKey is where a stack's mark lives in the backend: beside the
// engine's folders, in one the engine never reads.
func unrecordedKey(project, stack string) string {
	return path.Join(".pulumi", "platform", "unrecorded", project, stack+".json")
}

// parseUnrecorded reads a mark; one that is not a mark is Unreadable (and
// still a mark: its run's changes are as unknown).
func parseUnrecorded(key string, data []byte) *Unrecorded {
	u := &Unrecorded{}
	if err := json.Unmarshal(data, u); err != nil || u.Operation == "" {
		return &Unrecorded{Lock: Lock{Path: key, Unreadable: fmt.Sprintf("%d bytes, not a mark", len(data))}}
	}
	u.Path = key
	return u
}

// checkpointKeys are the names a stack's state has in a project-scoped
// backend, by compression (pkg/v3 v3.274.1 backend/diy: stackPath, with
// the .gz and .zst of DIY_BACKEND_GZIP and DIY_BACKEND_ZSTD).
func checkpointKeys(project, stack string) []string {
	base := path.Join(".pulumi", "stacks", project, stack+".json")
	return []string{base, base + ".gz", base + ".zst"}
}

// Unrecorded reads the stack's mark: nil when there is none.
func (d Dir) Unrecorded(_ context.Context, project, stack string) (*Unrecorded, error) {
	file := filepath.Join(string(d), filepath.FromSlash(unrecordedKey(project, stack)))
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseUnrecorded(file, data), nil
}

// SetUnrecorded writes the stack's mark (to a temporary file, then renamed:
// a kill never leaves half a mark), or removes it when u is nil.
func (d Dir) SetUnrecorded(_ context.Context, project, stack string, u *Unrecorded) error {
	file := filepath.Join(string(d), filepath.FromSlash(unrecordedKey(project, stack)))
	if u == nil {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".mark-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// Checkpoint fingerprints the stack's state as the folder holds it: it
// changes with every write of the engine (and is the same while the stack
// has no state).
func (d Dir) Checkpoint(_ context.Context, project, stack string) (string, error) {
	sum := sha256.New()
	for _, key := range checkpointKeys(project, stack) {
		data, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(key)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(sum, "%s %d\n", key, len(data))
		sum.Write(data)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
