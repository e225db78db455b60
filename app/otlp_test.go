package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// collector is a stand-in OTLP/HTTP collector that records what it receives.
type collector struct {
	mu       sync.Mutex
	requests []exportRequest
	headers  []http.Header
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req exportRequest
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.requests = append(c.requests, req)
	c.headers = append(c.headers, r.Header.Clone())
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *collector) spans() []otlpSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []otlpSpan
	for _, r := range c.requests {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// A request's span reaches the collector, at the latest when the service
// shuts down and flushes, with the caller's trace id and the service's name.
func TestSpansAreExportedAndFlushedOnShutdown(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()

	vars := map[string]string{
		"PORT": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme%20team",
		"OTEL_SERVICE_NAME": "greeter", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
	}
	for k, v := range vars {
		t.Setenv(k, v) // the SDK's resource reads OTEL_SERVICE_NAME itself
	}
	svc := startService(t, vars, io.Discard)
	req, _ := http.NewRequest(http.MethodGet, "http://"+svc.addr+"/v1/greet?name=otel", nil)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	svc.stop()
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}

	var found *otlpSpan
	for _, s := range col.spans() {
		if s.Name == "GET /v1/greet" {
			found = &s
		}
	}
	if found == nil {
		t.Fatalf("no span of the request exported; got %+v", col.spans())
	}
	if found.TraceID != traceID || found.ParentSpanID != "b7ad6b7169203331" || found.Kind != 2 {
		t.Errorf("span %+v: want the caller's trace and parent, kind server (2)", *found)
	}
	attrs := map[string]anyValue{}
	for _, a := range found.Attributes {
		attrs[a.Key] = a.Value
	}
	if v := attrs["http.response.status_code"]; v.IntValue == nil || *v.IntValue != "200" {
		t.Errorf("status code attribute %+v", v)
	}
	res := map[string]string{}
	col.mu.Lock()
	for _, a := range col.requests[0].ResourceSpans[0].Resource.Attributes {
		if a.Value.StringValue != nil {
			res[a.Key] = *a.Value.StringValue
		}
	}
	header := col.headers[0].Get("x-tenant")
	col.mu.Unlock()
	if res["service.name"] != "greeter" || res["deployment.environment.name"] != "test" {
		t.Errorf("resource %v", res)
	}
	if header != "acme team" {
		t.Errorf("header x-tenant %q, want the decoded OTEL_EXPORTER_OTLP_HEADERS value", header)
	}
}

func TestOTLPExporterConfig(t *testing.T) {
	e, err := newOTLPExporter(env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}))
	if err != nil || e.url != "http://c:4318/custom" || e.client.Timeout != 2500*time.Millisecond {
		t.Fatalf("exporter %+v, %v", e, err)
	}
	for _, bad := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
		{},
	} {
		if _, err := newOTLPExporter(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCollectorErrorsAreReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	e, err := newOTLPExporter(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := setupTracing(env(nil))
	_, span := tp.Tracer("t").Start(t.Context(), "x")
	span.End()
	rec := &recorder{}
	tp.RegisterSpanProcessor(rec)
	_, span = tp.Tracer("t").Start(t.Context(), "y")
	span.End()
	if err := e.ExportSpans(t.Context(), rec.spans); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("collector error not reported: %v", err)
	}
}

// recorder keeps ended spans, to feed the exporter directly.
type recorder struct{ spans []sdktrace.ReadOnlySpan }

func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan)                   { r.spans = append(r.spans, s) }
func (r *recorder) Shutdown(context.Context) error                  { return nil }
func (r *recorder) ForceFlush(context.Context) error                { return nil }

// Status codes are numbered differently in Go and in OTLP: an Error span must
// arrive as OTLP's ERROR (2), not as its OK (1).
func TestSpanStatusUsesOTLPNumbering(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	tracer := provider.Tracer("test")
	for _, status := range []codes.Code{codes.Unset, codes.Ok, codes.Error} {
		_, span := tracer.Start(context.Background(), status.String())
		span.SetStatus(status, "")
		span.End()
	}
	want := map[string]int{"Unset": 0, "Ok": 1, "Error": 2}
	for _, rs := range encodeSpans(recorder.Ended()).ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, span := range ss.Spans {
				if span.Status.Code != want[span.Name] {
					t.Errorf("a %s span is sent with OTLP status %d, want %d", span.Name, span.Status.Code, want[span.Name])
				}
				delete(want, span.Name)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("spans not encoded: %v", want)
	}
}
