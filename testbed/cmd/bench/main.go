// Command bench measures how fast and lean the platform program is to build
// and to run, and prints a table (`make bench`); the same report goes to
// bench/results/<time>.json and bench/results/latest.json for comparing runs.
//
//	make bench BENCH_FLAGS="[-runs 5] [-cold-runs 3] [-only build,unit,app,stack,backend,scale,jaeger] [-scale 1,10,40,100] [-parallel N] [-checkpoints auto]"
//
// What it measures, each figure over several runs (median, min, max):
//   - build: the driver (cli/platform) with an empty build cache, and after a
//     one-line edit in stacks/ (through -overlay: the tree is never touched):
//     wall time, CPU time and peak RSS of the build (wait4's rusage, the
//     figures /usr/bin/time -v prints);
//   - unit: the unit test suites of both modules, as `make unit` runs them;
//   - app: the sample service's stripped binary and its request path;
//   - stack: on a cluster of its own (testbed/localcluster), the local stack's
//     up from empty, preview with no changes, refresh preview, drift command and
//     destroy, beside an empty program's preview (the engine's floor) and
//     `kubectl diff` of the same objects (the peer);
//   - backend: the local stack's up from empty, preview, drift command and
//     destroy on the file backend and on an S3 bucket (testbed/s3server);
//   - scale: the local stack with N copies of its service and no
//     observability, for each N of -scale: up, preview, drift, kubectl diff
//     of the same objects, destroy, resources and the time per resource.
//
// The stack and scale parts need the tools of scripts/tools.sh (PLATFORM_TOOLS) and the
// driver binary (PLATFORM_BINARY); `make bench` provides both.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/testbed/bench"
)

// The figures the targets refer to.
const (
	figColdRSS      = "program build, cold: peak RSS"
	figRebuild      = "program build after a one-line edit: wall"
	figUnit         = "unit tests (both modules): wall"
	figPreview      = "preview, no changes (in-process: open + preview)"
	figFloor        = "empty program preview (in-process: open + preview)"
	figDriftCommand = "platform drift (whole command)"
	figKubectlDiff  = "kubectl diff of the same objects (whole command)"
)

// How the Makefile builds the driver: PLATFORM_LDFLAGS and PLATFORM_GOMEMLIMIT.
const (
	ldflags = "-s -w"
	buildGC = "GOMEMLIMIT=2000MiB"
)

func main() {
	driver.ServeSupervisor()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	runs, coldRuns int
	// scale are the service counts of the scale scenario; parallel, when
	// set, and checkpoints are the platform command's --parallel and
	// --checkpoints there.
	scale       []int
	parallel    int
	checkpoints string
	only        map[string]bool
	root, work  string
	log         io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	runs := flags.Int("runs", 5, "runs of each figure")
	coldRuns := flags.Int("cold-runs", 3, "runs of the cold build (each takes minutes)")
	only := flags.String("only", "build,unit,app,stack,backend", "which parts to measure: build, unit, app, stack, backend, scale, jaeger")
	scale := flags.String("scale", "1,10,40,100", "scale: the service counts to measure")
	parallel := flags.Int("parallel", 0, "scale: the platform command's --parallel (0: its default)")
	checkpoints := flags.String("checkpoints", "auto", "scale: the platform command's --checkpoints (auto: the default path, once per run for the local stack)")
	out := flags.String("out", "bench/results", "folder of the JSON reports")
	if err := flags.Parse(args); err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "Pulumi.yaml")); err != nil {
		return errors.New("run it from the project root (make bench)")
	}
	work, err := os.MkdirTemp("", "platform-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o := options{runs: *runs, coldRuns: *coldRuns, only: map[string]bool{}, root: root, work: work, log: stderr, parallel: *parallel, checkpoints: *checkpoints}
	for _, n := range strings.Split(*scale, ",") {
		count, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || count < 1 {
			return fmt.Errorf("-scale %q: want service counts such as 1,10,40", *scale)
		}
		o.scale = append(o.scale, count)
	}
	for _, part := range strings.Split(*only, ",") {
		o.only[strings.TrimSpace(part)] = true
	}

	report := &bench.Report{When: time.Now().UTC(), Machine: machine()}
	parts := []struct {
		name    string
		measure func(context.Context, options, *bench.Report) error
	}{{"build", measureBuild}, {"unit", measureUnit}, {"app", measureApp}, {"stack", onCluster("cluster", measureStack)}, {"backend", onCluster("backend-cluster", measureBackends)}, {"scale", onCluster("scale-cluster", measureScale)}, {"jaeger", measureJaegerMemory}}
	for _, p := range parts {
		if !o.only[p.name] {
			continue
		}
		fmt.Fprintf(stderr, "bench: measuring %s\n", p.name)
		if err := p.measure(ctx, o, report); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	report.Ratio("warm preview of the local stack <= 4x the empty-program floor", figPreview, figFloor, 4)
	report.Ratio("drift check <= 1.0x kubectl diff of the same objects", figDriftCommand, figKubectlDiff, 1)
	report.Limit("rebuild after a one-line edit <= 3 s", figRebuild, 3)
	report.Limit("cold build peak RSS <= 2.6 GB", figColdRSS, 2.6)
	report.Limit("unit test suite <= 30 s", figUnit, 30)

	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	return save(report, filepath.Join(root, *out))
}

func save(r *bench.Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		return err
	}
	for _, name := range []string{r.When.Format("20060102T150405Z") + ".json", "latest.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// result is what one command cost.
type result struct {
	wall, cpu time.Duration
	peakRSS   int64 // bytes, of the largest process of the tree
	exit      int
	output    []byte
}

// measure runs a command and reports its wall time, CPU time and peak RSS
// (wait4's rusage of the command and the children it waited for).
func measure(ctx context.Context, dir string, env []string, name string, args ...string) (result, error) {
	return measureWhile(ctx, nil, dir, env, name, args...)
}

// measureWhile is measure, running while(pid, done) beside the command, if
// given, until done is closed when the command has exited.
func measureWhile(ctx context.Context, while func(pid int, done <-chan struct{}), dir string, env []string, name string, args ...string) (result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		done, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			if while != nil {
				while(cmd.Process.Pid, done)
			}
		}()
		err = cmd.Wait()
		close(done)
		<-stopped
	}
	r := result{wall: time.Since(start), output: out.Bytes()}
	if cmd.ProcessState == nil {
		return r, err
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return r, err
	}
	r.exit = cmd.ProcessState.ExitCode()
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
		r.peakRSS = usage.Maxrss * 1024
	}
	return r, nil
}

// mustSucceed is measure, failing on a non-zero exit.
func mustSucceed(ctx context.Context, dir string, env []string, name string, args ...string) (result, error) {
	return mustSucceedWhile(ctx, nil, dir, env, name, args...)
}

// mustSucceedWhile is measureWhile, failing on a non-zero exit.
func mustSucceedWhile(ctx context.Context, while func(pid int, done <-chan struct{}), dir string, env []string, name string, args ...string) (result, error) {
	r, err := measureWhile(ctx, while, dir, env, name, args...)
	if err == nil && r.exit != 0 {
		err = fmt.Errorf("%s %s exited %d:\n%s", name, strings.Join(args, " "), r.exit, r.output)
	}
	return r, err
}

// measureBuild builds the driver cold (empty build cache; modules stay
// downloaded) and after one-line edits of stacks/program.go made through
// -overlay, with the Makefile's flags.
func measureBuild(ctx context.Context, o options, r *bench.Report) error {
	binary := filepath.Join(o.work, "platform")
	build := []string{"build", "-ldflags=" + ldflags, "-o", binary, "./cli/platform"}
	var wall, cpu, rss []float64
	for i := range o.coldRuns {
		cache := filepath.Join(o.work, fmt.Sprintf("gocache-%d", i))
		res, err := mustSucceed(ctx, o.root, []string{"GOCACHE=" + cache, buildGC}, "go", build...)
		os.RemoveAll(cache)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.log, "bench: cold build %d: %s\n", i+1, res.wall.Round(time.Second))
		wall, cpu, rss = append(wall, res.wall.Seconds()), append(cpu, res.cpu.Seconds()), append(rss, float64(res.peakRSS)/1e9)
	}
	if o.coldRuns > 0 {
		r.Add(bench.NewFigure("program build, cold: wall", "s", "go build of cli/platform with an empty GOCACHE", wall...))
		r.Add(bench.NewFigure("program build, cold: CPU", "s", "user + system", cpu...))
		r.Add(bench.NewFigure(figColdRSS, "GB", "the largest process of the build (the link)", rss...))
	}

	if _, err := mustSucceed(ctx, o.root, []string{buildGC}, "go", build...); err != nil { // warm the cache
		return err
	}
	source := filepath.Join(o.root, "stacks", "program.go")
	original, err := os.ReadFile(source)
	if err != nil {
		return err
	}
	const line = "every service runs a prebuilt image"
	if !bytes.Contains(original, []byte(line)) {
		return fmt.Errorf("%s no longer has the line the edit changes (%q)", source, line)
	}
	wall, cpu, rss = nil, nil, nil
	for i := range o.runs {
		edited := filepath.Join(o.work, fmt.Sprintf("program-%d.go", i))
		// Unique edits: an edit seen before is a build cache hit, not a rebuild.
		text := bytes.Replace(original, []byte(line), []byte(fmt.Sprintf("%s (edit %d, %d)", line, i, time.Now().UnixNano())), 1)
		if err := os.WriteFile(edited, text, 0o644); err != nil {
			return err
		}
		overlay := filepath.Join(o.work, "overlay.json")
		data, _ := json.Marshal(map[string]any{"Replace": map[string]string{source: edited}})
		if err := os.WriteFile(overlay, data, 0o644); err != nil {
			return err
		}
		res, err := mustSucceed(ctx, o.root, []string{buildGC}, "go", append([]string{"build", "-overlay=" + overlay}, build[1:]...)...)
		if err != nil {
			return err
		}
		wall, cpu, rss = append(wall, res.wall.Seconds()), append(cpu, res.cpu.Seconds()), append(rss, float64(res.peakRSS)/1e9)
	}
	r.Add(bench.NewFigure(figRebuild, "s", "a changed string in stacks/program.go: compile stacks and cli/platform, link", wall...))
	r.Add(bench.NewFigure("program build after a one-line edit: CPU", "s", "user + system", cpu...))
	r.Add(bench.NewFigure("program build after a one-line edit: peak RSS", "GB", "", rss...))

	wall = nil
	for range o.runs {
		res, err := mustSucceed(ctx, o.root, []string{buildGC}, "go", build...)
		if err != nil {
			return err
		}
		wall = append(wall, res.wall.Seconds())
	}
	r.Add(bench.NewFigure("program build, nothing changed: wall", "s", "", wall...))
	return nil
}

// measureUnit runs the unit tests of both modules as `make unit` does.
func measureUnit(ctx context.Context, o options, r *bench.Report) error {
	var wall []float64
	for range max(o.runs/2, 1) {
		start := time.Now()
		if _, err := mustSucceed(ctx, o.root, nil, "go", "test", "-count=1", "./..."); err != nil {
			return err
		}
		if _, err := mustSucceed(ctx, filepath.Join(o.root, "app"), nil, "go", "test", "-count=1", "./..."); err != nil {
			return err
		}
		wall = append(wall, time.Since(start).Seconds())
	}
	r.Add(bench.NewFigure(figUnit, "s", "go test -count=1 ./... in the program and in app/, warm build cache", wall...))
	return nil
}

var benchLine = regexp.MustCompile(`^BenchmarkGreet\S*\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

// measureApp builds the sample service as its Dockerfile does and runs its
// request-path benchmark.
func measureApp(ctx context.Context, o options, r *bench.Report) error {
	app := filepath.Join(o.root, "app")
	binary := filepath.Join(o.work, "greeter")
	if _, err := mustSucceed(ctx, app, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", binary, "."); err != nil {
		return err
	}
	info, err := os.Stat(binary)
	if err != nil {
		return err
	}
	r.Add(bench.NewFigure("sample service binary (stripped, static)", "MiB", "as the Dockerfile builds it", float64(info.Size())/(1<<20)))
	res, err := mustSucceed(ctx, app, nil, "go", "test", "-run=^$", "-bench=BenchmarkGreet", "-benchmem", fmt.Sprintf("-count=%d", o.runs), ".")
	if err != nil {
		return err
	}
	var ns, allocs []float64
	for _, line := range strings.Split(string(res.output), "\n") {
		if m := benchLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			a, _ := strconv.ParseFloat(m[3], 64)
			ns, allocs = append(ns, v), append(allocs, a)
		}
	}
	if len(ns) == 0 {
		return fmt.Errorf("no BenchmarkGreet results in:\n%s", res.output)
	}
	r.Add(bench.NewFigure("sample service request path", "ns/op", "GET /v1/greet through the handler chain", ns...))
	r.Add(bench.NewFigure("sample service request path: allocations", "allocs/op", "", allocs...))
	return nil
}

// machine describes where the figures come from.
func machine() string {
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %f kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores%s, %s %s/%s", runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// emptyProgram is the engine's floor: a program that declares nothing.
func emptyProgram(auto.ConfigMap) pulumi.RunFunc {
	return func(*pulumi.Context) error { return nil }
}

// inProcess times opening a stack and previewing it, as the driver does.
func inProcess(ctx context.Context, dir, stack string, program driver.Program) (time.Duration, error) {
	start := time.Now()
	s, err := driver.Open(ctx, driver.Options{ProjectDir: dir, Stack: stack, Program: program, Create: true})
	if err != nil {
		return 0, err
	}
	changes, err := s.Preview(ctx, false)
	if err == nil && len(changes) > 0 {
		err = fmt.Errorf("preview of %s found %d changes, want none", stack, len(changes))
	}
	return time.Since(start), err
}
