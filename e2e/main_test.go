//go:build e2e

// Package e2e runs the local stack on the real Pulumi engine against a real
// Kubernetes control plane on 127.0.0.1 (internal/localcluster). It needs the
// tools that scripts/tools.sh builds: `make test` builds them and runs it.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/internal/localcluster"
	"github.com/acme/platform/internal/nodeimage"
)

// env is what every test of the suite shares: one cluster, one project copy
// whose .cluster points at it, one state backend, and the driver binary.
var env struct {
	cluster    *localcluster.Cluster
	clusterDir string
	projectDir string
	platform   string // the cmd/platform binary
}

const passphrase = "local-cluster-only"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	tools := os.Getenv("PLATFORM_TOOLS")
	if tools == "" {
		fmt.Fprintln(os.Stderr, "e2e: PLATFORM_TOOLS is not set; run the suite with `make test` (it builds the tools)")
		return 1
	}
	sweepStaleRuns()
	work, err := os.MkdirTemp("", "platform-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if code == 0 || os.Getenv("E2E_KEEP") == "" {
			os.RemoveAll(work)
		} else {
			fmt.Fprintf(os.Stderr, "e2e: kept %s (E2E_KEEP set)\n", work)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := filepath.Join(tools, "bin")
	stages, err := localcluster.Stages(filepath.Join(bin, "kwok-stages.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	clusterDir := filepath.Join(work, "cluster")
	env.clusterDir = clusterDir
	node, err := realNode(ctx, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The host as it is before the cluster: the suite fails unless Down
	// leaves it so (the real node's interfaces, iptables rules, mounts and
	// kernel settings).
	before, err := localcluster.HostFootprint(clusterDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	// DieWithParent: if this process dies (a panic, a -timeout), the kernel
	// kills the servers; the deferred Down covers every ordinary exit.
	env.cluster, err = localcluster.Up(ctx, localcluster.Options{
		Dir: clusterDir, Binaries: localcluster.BinariesIn(bin), Stages: stages, DieWithParent: true, Log: os.Stderr,
		Node: node,
	})
	defer func() {
		if err := localcluster.Down(clusterDir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the cluster:", err)
			code = 1
		}
		after, err := localcluster.HostFootprint(clusterDir)
		if err != nil || after != before {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: the cluster's down left the host changed (%v):\n%s\n", err, lineDiff(before, after))
			code = 1
		} else {
			fmt.Fprintln(os.Stderr, "e2e: the host is as it was before the cluster (interfaces, iptables rules, mounts, kernel settings)")
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the cluster:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster up in %s\n", time.Since(start).Round(time.Millisecond))

	if env.projectDir, err = projectCopy(work, clusterDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The driver `make platform` built (make e2e passes it), so that the
	// suite tests that binary and the program is linked once; else build it.
	env.platform = os.Getenv("PLATFORM_BINARY")
	if env.platform == "" {
		env.platform = filepath.Join(work, "platform")
		build := exec.Command("go", "build", "-o", env.platform, "./cmd/platform")
		build.Dir, build.Stdout, build.Stderr = "..", os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building cmd/platform:", err)
			return 1
		}
	}
	os.Setenv("PULUMI_BACKEND_URL", "file://"+filepath.Join(work, "state"))
	os.Setenv("PULUMI_CONFIG_PASSPHRASE", passphrase)
	if err := os.MkdirAll(filepath.Join(work, "state"), 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// clientImage is the suite's HTTP client (e2e/client), for requests from
// inside the cluster.
const clientImage = "localhost/platform/e2e-client:1"

// realNode asks for the cluster's real node with the images `make
// cluster-up` gives it, and the suite's client. Where the machine cannot
// run it, Up says why; the tests that need it fail with that reason.
func realNode(ctx context.Context, bin string) (*localcluster.NodeOptions, error) {
	node := &localcluster.NodeOptions{Binaries: localcluster.NodeBinariesIn(bin)}
	images, err := nodeimage.BuildAll(ctx, "..", filepath.Join(bin, "jaeger"))
	if err != nil {
		node.Unavailable = "building the node's images: " + err.Error()
		return node, nil
	}
	client, err := nodeimage.Program(ctx, clientImage, "..", "./e2e/client", "65532:65532")
	if err != nil {
		return nil, err
	}
	built, err := client.Build()
	if err != nil {
		return nil, err
	}
	node.Images = append(images, built)
	return node, nil
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

// sweepStaleRuns removes the folders of earlier runs that died without
// cleaning up (a -timeout panic skips deferred calls; the kernel has already
// killed their servers, see DieWithParent).
func sweepStaleRuns() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "platform-e2e-*"))
	for _, dir := range dirs {
		if running, _ := localcluster.Running(filepath.Join(dir, "cluster")); len(running) == 0 {
			// Down takes away what a dead run's real node left on the
			// host: its pods, bridge, iptables chains, mounts, settings.
			if err := localcluster.Down(filepath.Join(dir, "cluster")); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: cleaning up after the dead run in %s: %v\n", dir, err)
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
	for _, f := range []string{"Pulumi.yaml", "Pulumi.local.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", f))
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
