package filestate

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A mark is written whole, read back as written, read as a mark even when it
// is not one (its run's changes are as unknown), and removed; the stack's
// checkpoint fingerprint changes with every write of its state, whichever
// compression the backend writes.
func TestUnrecordedMarksAndCheckpoints(t *testing.T) {
	ctx := t.Context()
	dir := Dir(t.TempDir())
	if u, err := dir.Unrecorded(ctx, "platform", "local"); err != nil || u != nil {
		t.Fatalf("a stack never marked: %v, %v; want no mark", u, err)
	}
	mark := &Unrecorded{Lock: Lock{Pid: 4242, Username: "ci", Hostname: "runner", Timestamp: time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)}, Operation: "up"}
	if err := dir.SetUnrecorded(ctx, "platform", "local", mark); err != nil {
		t.Fatal(err)
	}
	got, err := dir.Unrecorded(ctx, "platform", "local")
	if err != nil || got == nil || got.Pid != 4242 || got.Operation != "up" || got.Hostname != "runner" || !got.Timestamp.Equal(mark.Timestamp) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, mark)
	}
	if other, _ := dir.Unrecorded(ctx, "platform", "prod"); other != nil {
		t.Fatalf("another stack reads the mark: %+v", other)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(string(dir), ".pulumi", "platform", "unrecorded", "platform", ".mark-*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	if err := os.WriteFile(got.Path, []byte("{\"pid\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cut, err := dir.Unrecorded(ctx, "platform", "local"); err != nil || cut == nil || cut.Unreadable == "" {
		t.Fatalf("a mark cut short: %+v, %v; want an unreadable mark", cut, err)
	}
	if err := dir.SetUnrecorded(ctx, "platform", "local", nil); err != nil {
		t.Fatal(err)
	}
	if u, err := dir.Unrecorded(ctx, "platform", "local"); err != nil || u != nil {
		t.Fatalf("after removal: %v, %v", u, err)
	}
	if err := dir.SetUnrecorded(ctx, "platform", "local", nil); err != nil {
		t.Fatalf("removing no mark: %v", err)
	}

	empty, err := dir.Checkpoint(ctx, "platform", "local")
	if err != nil {
		t.Fatal(err)
	}
	stacks := filepath.Join(string(dir), ".pulumi", "stacks", "platform")
	if err := os.MkdirAll(stacks, 0o700); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{empty: "no state"}
	for _, write := range []struct{ file, content string }{
		{"local.json", `{"checkpoint":1}`},
		{"local.json", `{"checkpoint":2}`},
		{"local.json.gz", "gzip"},
		{"prod.json", "another stack"},
	} {
		if err := os.WriteFile(filepath.Join(stacks, write.file), []byte(write.content), 0o600); err != nil {
			t.Fatal(err)
		}
		fp, err := dir.Checkpoint(ctx, "platform", "local")
		if err != nil {
			t.Fatal(err)
		}
		if before, ok := seen[fp]; ok && write.file != "prod.json" {
			t.Errorf("after writing %s %q the fingerprint is the one of %s", write.file, write.content, before)
		}
		if _, ok := seen[fp]; !ok && write.file == "prod.json" {
			t.Errorf("another stack's write changed local's fingerprint")
		}
		seen[fp] = write.file + " " + write.content
	}
}
