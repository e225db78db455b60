package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acme/platform/stacks"
	"github.com/acme/platform/testbed/bench"
)

// measureScale runs the local stack with N copies of its service (no
// observability, so that the services are what grows) through its life on a
// cluster of its own, for each N of o.scale: up from empty, preview and drift
// with no changes, kubectl diff of the same objects, destroy. Each figure
// says its N; per resource figures divide by the resources in the state.
func measureScale(ctx context.Context, o options, r *bench.Report, c cluster) error {
	bin, platform, clusterDir := c.bin, c.platform, c.dir
	kubeconfig, kubectl := filepath.Join(clusterDir, "kubeconfig"), filepath.Join(bin, "kubectl")
	for _, n := range o.scale {
		project, err := projectCopy(o, fmt.Sprintf("scale-project-%d", n), clusterDir, func(data []byte) ([]byte, error) { return withServices(data, n) })
		if err != nil {
			return err
		}
		state := filepath.Join(o.work, fmt.Sprintf("scale-state-%d", n))
		if err := os.MkdirAll(state, 0o700); err != nil {
			return err
		}
		env := []string{"PULUMI_BACKEND_URL=file://" + state, "PULUMI_CONFIG_PASSPHRASE=local-cluster-only"}
		rssPeaks := map[string]int64{} // by command and role
		cmd := func(args ...string) (time.Duration, error) {
			args = append(args, "--stack", "local", "--cwd", project)
			if o.parallel > 0 {
				args = append(args, "--parallel", strconv.Itoa(o.parallel))
			}
			if args[0] == "up" || args[0] == "destroy" {
				args = append(args, "--checkpoints", o.checkpoints)
			}
			res, peaks, err := measurePeaks(ctx, o.root, env, platform, args...)
			for role, rss := range peaks {
				key := args[0] + " " + role
				rssPeaks[key] = max(rssPeaks[key], rss)
			}
			return res.wall, err
		}
		figures := map[string]float64{}
		var pack packCost
		steps := []struct {
			name string
			run  func() (time.Duration, error)
		}{
			{"up from empty", func() (time.Duration, error) { return cmd("up") }},
			{"preview, no changes", func() (time.Duration, error) { return cmd("preview", "--expect-no-changes") }},
			{"drift", func() (time.Duration, error) { return cmd("drift") }},
			{"kubectl diff", func() (time.Duration, error) {
				manifests := filepath.Join(o.work, fmt.Sprintf("scale-objects-%d.json", n))
				if _, err := dumpObjects(ctx, kubectl, kubeconfig, manifests); err != nil {
					return 0, err
				}
				res, err := measure(ctx, o.root, nil, kubectl, "--kubeconfig", kubeconfig, "diff", "-f", manifests)
				if err == nil && res.exit != 0 {
					err = fmt.Errorf("kubectl diff of the objects just read found differences (exit %d):\n%s", res.exit, res.output)
				}
				return res.wall, err
			}},
			{"policy pack, load + evaluation", func() (time.Duration, error) {
				var err error
				pack, err = measurePack(ctx, platform, state)
				return pack.load + pack.evaluation, err
			}},
			{"destroy", func() (time.Duration, error) { return cmd("destroy") }},
		}
		var resources int
		for _, step := range steps {
			d, err := step.run()
			if err != nil {
				return fmt.Errorf("%d services, %s: %w", n, step.name, err)
			}
			figures[step.name] = d.Seconds()
			if step.name == "up from empty" {
				if resources, err = countResources(state); err != nil {
					return err
				}
			}
		}
		prefix := fmt.Sprintf("scale %d services: ", n)
		r.Add(bench.NewFigure(prefix+"resources", "resources", "Pulumi resources in the state", float64(resources)))
		for _, step := range steps {
			r.Add(bench.NewFigure(prefix+step.name, "s", "", figures[step.name]))
		}
		for _, key := range slices.Sorted(maps.Keys(rssPeaks)) {
			r.Add(bench.NewFigure(prefix+key+" peak RSS", "MB", "highest VmHWM of the run's processes of that kind", float64(rssPeaks[key])/1e6))
		}
		r.Add(bench.NewFigure(prefix+"up per resource", "ms", "", 1000*figures["up from empty"]/float64(resources)))
		r.Add(bench.NewFigure(prefix+"destroy per resource", "ms", "", 1000*figures["destroy"]/float64(resources)))
		r.Ratio(fmt.Sprintf("%d services: drift <= 0.3x kubectl diff", n), prefix+"drift", prefix+"kubectl diff", 0.3)
		r.Add(bench.NewFigure(prefix+"policy pack load", "ms", "the analyzer started and configured", float64(pack.load.Milliseconds())))
		r.Add(bench.NewFigure(prefix+"policy pack evaluation", "ms", fmt.Sprintf("every resource and the stack judged, %d findings", pack.findings), float64(pack.evaluation.Milliseconds())))
		r.Ratio(fmt.Sprintf("%d services: policy pack <= 0.1x preview", n), prefix+"policy pack, load + evaluation", prefix+"preview, no changes", 0.1)
		if n == 40 { // the targets of the scale issue, at 40 services
			r.Limit(prefix+"preview <= 3 s", prefix+"preview, no changes", 3)
			r.Limit(prefix+"up <= 30 s", prefix+"up from empty", 30)
			r.Limit(prefix+"destroy <= 30 s", prefix+"destroy", 30)
		}
		fmt.Fprintf(o.log, "bench: %d services (%d resources) done\n", n, resources)
	}
	return nil
}

// withServices rewrites the local stack file for n copies of its first
// service, each in its own namespace on kwok's nodes, and no observability
// stack.
func withServices(data []byte, n int) ([]byte, error) {
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	config, _ := file["config"].(map[string]any)
	services, _ := config[stacks.Namespace+":services"].([]any)
	if len(services) == 0 {
		return nil, fmt.Errorf("Pulumi.local.yaml declares no service")
	}
	first := services[0].(map[string]any)
	var copies []any
	for i := range n {
		c := map[string]any{}
		for k, v := range first {
			c[k] = v
		}
		c["name"] = fmt.Sprintf("%s-%d", first["name"], i+1)
		// On kwok's nodes, not the real node (30 pods at most): the bench
		// measures the engine and the plugin, not containers starting.
		delete(c, "placement")
		copies = append(copies, c)
	}
	config[stacks.Namespace+":services"] = copies
	delete(config, stacks.Namespace+":observability")
	// The secrets only the observability stack used (Jaeger's UI login)
	// would now be unknown keys, which the config loader refuses.
	referenced := map[string]bool{}
	for _, field := range []string{"secretEnv", "secretFiles"} {
		refs, _ := first[field].(map[string]any)
		for _, key := range refs {
			referenced[fmt.Sprintf("%s:%v", stacks.Namespace, key)] = true
		}
	}
	for key, v := range config {
		if m, ok := v.(map[string]any); ok && m["secure"] != nil && !referenced[key] {
			delete(config, key)
		}
	}
	return yaml.Marshal(file)
}
