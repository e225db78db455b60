//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/testbed/otlpload"
)

// TestJaegerRunsItsConfigAndFindsTheGreetersSpan loads the Jaeger config the
// observability component generates for dev into the real Jaeger (built from
// its module at the pinned version by scripts/tools.sh), with only its
// listening addresses moved to free ports on 127.0.0.1; then the real
// greeter, started as its Deployment starts it (PORT and the OTLP endpoint in
// its environment), answers a request, and that request's span is found
// through Jaeger's query API.
func TestJaegerRunsItsConfigAndFindsTheGreetersSpan(t *testing.T) {
	ports, dir := runJaeger(t, jaegerConfig(t), nil)

	greeter := filepath.Join(dir, "greeter")
	build := exec.Command("go", "build", "-o", greeter, ".")
	build.Dir = filepath.Join(projectRoot, "app")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the greeter: %v\n%s", err, out)
	}
	port := freePort(t)
	service := exec.Command(greeter)
	service.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "OTEL_SERVICE_NAME=greeter", "GREETER_API_TOKEN=jaeger-e2e",
		fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", ports.otlpHTTP))
	stop := start(t, "greeter", service)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/readyz", 30*time.Second)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/greet?name=jaeger", nil)
	req.Header.Set("Authorization", "Bearer jaeger-e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the greeter answered %s", resp.Status)
	}
	stop() // SIGTERM: the greeter flushes its spans on the way out

	query := fmt.Sprintf("http://127.0.0.1:%d/api/traces?service=greeter&limit=10", ports.query)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var found struct {
			Data []struct {
				Spans []struct {
					OperationName string `json:"operationName"`
				} `json:"spans"`
			} `json:"data"`
		}
		if body, err := get(query); err == nil && json.Unmarshal(body, &found) == nil && len(found.Data) > 0 {
			t.Logf("Jaeger holds %d traces of the greeter; the first has %d spans (%s)", len(found.Data), len(found.Data[0].Spans), found.Data[0].Spans[0].OperationName)
			return
		}
		if time.Now().After(deadline) {
			body, err := get(query)
			t.Fatalf("the greeter's span is not found through Jaeger's query API: %v\n%s", err, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// runningJaeger is runJaeger's Jaeger: where it listens on 127.0.0.1, and its process.
type runningJaeger struct{ otlpHTTP, query, pid int }

// runJaeger starts the real Jaeger (built from its module at the pinned
// version by scripts/tools.sh) with a config the component generates, its
// listening addresses moved to free ports on 127.0.0.1, and waits until it
// is healthy; it is stopped when the test ends.
func runJaeger(t *testing.T, config string, env []string) (runningJaeger, string) {
	t.Helper()
	jaeger := filepath.Join(os.Getenv("PLATFORM_TOOLS"), "bin", "jaeger")
	if _, err := os.Stat(jaeger); err != nil {
		t.Fatalf("Jaeger is not built: `make e2e` builds it (scripts/tools.sh jaeger): %v", err)
	}
	ports := map[int]int{}
	for _, p := range []int{observability.OTLPGRPCPort, observability.OTLPHTTPPort, 13133} {
		ports[p] = freePort(t)
		config = strings.ReplaceAll(config, fmt.Sprintf("0.0.0.0:%d", p), fmt.Sprintf("127.0.0.1:%d", ports[p]))
	}
	// The query server, on the pod's loopback behind the UI's proxy (which
	// the real node's test puts in front of it).
	ports[16687] = freePort(t)
	config = strings.ReplaceAll(config, "127.0.0.1:16687", fmt.Sprintf("127.0.0.1:%d", ports[16687]))
	if strings.Contains(config, "0.0.0.0") {
		t.Fatalf("the config listens on an address the test did not move:\n%s", config)
	}
	// The query extension's gRPC API, which the config leaves at its default.
	config = strings.Replace(config, "  jaeger_query:\n", fmt.Sprintf("  jaeger_query:\n    grpc:\n      endpoint: 127.0.0.1:%d\n", freePort(t)), 1)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(jaeger, "--config", configFile)
	cmd.Env = append(os.Environ(), env...)
	start(t, "jaeger", cmd)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/status", ports[13133]), 60*time.Second)
	return runningJaeger{otlpHTTP: ports[observability.OTLPHTTPPort], query: ports[16687], pid: cmd.Process.Pid}, dir
}

// jaegerConfig is the config.yaml of the Jaeger ConfigMap the component
// declares for dev (traces in memory).
func jaegerConfig(t *testing.T) string {
	t.Helper()
	g := observabilityGraph(t, observability.Profile("dev"))
	for _, cm := range g.OfType("kubernetes:core/v1:ConfigMap") {
		if data, ok := cm.Input("data"); ok {
			if config, ok := data.(map[string]any)["config.yaml"].(string); ok {
				return config
			}
		}
	}
	t.Fatal("no ConfigMap holds Jaeger's config.yaml")
	return ""
}

// start runs a server for the test and returns a stop that sends SIGTERM
// and waits; it is also stopped, by PID, when the test ends.
func start(t *testing.T, name string, cmd *exec.Cmd) (stop func()) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("%s's output:\n%s", name, out)
		}
	})
	return stop
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering 200 within %s: %v", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestJaegerValidatesProdsConfig: prod's Jaeger configuration (Elasticsearch
// storage, which cannot run here) is what the pinned Jaeger accepts: its own
// `validate` decodes every key strictly (a misspelled one is refused, so the
// check can fail), durations included (max_span_age, the reads' lookback).
func TestJaegerValidatesProdsConfig(t *testing.T) {
	jaeger := filepath.Join(os.Getenv("PLATFORM_TOOLS"), "bin", "jaeger")
	config := configMapFiles(t, prodObservability(t), "jaeger")["config.yaml"]
	validate := func(config string) (string, error) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(jaeger, "validate", "--config", "file:"+path)
		cmd.Env = append(os.Environ(), "ELASTICSEARCH_USERNAME=jaeger_writer", "ELASTICSEARCH_PASSWORD=e2e")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if !strings.Contains(config, "max_span_age: 720h") {
		t.Fatalf("prod's Jaeger config does not look back over its 30 days:\n%s", config)
	}
	if out, err := validate(config); err != nil {
		t.Fatalf("jaeger validate refuses prod's config: %v\n%s\n%s", err, out, config)
	}
	if out, err := validate(strings.Replace(config, "max_span_age:", "max_span_agee:", 1)); err == nil || !strings.Contains(out, "invalid keys: max_span_agee") {
		t.Errorf("jaeger validate accepted a misspelled key (%v):\n%s", err, out)
	}
}

// TestJaegerMemoryStorageStaysWithinItsLimit runs the real Jaeger with dev's
// config and environment (traces in memory; max_traces, the memory limiter
// and GOMEMLIMIT sized from the container's memory) and sends it twice the
// traces it keeps, each of the ten spans the sizing assumes: the newest
// trace is found and the oldest made way for it (the store evicts; the
// limiter does not refuse), and Jaeger's peak resident memory stays under
// the container's limit, where the kubelet would kill it.
func TestJaegerMemoryStorageStaysWithinItsLimit(t *testing.T) {
	g := observabilityGraph(t, observability.Profile("dev"))
	jaeger := g.One(t, "kubernetes:apps/v1:Deployment", "observability-jaeger")
	limit := resource.MustParse(jaeger.MustInput(t, "spec.template.spec.containers.0.resources.limits.memory").(string))
	var env []string
	for _, v := range jaeger.MustInput(t, "spec.template.spec.containers.0.env").([]any) {
		v := v.(map[string]any)
		if value, ok := v["value"].(string); ok && v["name"] == "GOMEMLIMIT" {
			env = append(env, "GOMEMLIMIT="+value)
		}
	}
	config := jaegerConfig(t)
	var maxTraces int
	for _, line := range strings.Split(config, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "max_traces: "); ok {
			maxTraces, _ = strconv.Atoi(v)
		}
	}
	if len(env) != 1 || maxTraces == 0 {
		t.Fatalf("dev's Jaeger sets GOMEMLIMIT %v and max_traces %d; want both", env, maxTraces)
	}
	ports, _ := runJaeger(t, config, env)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", ports.otlpHTTP)
	const spansPerTrace, batch = 10, 500
	var first, last string
	for sent := 0; sent < 2*maxTraces; sent += batch {
		id, err := otlpload.PostTraces(context.Background(), endpoint, batch, spansPerTrace)
		if err != nil {
			t.Fatalf("after %d traces: %v", sent, err)
		}
		if first == "" {
			first = id
		}
		last = id
	}
	found := func(id string) bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/traces/%s", ports.query, id))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(10 * time.Second)
	for !found(last) {
		if time.Now().After(deadline) {
			t.Fatalf("the newest trace %s is not found after %d traces: the store did not make way for it", last, 2*maxTraces)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if found(first) {
		t.Errorf("the first batch's last trace %s is still held after %d traces: max_traces %d is not the store's bound", first, 2*maxTraces, maxTraces)
	}
	peak := peakRSS(t, ports.pid)
	t.Logf("Jaeger: max_traces %d, %s; peak resident %d MiB of a %s limit", maxTraces, env[0], peak>>20, limit.String())
	if peak >= limit.Value() {
		t.Errorf("Jaeger's peak resident memory %d MiB reached its container's limit %s", peak>>20, limit.String())
	}
}

// peakRSS is a running process's peak resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	kb, err := strconv.ParseInt(strings.TrimSuffix(procStatus(t, pid)["VmHWM"], " kB"), 10, 64)
	if err != nil {
		t.Fatalf("VmHWM of process %d: %v", pid, err)
	}
	return kb << 10
}
