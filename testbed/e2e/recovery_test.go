//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/cli/driver/filestate"
	"github.com/acme/platform/cli/policy"
	"github.com/acme/platform/internal/proc"
)

// TestKilledUpRecovers kills `platform up` of the local stack from empty in
// the middle of its update, as a CI timeout or a second Ctrl-C on a shell
// does, and checks that nothing of it runs on, and that the next `platform
// up` alone converges: every workload ready, no pending operation in the
// state, no object in the cluster that the state does not hold, no change
// left to preview. It runs on the default path: the engine writes the local
// stack's state once, at the end of a run, so the killed run recorded
// nothing. It runs after TestLocalStack, which ends with the stack
// destroyed.
func TestKilledUpRecovers(t *testing.T) {
	t.Cleanup(func() { platform(t, "destroy") })

	cmd := exec.CommandContext(t.Context(), env.platform, "up", "--stack", "local", "--cwd", env.projectDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the engine has created a few objects and is creating more.
	created := waitForLines(t, stdout, "created", 5, 3*time.Minute)
	descendants := descendantsOf(cmd.Process.Pid)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("killed platform up (pid %d) after %d objects were created; its processes: %v", cmd.Process.Pid, created, descendants)
	if len(descendants) < 2 {
		t.Fatalf("the killed run had %d processes below it, want the supervisor and the engine at least", len(descendants))
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range descendants {
		for p.alive() {
			if time.Now().After(deadline) {
				t.Fatalf("process %d (%s) of the killed run still runs", p.pid, p.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	session := openLocal(t)
	locks, err := session.Locks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != 1 {
		t.Fatalf("the killed run left %d locks, want its 1 (the test kills the engine mid-update)", len(locks))
	}

	pendingBefore, err := session.PendingOperations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The local stack's state is written once per run (its objects are all
	// Kubernetes objects named by the program): the killed run recorded
	// nothing, and its mark says so.
	mark, err := filestate.Dir(stateDir()).Unrecorded(t.Context(), "platform", "local")
	if err != nil || mark == nil || mark.Operation != "up" {
		t.Fatalf("the killed up left the mark %v (%v), want its up's", mark, err)
	}
	if len(pendingBefore) != 0 {
		t.Errorf("the killed run wrote %d pending operations: its state was written before its end", len(pendingBefore))
	}
	// A kill between the blob library's create of a sidecar and its write
	// leaves the sidecar empty (CI hit it: "failed to load checkpoint: EOF");
	// make that happen every time before the next run.
	sidecar := filepath.Join(stateDir(), ".pulumi", "stacks", "platform", "local.json.attrs")
	if err := os.WriteFile(sidecar, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out := platform(t, "up")
	if code != 0 {
		t.Fatalf("up after the killed run exited %d:\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "platform: ") || strings.HasPrefix(line, "  creating") || strings.HasPrefix(line, "  updating") {
			t.Log(line)
		}
	}
	for _, said := range []string{"a run ended before the engine recorded its changes to stack \"local\" (up by pid " + strconv.Itoa(mark.Pid), "refreshing before the update"} {
		if !strings.Contains(out, said) {
			t.Errorf("up after the killed run does not say %q:\n%s", said, out)
		}
	}
	if mark, err := filestate.Dir(stateDir()).Unrecorded(t.Context(), "platform", "local"); err != nil || mark != nil {
		t.Errorf("after the recovered up the mark is %v (%v), want none", mark, err)
	}
	if !strings.Contains(out, "removed "+sidecar+", a metadata file a killed run left truncated") {
		t.Errorf("up does not say it removed the empty sidecar %s:\n%s", sidecar, out)
	}
	if !strings.Contains(out, "removed the lock on stack \"local\" left by a run that no longer exists (pid "+strconv.Itoa(locks[0].Pid)) {
		t.Errorf("up does not say it removed the stale lock of pid %d:\n%s", locks[0].Pid, out)
	}
	if pending, err := session.PendingOperations(t.Context()); err != nil || len(pending) != 0 {
		t.Errorf("after recovery the state holds pending operations %v (%v)", pending, err)
	}
	if orphans := objectsTheStateDoesNotHold(t); len(orphans) > 0 {
		t.Errorf("the killed run left objects in the cluster that the state does not hold: %v", orphans)
	}
	for _, w := range workloads(t) {
		if !w.Observed || w.Ready != w.Desired {
			t.Errorf("%s %s not ready after recovery: %+v", w.Kind, w.Name, w)
		}
	}
	if code, out := platform(t, "preview", "--expect-no-changes"); code != 0 {
		t.Fatalf("preview after recovery found changes (exit %d):\n%s", code, out)
	}
	if locks, _ := session.Locks(t.Context()); len(locks) != 0 {
		t.Errorf("locks left after the recovered run: %v", locks)
	}
}

// TestCancelRefusesALiveLock: `platform cancel` never removes the lock of a
// run still going on this host, and removes one whose process is gone.
func TestCancelRefusesALiveLock(t *testing.T) {
	session := openLocal(t)
	host, _ := os.Hostname()
	dir := filepath.Join(stateDir(), ".pulumi", "locks", "organization", "platform", "local")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "test-lock.json")
	write := func(pid int) {
		// Taken now: a lock older than its pid's process is a reused pid's.
		content := `{"pid":` + strconv.Itoa(pid) + `,"username":"test","hostname":"` + host + `","timestamp":"` + time.Now().Format(time.RFC3339Nano) + `"}`
		if err := os.WriteFile(lock, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Remove(lock) })

	write(os.Getpid())
	if locks, err := session.Locks(t.Context()); err != nil || len(locks) != 1 {
		t.Fatalf("Locks = %v, %v; want the test's lock", locks, err)
	}
	if code, out := platform(t, "cancel"); code != 1 || !strings.Contains(out, "held by a running process") {
		t.Errorf("cancel with a live lock exited %d, want 1 and a refusal:\n%s", code, out)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("cancel removed the lock of a live process: %v", err)
	}

	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	write(gone.Process.Pid)
	if code, out := platform(t, "cancel"); code != 0 || !strings.Contains(out, "removed the lock") {
		t.Errorf("cancel of a stale lock exited %d:\n%s", code, out)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("cancel left the stale lock: %v", err)
	}
}

func openLocal(t *testing.T) *driver.Session { return openStack(t, "local") }

func openStack(t *testing.T, stack string) *driver.Session {
	t.Helper()
	s, err := driver.Open(t.Context(), driver.Options{ProjectDir: env.projectDir, Stack: stack, Program: policy.Program, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitForLines reads r until n lines contain word, and returns n; the rest
// of r is drained in the background.
func waitForLines(t *testing.T, r io.Reader, word string, n int, timeout time.Duration) int {
	t.Helper()
	found := make(chan int, 1)
	go func() {
		seen := 0
		scanner := bufio.NewScanner(r)
		for scanner.Scan() {
			if strings.Contains(scanner.Text(), word) {
				seen++
				if seen == n {
					found <- seen
				}
			}
		}
		close(found)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	select {
	case seen, ok := <-found:
		if !ok {
			t.Fatalf("the run ended before %d lines said %q", n, word)
		}
		return seen
	case <-ctx.Done():
		t.Fatalf("no %d lines said %q within %s", n, word, timeout)
	}
	return 0
}

// process is a running process, told apart from a later one with its pid by
// its start time.
type process struct {
	pid   int
	name  string
	start string
}

func (p process) alive() bool {
	name, start, state, ok := procStat(p.pid)
	return ok && name == p.name && start == p.start && state != "Z"
}

// descendantsOf lists every process below pid.
func descendantsOf(pid int) []process {
	var out []process
	for _, p := range proc.Descendants(pid) {
		if name, start, _, ok := procStat(p); ok {
			out = append(out, process{pid: p, name: name, start: start})
		}
	}
	return out
}

// procStat reads a process's command name, start time and state.
func procStat(pid int) (name, start, state string, ok bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", "", "", false
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[end+1:]))
	if open < 0 || len(fields) < 20 {
		return "", "", "", false
	}
	// After the name: state, ppid, ..., starttime is field 22 of stat, 20th here.
	return string(data[open+1 : end]), fields[19], fields[0], true
}

// stateDir is the file backend the suite runs on.
func stateDir() string {
	return strings.TrimPrefix(os.Getenv("PULUMI_BACKEND_URL"), "file://")
}

// objectsTheStateDoesNotHold lists the program's objects in the cluster
// (labelled app.kubernetes.io/managed-by=pulumi), of every kind the local
// stack's state holds, that the state does not hold: what a killed run made
// and the next one did not adopt.
func objectsTheStateDoesNotHold(t *testing.T) []string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "pulumi", "stack", "export", "--stack", "local", "--cwd", env.projectDir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi stack export: %v", err)
	}
	var state struct {
		Deployment struct {
			Resources []struct {
				Type    string         `json:"type"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(out, &state); err != nil {
		t.Fatal(err)
	}
	held, kinds := map[string]bool{}, map[string]bool{}
	for _, r := range state.Deployment.Resources {
		// A namespace is not labelled; a patch is part of another object.
		if !strings.HasPrefix(r.Type, "kubernetes:") || strings.HasSuffix(r.Type, ":Namespace") || strings.HasSuffix(r.Type, "Patch") {
			continue
		}
		kind := r.Type[strings.LastIndex(r.Type, ":")+1:]
		metadata, _ := r.Outputs["metadata"].(map[string]any)
		namespace, _ := metadata["namespace"].(string)
		name, _ := metadata["name"].(string)
		kinds[kind] = true
		held[kind+" "+namespace+"/"+name] = true
	}
	if len(kinds) == 0 {
		t.Fatal("the state holds no Kubernetes object")
	}
	var listed struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		} `json:"items"`
	}
	list := kubectl(t, "get", strings.Join(slices.Sorted(maps.Keys(kinds)), ","), "--all-namespaces", "-l", "app.kubernetes.io/managed-by=pulumi", "-o", "json")
	if err := json.Unmarshal(list, &listed); err != nil {
		t.Fatal(err)
	}
	var orphans []string
	for _, o := range listed.Items {
		if id := o.Kind + " " + o.Metadata.Namespace + "/" + o.Metadata.Name; !held[id] {
			orphans = append(orphans, id)
		}
	}
	t.Logf("%d objects of %d kinds in the cluster, %d the state does not hold", len(listed.Items), len(kinds), len(orphans))
	return orphans
}
