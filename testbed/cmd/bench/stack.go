package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/cli/policy"
	"github.com/acme/platform/testbed/bench"
	"github.com/acme/platform/testbed/localcluster"
)

// stackKinds are the kinds the stack declares, for kubectl diff.
const stackKinds = "namespaces,deployments,statefulsets,daemonsets,services,configmaps,secrets,serviceaccounts," +
	"networkpolicies,poddisruptionbudgets,jobs,cronjobs,ingresses,horizontalpodautoscalers,clusterroles,clusterrolebindings"

// measureStack runs the local stack through its life on a cluster of its
// own, several times: up from empty, then the no-change operations, then
// destroy. Every run starts from nothing.
func measureStack(ctx context.Context, o options, r *bench.Report, c cluster) error {
	bin, platform, clusterDir := c.bin, c.platform, c.dir
	r.Add(bench.NewFigure("local cluster up", "s", "etcd, kube-apiserver, controller-manager, scheduler, kwok and 3 nodes", c.took.Seconds()))

	project, err := projectCopy(o, "project", clusterDir, nil)
	if err != nil {
		return err
	}
	empty := filepath.Join(o.work, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(empty, "Pulumi.yaml"), []byte("name: bench-empty\nruntime: go\n"), 0o644); err != nil {
		return err
	}
	state := filepath.Join(o.work, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	// The in-process driver and the commands share the backend and passphrase.
	os.Setenv("PULUMI_BACKEND_URL", "file://"+state)
	os.Setenv("PULUMI_CONFIG_PASSPHRASE", "local-cluster-only")
	// The floor's stack exists, as the local stack does when previewed.
	floor, err := driver.Open(ctx, driver.Options{ProjectDir: empty, Stack: "bench", Program: emptyProgram, Create: true})
	if err != nil {
		return err
	}
	if err := floor.Up(ctx, false); err != nil {
		return err
	}
	kubeconfig := filepath.Join(clusterDir, "kubeconfig")
	kubectl := filepath.Join(bin, "kubectl")
	platformCmd := func(args ...string) (result, error) {
		return mustSucceed(ctx, o.root, nil, platform, append(args, "--stack", "local", "--cwd", project)...)
	}

	figures := map[string][]float64{}
	add := func(name string, d time.Duration) { figures[name] = append(figures[name], d.Seconds()) }
	var resources, objects int
	for i := range o.runs {
		res, err := platformCmd("up")
		if err != nil {
			return err
		}
		add("up from empty (whole command)", res.wall)
		if resources, err = countResources(state); err != nil {
			return err
		}
		manifests := filepath.Join(o.work, "objects.json")
		if objects, err = dumpObjects(ctx, kubectl, kubeconfig, manifests); err != nil {
			return err
		}

		d, err := inProcess(ctx, project, "local", policy.Program)
		if err != nil {
			return err
		}
		add(figPreview, d)
		if d, err = inProcess(ctx, empty, "bench", emptyProgram); err != nil {
			return err
		}
		add(figFloor, d)
		if res, err = platformCmd("preview", "--expect-no-changes"); err != nil {
			return err
		}
		add("preview, no changes (whole command)", res.wall)
		if res, err = platformCmd("refresh", "--preview-only", "--expect-no-changes"); err != nil {
			return err
		}
		add("refresh preview (whole command)", res.wall)
		if res, err = platformCmd("drift"); err != nil {
			return err
		}
		add(figDriftCommand, res.wall)
		diff, err := measure(ctx, o.root, nil, kubectl, "--kubeconfig", kubeconfig, "diff", "-f", manifests)
		if err != nil {
			return err
		}
		if diff.exit != 0 {
			return fmt.Errorf("kubectl diff of the objects just read found differences (exit %d):\n%s", diff.exit, diff.output)
		}
		add(figKubectlDiff, diff.wall)
		if res, err = platformCmd("destroy"); err != nil {
			return err
		}
		add("destroy (whole command)", res.wall)
		fmt.Fprintf(o.log, "bench: stack run %d of %d done\n", i+1, o.runs)
	}
	r.Add(bench.NewFigure("local stack: resources", "resources", fmt.Sprintf("Pulumi resources in the state; %d of them Kubernetes objects", objects), float64(resources)))
	for _, name := range []string{
		"up from empty (whole command)", figPreview, figFloor, "preview, no changes (whole command)",
		"refresh preview (whole command)", figDriftCommand, figKubectlDiff, "destroy (whole command)",
	} {
		r.Add(bench.NewFigure(name, "s", "", figures[name]...))
	}
	return nil
}

// startCluster starts a local cluster of the bench's own in o.work/name and
// says where the tools and the driver are, how long the start took, and how
// to stop it (always to be called).
func startCluster(ctx context.Context, o options, name string) (bin, platform, dir string, took time.Duration, down func() error, err error) {
	down = func() error { return nil }
	tools, platform := os.Getenv("PLATFORM_TOOLS"), os.Getenv("PLATFORM_BINARY")
	if tools == "" || platform == "" {
		return "", "", "", 0, down, errors.New("PLATFORM_TOOLS and PLATFORM_BINARY must be set (make bench sets them)")
	}
	bin = filepath.Join(tools, "bin")
	stages, err := localcluster.Stages(filepath.Join(bin, "kwok-stages.yaml"))
	if err != nil {
		return "", "", "", 0, down, err
	}
	dir = filepath.Join(o.work, name)
	start := time.Now()
	down = func() error { return localcluster.Down(dir) }
	_, err = localcluster.Up(ctx, localcluster.Options{
		Dir: dir, Binaries: localcluster.BinariesIn(bin), Stages: stages, DieWithParent: true, Log: o.log,
	})
	return bin, platform, dir, time.Since(start), down, err
}

// cluster is a local cluster of the bench's own: where its tools and the
// driver are, its folder, and how long it took to start.
type cluster struct {
	bin, platform, dir string
	took               time.Duration
}

// onCluster makes a part of the bench that runs on a cluster of its own:
// started in o.work/name (startCluster), stopped whatever the part returns.
func onCluster(name string, part func(context.Context, options, *bench.Report, cluster) error) func(context.Context, options, *bench.Report) error {
	return func(ctx context.Context, o options, r *bench.Report) (err error) {
		bin, platform, dir, took, down, err := startCluster(ctx, o, name)
		defer func() {
			if downErr := down(); downErr != nil && err == nil {
				err = downErr
			}
		}()
		if err != nil {
			return err
		}
		return part(ctx, o, r, cluster{bin: bin, platform: platform, dir: dir, took: took})
	}
}

// projectCopy lays out, in o.work/name, the project's Pulumi.yaml and Pulumi.local.yaml with
// .cluster pointing at the bench's cluster; edit, when set, rewrites the
// stack file first.
func projectCopy(o options, name, clusterDir string, edit func([]byte) ([]byte, error)) (string, error) {
	dir := filepath.Join(o.work, name)
	if err := os.MkdirAll(filepath.Join(dir, ".state"), 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.local.yaml"} {
		data, err := os.ReadFile(filepath.Join(o.root, f))
		if err != nil {
			return "", err
		}
		if f == "Pulumi.local.yaml" && edit != nil {
			if data, err = edit(data); err != nil {
				return "", err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, os.Symlink(clusterDir, filepath.Join(dir, ".cluster"))
}

// checkpoint is the local stack's state file in a file backend's folder.
func checkpoint(state string) string {
	return filepath.Join(state, ".pulumi", "stacks", "platform", "local.json")
}

// countResources reads how many resources the local stack's state holds.
func countResources(state string) (int, error) {
	data, err := os.ReadFile(checkpoint(state))
	if err != nil {
		return 0, err
	}
	var file struct {
		Checkpoint struct {
			Latest struct {
				Resources []json.RawMessage `json:"resources"`
			} `json:"latest"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return 0, err
	}
	return len(file.Checkpoint.Latest.Resources), nil
}

// dumpObjects writes the stack's objects as the API server has them, less
// what only the server sets, for kubectl diff to compare; it returns how many.
func dumpObjects(ctx context.Context, kubectl, kubeconfig, path string) (int, error) {
	res, err := mustSucceed(ctx, "", nil, kubectl, "--kubeconfig", kubeconfig, "get", stackKinds, "-A",
		"-l", "app.kubernetes.io/managed-by=pulumi", "-o", "json")
	if err != nil {
		return 0, err
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(res.output, &list); err != nil {
		return 0, fmt.Errorf("kubectl get: %w: %s", err, strings.TrimSpace(string(res.output)))
	}
	for _, item := range list.Items {
		delete(item, "status")
		if meta, ok := item["metadata"].(map[string]any); ok {
			for _, field := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"} {
				delete(meta, field)
			}
		}
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": list.Items})
	if err != nil {
		return 0, err
	}
	return len(list.Items), os.WriteFile(path, data, 0o600)
}
