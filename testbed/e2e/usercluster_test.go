//go:build e2e

package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acme/platform/stacks/stackstest"
	"github.com/acme/platform/testbed/localcluster"
)

// The machine has one real node (its bridge, addresses and DNS port are the
// machine's), and the suite's tests need it. When the user's local cluster
// (`make deploy`'s) holds it, the suite stops that cluster, runs on a
// cluster of its own, and starts the user's again at the end, checking that
// the user's local stack is as it was: the same outputs, its Deployments
// available, no drift. The user's state and cluster files are never the
// suite's to write; guardUserFiles checks that they are as they were.

// userCluster is the user's cluster that the suite stopped.
type userCluster struct {
	dir string
	// project is the project whose .cluster it is ("" if it is none's).
	project string
	// env is the user's environment, for the platform commands that read
	// the user's stack.
	env []string
	// outputs are the local stack's outputs before the suite ("" when the
	// project has no local stack, e.g. after `make cluster-up` alone).
	outputs string
}

// stopUserCluster stops the cluster whose real node runs on this machine, if
// any, after reading its stack's outputs. Another end-to-end run's cluster
// is never stopped: the suite refuses to start beside it.
func stopUserCluster(ctx context.Context, userEnv []string) (*userCluster, error) {
	owner := localcluster.RealNodeOwner()
	if owner == "" {
		return nil, nil
	}
	if strings.HasPrefix(filepath.Base(filepath.Dir(owner)), runDirPrefix) {
		return nil, fmt.Errorf("another end-to-end run holds this machine's real node (its cluster in %s): wait until it ends", owner)
	}
	u := &userCluster{dir: owner, env: withLocalPassphrase(userEnv)}
	if project := filepath.Dir(owner); filepath.Base(owner) == ".cluster" && exists(filepath.Join(project, "Pulumi.local.yaml")) {
		u.project = project
	}
	if u.project != "" {
		out, err := u.platform(ctx, "outputs")
		switch {
		case err == nil:
			u.outputs = out
		case strings.Contains(err.Error(), "does not exist in the backend"):
			fmt.Fprintf(suiteLog, "e2e: the project %s has no local stack: only its cluster is checked afterwards\n", u.project)
		default:
			return nil, fmt.Errorf("the local cluster in %s runs the real node this suite needs; the suite stops it and checks its stack when it starts it again, but cannot read that stack: %w", owner, err)
		}
	}
	fmt.Fprintf(suiteLog, "e2e: the local cluster in %s holds this machine's real node, which the suite needs: stopping it; the suite starts it again when it ends\n", owner)
	start := time.Now()
	if err := localcluster.Down(owner); err != nil {
		return nil, fmt.Errorf("stopping the local cluster in %s: %w", owner, err)
	}
	fmt.Fprintf(suiteLog, "e2e: stopped the local cluster in %s in %s\n", owner, time.Since(start).Round(time.Millisecond))
	return u, nil
}

// restore starts the user's cluster again with its real node, then checks
// the user's stack: outputs as before, every Deployment available, no drift.
func (u *userCluster) restore(bin, stages string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := localcluster.Up(ctx, localcluster.Options{
		Dir: u.dir, Binaries: localcluster.BinariesIn(bin), Stages: stages, Log: suiteLog,
		Node: localcluster.RealNode(ctx, cmp.Or(u.project, projectRoot), bin),
	})
	if err != nil && !errors.Is(err, localcluster.ErrAlreadyRunning) {
		return fmt.Errorf("starting the local cluster in %s again (make cluster-up does it too): %w", u.dir, err)
	}
	if state, err := localcluster.ReadNodeState(u.dir); err != nil || !state.Enabled {
		return fmt.Errorf("the local cluster in %s came back without its real node: %v %s", u.dir, err, state.Reason)
	}
	fmt.Fprintf(suiteLog, "e2e: started the local cluster in %s again in %s\n", u.dir, time.Since(start).Round(time.Millisecond))
	if u.outputs == "" {
		return nil
	}
	start = time.Now()
	if out, err := c.Kubectl(ctx, nil, "wait", "--for=condition=Available", "deployment", "--all", "--all-namespaces", "--timeout=4m"); err != nil {
		return fmt.Errorf("the local stack's Deployments in %s are not available again: %w\n%s", u.dir, err, out)
	}
	outputs, err := u.platform(ctx, "outputs")
	if err != nil {
		return err
	}
	if outputs != u.outputs {
		return fmt.Errorf("the local stack's outputs changed while the suite ran:\n%s", lineDiff(u.outputs, outputs))
	}
	if _, err := u.platform(ctx, "drift"); err != nil {
		return fmt.Errorf("the local stack drifted while the suite ran: %w", err)
	}
	fmt.Fprintf(suiteLog, "e2e: the local stack in %s is as it was (outputs, Deployments available, no drift), checked in %s\n", u.project, time.Since(start).Round(time.Millisecond))
	return nil
}

// platform runs a platform command on the user's local stack with the
// user's environment and returns its output; a non-zero exit is an error
// holding what it printed.
func (u *userCluster) platform(ctx context.Context, command string) (string, error) {
	cmd := exec.CommandContext(ctx, env.platform, command, "--stack", "local", "--cwd", u.project)
	var stdout, stderr bytes.Buffer
	cmd.Env, cmd.Stdout, cmd.Stderr = u.env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("platform %s --stack local in %s: %w\n%s%s", command, u.project, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// withLocalPassphrase gives the environment the local stack's passphrase
// unless it has one: `make deploy` does the same.
func withLocalPassphrase(environ []string) []string {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "PULUMI_CONFIG_PASSPHRASE=") {
			return environ
		}
	}
	return append(slices.Clone(environ), "PULUMI_CONFIG_PASSPHRASE="+stackstest.LocalPassphrase)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// userFiles is a checkout's state and cluster files, each by its hash: what
// the suite must leave as it found them.
type userFiles struct {
	project string
	before  map[string]string
}

// Folders of a cluster that its own servers write while they run (the
// suite stops and starts the user's cluster): etcd's data, logs, pid files,
// the real node's containerd and kubelet, and kubectl's discovery cache
// (any kubectl on the cluster writes it). Everything else in .cluster (PKI,
// tokens, kubeconfigs, ports, settings) is the cluster's identity.
var clusterRuntime = []string{"etcd", "logs", "run", "node", "kube-cache"}

func guardUserFiles(project string) (*userFiles, error) {
	abs, err := filepath.Abs(project)
	if err != nil {
		return nil, err
	}
	g := &userFiles{project: abs}
	g.before, err = g.hashes()
	return g, err
}

// check fails, naming each file, if the user's .state or .cluster changed.
func (g *userFiles) check() error {
	after, err := g.hashes()
	if err != nil {
		return err
	}
	if maps.Equal(g.before, after) {
		fmt.Fprintf(suiteLog, "e2e: %s: .state and .cluster as they were (%d files)\n", g.project, len(after))
		return nil
	}
	var changed []string
	for path, sum := range g.before {
		if after[path] != sum {
			changed = append(changed, path)
		}
	}
	for path := range after {
		if _, ok := g.before[path]; !ok {
			changed = append(changed, path+" (new)")
		}
	}
	slices.Sort(changed)
	return fmt.Errorf("the suite changed the user's files in %s (the suite's state and cluster are its own): %s", g.project, strings.Join(changed, ", "))
}

func (g *userFiles) hashes() (map[string]string, error) {
	sums := map[string]string{}
	for _, top := range []string{".state", ".cluster"} {
		root := filepath.Join(g.project, top)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(g.project, path)
			if d.IsDir() && top == ".cluster" && slices.Contains(clusterRuntime, d.Name()) && filepath.Dir(path) == root {
				return fs.SkipDir
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			sums[rel] = hex.EncodeToString(sum[:])
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return sums, nil
}
