package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acme/platform/testbed/bench"
	"github.com/acme/platform/testbed/otlpload"
)

// jaegerSpansPerTrace is the shape of the traces sent: a request through a
// few services (what components/observability sizes for).
const jaegerSpansPerTrace = 10

// measureJaegerMemory runs the real Jaeger (built by scripts/tools.sh) with
// memory storage, as the observability component configures dev's, sends it
// traces over OTLP/HTTP and reads how much its resident memory grows per
// span held: the figure components/observability sizes max_traces from.
// Resident memory, not the live heap: what the container's limit counts,
// with the Go collector's headroom (GOGC) in it.
func measureJaegerMemory(ctx context.Context, o options, r *bench.Report) error {
	jaeger := filepath.Join(os.Getenv("PLATFORM_TOOLS"), "bin", "jaeger")
	if _, err := os.Stat(jaeger); err != nil {
		return fmt.Errorf("jaeger is not built (make tools): %w", err)
	}
	const batches, tracesPerBatch = 40, 500
	var perSpan []float64
	for run := 0; run < o.runs; run++ {
		bytesPerSpan, err := jaegerGrowth(ctx, o, jaeger, batches, tracesPerBatch)
		if err != nil {
			return err
		}
		perSpan = append(perSpan, bytesPerSpan)
	}
	r.Add(bench.NewFigure("Jaeger memory storage: resident bytes per span held", "B", fmt.Sprintf(
		"real Jaeger, OTLP/HTTP, %d traces of %d greeter-like spans; resident growth from the first to the last tenth", batches*tracesPerBatch, jaegerSpansPerTrace), perSpan...))
	return nil
}

func jaegerGrowth(ctx context.Context, o options, jaeger string, batches, tracesPerBatch int) (float64, error) {
	ports := freeLocalPorts(4)
	otlp, health, query, queryGRPC := ports[0], ports[1], ports[2], ports[3]
	config := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_query:
    storage:
      traces: traces
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      traces:
        memory:
          max_traces: 10000000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: traces
`, health, query, queryGRPC, otlp)
	file := filepath.Join(o.work, "jaeger-bench.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, jaeger, "--config", file)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := waitFor(ctx, fmt.Sprintf("http://127.0.0.1:%d/status", health), time.Minute); err != nil {
		return 0, fmt.Errorf("jaeger did not start: %w\n%s", err, log.String())
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", otlp)
	var first, last int64
	for b := 0; b < batches; b++ {
		if _, err := otlpload.PostTraces(ctx, endpoint, tracesPerBatch, jaegerSpansPerTrace); err != nil {
			return 0, fmt.Errorf("%w\n%s", err, log.String())
		}
		switch b {
		case batches/10 - 1:
			first = settledRSS(cmd.Process.Pid)
		case batches - 1:
			last = settledRSS(cmd.Process.Pid)
		}
	}
	spans := float64((batches - batches/10) * tracesPerBatch * jaegerSpansPerTrace)
	fmt.Fprintf(o.log, "bench: jaeger resident %d MiB after a tenth, %d MiB after all\n", first>>20, last>>20)
	return float64(last-first) / spans, nil
}

// settledRSS is a process's resident memory once the batch processor has
// handed on what it holds (it flushes every 200 ms by default).
func settledRSS(pid int) int64 {
	time.Sleep(time.Second)
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// freeLocalPorts are n distinct ports free on 127.0.0.1: each held until
// all are chosen, so the kernel cannot hand out one twice.
func freeLocalPorts(n int) []int {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func waitFor(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("no answer from " + url)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
