//go:build e2e

// Package e2e runs the local stack on the real Pulumi engine against a real
// Kubernetes control plane on 127.0.0.1 (testbed/localcluster). It needs the
// tools that scripts/tools.sh builds: `make test` builds them and runs it.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/policypack/shared"
	"github.com/acme/platform/stacks/stackstest"
	"github.com/acme/platform/testbed/localcluster"
	"github.com/acme/platform/testbed/nodeimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// env is what every test of the suite shares: one cluster, one project copy
// whose .cluster points at it, one state backend, and the driver binary.
var env struct {
	cluster    *localcluster.Cluster
	clusterDir string
	projectDir string
	platform   string // the cli/platform binary
}

// projectRoot is the product's project folder: Pulumi.yaml, the stack files, app/.
const projectRoot = "../.."

func TestMain(m *testing.M) {
	driver.ServeSupervisor()
	if helper := os.Getenv(helperVariable); helper != "" {
		os.Exit(runHelper(helper))
	}
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	tools := os.Getenv("PLATFORM_TOOLS")
	if tools == "" {
		fmt.Fprintln(suiteLog, "e2e: PLATFORM_TOOLS is not set; run the suite with `make test` (it builds the tools)")
		return 1
	}
	// The user's environment, before the suite points the engine at its
	// own state: the user's local stack is read with it.
	userEnv := os.Environ()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var clean teardown
	defer func() {
		if !clean.run() {
			code = 1
		}
	}()
	clean.onSignal(cancel)

	if err := lockSuite(); err != nil {
		fmt.Fprintln(suiteLog, "e2e:", err)
		return 1
	}
	sweepStaleRuns()
	work, err := os.MkdirTemp("", runDirPrefix)
	if err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	clean.add(func() error {
		if code == 0 || os.Getenv("E2E_KEEP") == "" {
			return os.RemoveAll(work)
		}
		fmt.Fprintf(suiteLog, "e2e: kept %s (E2E_KEEP set)\n", work)
		return nil
	})
	// Every process the suite starts (the platform command, the engine, its
	// plugins, the cluster's servers) writes its temporary files in the run's
	// folder, which must be empty again at the end: a run that leaves one
	// behind (such as a kubeconfig, credentials included) fails the suite.
	tmp := filepath.Join(work, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	os.Setenv("TMPDIR", tmp)
	clean.add(func() error { return emptyTemporaryFolder(tmp) })

	// The driver `make platform` built (make e2e passes it), so that the
	// suite tests that binary and the program is linked once; else build it.
	env.platform = os.Getenv("PLATFORM_BINARY")
	if env.platform == "" {
		env.platform = filepath.Join(work, "platform")
		build := exec.Command("go", "build", "-o", env.platform, "./cli/platform")
		build.Dir, build.Stdout, build.Stderr = projectRoot, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(suiteLog, "e2e: building cli/platform:", err)
			return 1
		}
	}

	bin := filepath.Join(tools, "bin")
	stages, err := localcluster.Stages(filepath.Join(bin, "kwok-stages.yaml"))
	if err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	// The user's files are the suite's to read, never to write: checked
	// after everything else, the user's cluster started again included.
	guard, err := guardUserFiles(projectRoot)
	if err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	clean.add(guard.check)
	user, err := stopUserCluster(ctx, userEnv)
	if err != nil {
		fmt.Fprintln(suiteLog, "e2e:", err)
		return 1
	}
	if user != nil {
		clean.add(func() error {
			// The user's servers outlive the suite, and its temporary folder.
			setUserTMPDIR(userEnv)
			return user.restore(bin, stages)
		})
	}

	clusterDir := filepath.Join(work, "cluster")
	env.clusterDir = clusterDir
	node, err := realNode(ctx, bin)
	if err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	// The host as it is before the cluster: the suite fails unless Down
	// leaves it so (the real node's interfaces, iptables rules, ipsets, mounts and
	// kernel settings).
	before, err := localcluster.HostFootprint(clusterDir)
	if err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	clean.add(func() error {
		if err := localcluster.Down(clusterDir); err != nil {
			return fmt.Errorf("stopping the cluster: %w", err)
		}
		after, err := localcluster.HostFootprint(clusterDir)
		if err != nil || after != before {
			return fmt.Errorf("the cluster's down left the host changed (%v):\n%s", err, lineDiff(before, after))
		}
		fmt.Fprintln(suiteLog, "e2e: the host is as it was before the cluster (interfaces, iptables rules, ipsets, mounts, kernel settings)")
		return nil
	})
	start := time.Now()
	// DieWithParent: if this process dies (a panic, a -timeout), the kernel
	// kills the servers; the teardown covers every ordinary exit and
	// SIGINT or SIGTERM.
	env.cluster, err = localcluster.Up(ctx, localcluster.Options{
		Dir: clusterDir, Binaries: localcluster.BinariesIn(bin), Stages: stages, DieWithParent: true, Log: os.Stderr,
		Node: node,
	})
	if err != nil {
		fmt.Fprintln(suiteLog, "e2e: starting the cluster:", err)
		return 1
	}
	fmt.Fprintf(suiteLog, "e2e: cluster up in %s\n", time.Since(start).Round(time.Millisecond))

	if env.projectDir, err = projectCopy(work, clusterDir); err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	os.Setenv("PULUMI_BACKEND_URL", "file://"+filepath.Join(work, "state"))
	os.Setenv("PULUMI_CONFIG_PASSPHRASE", stackstest.LocalPassphrase)
	if err := os.MkdirAll(filepath.Join(work, "state"), 0o700); err != nil {
		fmt.Fprintln(suiteLog, err)
		return 1
	}
	return m.Run()
}

// teardown holds the suite's clean-up steps and runs them once, the last
// added first, when the suite ends or when SIGINT or SIGTERM stops it.
type teardown struct {
	mu    sync.Mutex
	once  sync.Once
	steps []func() error
	ok    bool
}

func (t *teardown) add(step func() error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps = append(t.steps, step)
}

// run runs the steps (once; a second caller waits for the first) and says
// whether every one succeeded; each failure is printed.
func (t *teardown) run() bool {
	t.once.Do(func() {
		t.mu.Lock()
		steps := slices.Clone(t.steps)
		t.mu.Unlock()
		t.ok = true
		for i := len(steps) - 1; i >= 0; i-- {
			if err := steps[i](); err != nil {
				fmt.Fprintln(suiteLog, "e2e: FAIL:", err)
				t.ok = false
			}
		}
	})
	return t.ok
}

// suiteLog is where the suite says what it does outside its tests: to
// stderr, and once SIGINT or SIGTERM has stopped it, to the terminal too
// (go test drops a stopped package's buffered output, and the user is to
// see what was done to their cluster).
var suiteLog = &reporter{w: os.Stderr}

type reporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *reporter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Write(p)
}

// alsoToTerminal copies what follows to the controlling terminal, if any.
func (r *reporter) alsoToTerminal() {
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.w = io.MultiWriter(r.w, tty)
	}
}

// onSignal runs the teardown when SIGINT (Ctrl-C reaches the whole
// process group: make, go test, this binary) or SIGTERM arrives, then exits:
// the tests in flight cannot be stopped, so the suite ends here, with the
// user's cluster back as it was. cancel stops a setup still under way.
func (t *teardown) onSignal(cancel context.CancelFunc) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		suiteLog.alsoToTerminal()
		fmt.Fprintf(suiteLog, "e2e: %v: stopping the suite's cluster and cleaning up\n", s)
		cancel()
		t.run()
		os.Exit(1)
	}()
}

// clientImage is the suite's HTTP client (e2e/client), for requests from
// inside the cluster.
const clientImage = "localhost/platform/e2e-client:1"

// realNode asks for the cluster's real node with the images `make
// cluster-up` gives it, and the suite's client. Where the machine cannot
// run it, Up says why; the tests that need it fail with that reason.
func realNode(ctx context.Context, bin string) (*localcluster.NodeOptions, error) {
	node := localcluster.RealNode(ctx, projectRoot, bin)
	if node.Unavailable != "" {
		return node, nil
	}
	client, err := nodeimage.Program(ctx, clientImage, "..", "./e2e/client", "65532:65532")
	if err != nil {
		return nil, err
	}
	dns, err := kubeDNSImage(node.Binaries.CoreDNS)
	if err != nil {
		return nil, err
	}
	for _, image := range []nodeimage.Image{client, dns} {
		built, err := image.Build()
		if err != nil {
			return nil, err
		}
		node.Images = append(node.Images, built)
	}
	return node, nil
}

// kubeDNS is the suite's cluster DNS pod's image and what it answers: the
// CoreDNS the node runs (scripts/tools.sh coredns), on port 53 with its
// hosts plugin only, so that the policies' rule for pods labelled
// k8s-app=kube-dns is tried against a real name server in a pod (the node's
// own CoreDNS stands for NodeLocal DNSCache, at the node-local address).
const (
	kubeDNSName    = "localhost/platform/e2e-kube-dns:1"
	kubeDNSLookup  = "kubernetes.default.svc.cluster.local."
	kubeDNSAnswers = "10.96.0.1"
)

func kubeDNSImage(coredns string) (nodeimage.Image, error) {
	binary, err := os.ReadFile(coredns)
	if err != nil {
		return nodeimage.Image{}, err
	}
	corefile := fmt.Sprintf(".:53 {\n    hosts {\n        %s %s\n    }\n}\n", kubeDNSAnswers, kubeDNSLookup)
	return nodeimage.Image{
		Name: kubeDNSName,
		Files: []nodeimage.File{
			{Path: "/coredns", Mode: 0o755, Content: binary},
			{Path: "/Corefile", Mode: 0o644, Content: []byte(corefile)},
			{Path: "/etc/hosts", Mode: 0o644}, // the plugin's file, besides the entries inline
		},
		Config: v1.Config{User: "65532:65532", Entrypoint: []string{"/coredns", "-conf", "/Corefile"}},
	}, nil
}

// requireRealNode fails the test, naming why, unless the suite's cluster
// has its real node: a test of real pods never passes without them.
func requireRealNode(t *testing.T) {
	t.Helper()
	state, err := localcluster.ReadNodeState(env.clusterDir)
	if err != nil {
		t.Fatal(err)
	}
	if !state.Enabled {
		t.Fatalf("this test needs the local cluster's real node, which does not run here: %s", state.Reason)
	}
}

// setUserTMPDIR gives this process the user's TMPDIR again (or none), for
// what it starts to outlive the suite.
func setUserTMPDIR(userEnv []string) {
	for _, kv := range userEnv {
		if tmp, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			os.Setenv("TMPDIR", tmp)
			return
		}
	}
	os.Unsetenv("TMPDIR")
}

// emptyTemporaryFolder says what the suite's runs left in their temporary
// folder, if anything.
func emptyTemporaryFolder(tmp string) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		return fmt.Errorf("the suite's runs left %d files in their temporary folder %s: %s", len(left), tmp, strings.Join(left, ", "))
	}
	return nil
}

// runDirPrefix begins the name of every run's temporary folder (its
// cluster, state and project copy), in os.TempDir().
const runDirPrefix = "platform-e2e-"

// suiteLock is held by the running suite: one per machine, since the real
// node is the machine's. The kernel releases it when the process ends,
// however it ends.
var (
	suiteLock = filepath.Join(os.TempDir(), "platform-e2e.lock")
	// heldLock keeps the lock's file open (a collected *os.File is closed).
	heldLock *os.File
)

// lockSuite takes the suite's lock, or says which run holds it.
func lockSuite() error {
	f, err := os.OpenFile(suiteLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(suiteLock)
		f.Close()
		return fmt.Errorf("another end-to-end run (pid %s) is running on this machine, and there can be one (the real node is the machine's): wait until it ends", strings.TrimSpace(string(holder)))
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	heldLock = f
	_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// sweepStaleRuns removes the folders of earlier runs that died without
// cleaning up (a -timeout panic skips deferred calls; the kernel has already
// killed their servers, see DieWithParent).
func sweepStaleRuns() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	for _, dir := range dirs {
		if running, _ := localcluster.Running(filepath.Join(dir, "cluster")); len(running) == 0 {
			// Down takes away what a dead run's real node left on the
			// host: its pods, bridge, iptables chains, mounts, settings.
			if err := localcluster.Down(filepath.Join(dir, "cluster")); err != nil {
				fmt.Fprintf(suiteLog, "e2e: cleaning up after the dead run in %s: %v\n", dir, err)
			}
			os.RemoveAll(dir)
		}
	}
}

// projectCopy lays out a project folder with the real Pulumi.yaml and
// Pulumi.local.yaml, whose .cluster is the test's cluster, so the stack file's
// relative kubeconfig finds it. Tests may edit the copy's stack file.
func projectCopy(work, clusterDir string) (string, error) {
	dir := filepath.Join(work, "project")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// The project and local stack files, and every stack's policy pack
	// config (the platform command passes it with the pack).
	files := []string{"Pulumi.yaml", "Pulumi.local.yaml"}
	for _, stack := range stackstest.Stacks {
		files = append(files, shared.ConfigFile("", stack))
	}
	if err := os.MkdirAll(filepath.Join(dir, shared.ConfigDir), 0o700); err != nil {
		return "", err
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(projectRoot, f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, os.Symlink(clusterDir, filepath.Join(dir, ".cluster"))
}

// lineDiff lists the lines only one of two texts has.
func lineDiff(before, after string) string {
	count := map[string]int{}
	for _, l := range strings.Split(before, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(after, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "- "+l)
		case n < 0:
			out = append(out, "+ "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
