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

	"github.com/acme/platform/components/observability"
)

// TestJaegerRunsItsConfigAndFindsTheGreetersSpan loads the Jaeger config the
// observability component generates for dev into the real Jaeger (built from
// its module at the pinned version by scripts/tools.sh), with only its
// listening addresses moved to free ports on 127.0.0.1; then the real
// greeter, started as its Deployment starts it (PORT and the OTLP endpoint in
// its environment), answers a request, and that request's span is found
// through Jaeger's query API.
func TestJaegerRunsItsConfigAndFindsTheGreetersSpan(t *testing.T) {
	jaeger := filepath.Join(os.Getenv("PLATFORM_TOOLS"), "bin", "jaeger")
	if _, err := os.Stat(jaeger); err != nil {
		t.Fatalf("Jaeger is not built: `make e2e` builds it (scripts/tools.sh jaeger): %v", err)
	}
	config := jaegerConfig(t)
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
	start(t, "jaeger", exec.Command(jaeger, "--config", configFile))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/status", ports[13133]), 60*time.Second)

	greeter := filepath.Join(dir, "greeter")
	build := exec.Command("go", "build", "-o", greeter, ".")
	build.Dir = filepath.Join(projectRoot, "app")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the greeter: %v\n%s", err, out)
	}
	port := freePort(t)
	service := exec.Command(greeter)
	service.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "OTEL_SERVICE_NAME=greeter", "GREETER_API_TOKEN=jaeger-e2e",
		fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", ports[observability.OTLPHTTPPort]))
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

	query := fmt.Sprintf("http://127.0.0.1:%d/api/traces?service=greeter&limit=10", ports[16687])
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
