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
	"testing"
	"time"

	"github.com/acme/platform/internal/localcluster"
)

// env is what every test of the suite shares: one cluster, one project copy
// whose .cluster points at it, one state backend, and the driver binary.
var env struct {
	cluster    *localcluster.Cluster
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
	start := time.Now()
	// DieWithParent: if this process dies (a panic, a -timeout), the kernel
	// kills the servers; the deferred Down covers every ordinary exit.
	env.cluster, err = localcluster.Up(ctx, localcluster.Options{
		Dir: clusterDir, Binaries: localcluster.BinariesIn(bin), Stages: stages, DieWithParent: true, Log: os.Stderr,
	})
	defer func() {
		if err := localcluster.Down(clusterDir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the cluster:", err)
			code = 1
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

// sweepStaleRuns removes the folders of earlier runs that died without
// cleaning up (a -timeout panic skips deferred calls; the kernel has already
// killed their servers, see DieWithParent).
func sweepStaleRuns() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "platform-e2e-*"))
	for _, dir := range dirs {
		if running, _ := localcluster.Running(filepath.Join(dir, "cluster")); len(running) == 0 {
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
