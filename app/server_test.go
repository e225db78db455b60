package main

import (
	"slices"

	"bytes"
	"encoding/json"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestServer(t testing.TB, cfg Config) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(traceHandler{slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	if _, err := setupTracing(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return NewServer(cfg, log), &logs
}

func get(t testing.TB, h http.Handler, target string, header http.Header) (int, map[string]string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", target, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	return rec.Code, body
}

func TestEndpoints(t *testing.T) {
	s, _ := newTestServer(t, Config{Greeting: "Hello"})
	h := s.Handler()
	tests := []struct {
		name   string
		target string
		ready  bool
		status int
		key    string
		want   string
	}{
		{"liveness while not ready", "/healthz", false, 200, "status", "ok"},
		{"readiness before start", "/readyz", false, 503, "status", "not ready"},
		{"readiness once started", "/readyz", true, 200, "status", "ready"},
		{"greeting, default name", "/v1/greet", true, 200, "message", "Hello, world!"},
		{"greeting, given name", "/v1/greet?name=Ada", true, 200, "message", "Hello, Ada!"},
		{"name too long", "/v1/greet?name=" + strings.Repeat("x", 65), true, 400, "error", "name must be at most 64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetReady(tt.ready)
			status, body := get(t, h, tt.target, nil)
			if status != tt.status || body[tt.key] != tt.want {
				t.Fatalf("GET %s = %d %v, want %d %s=%q", tt.target, status, body, tt.status, tt.key, tt.want)
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/greet", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/greet = %d, want 405", rec.Code)
	}
}

func TestGreetingReadsConfig(t *testing.T) {
	s, _ := newTestServer(t, Config{Greeting: "Bonjour"})
	if _, body := get(t, s.Handler(), "/v1/greet?name=Léa", nil); body["message"] != "Bonjour, Léa!" {
		t.Fatalf("message %q", body["message"])
	}
}

func TestAPITokenGuardsTheGreeting(t *testing.T) {
	s, _ := newTestServer(t, Config{Greeting: "Hello", APIToken: "s3cr3t"})
	h := s.Handler()
	for _, tt := range []struct {
		header string
		status int
	}{
		{"", 401}, {"Bearer wrong", 401}, {"s3cr3t", 401}, {"Bearer s3cr3t", 200},
	} {
		header := http.Header{}
		if tt.header != "" {
			header.Set("Authorization", tt.header)
		}
		if status, _ := get(t, h, "/v1/greet", header); status != tt.status {
			t.Errorf("Authorization %q: %d, want %d", tt.header, status, tt.status)
		}
	}
	// Health endpoints stay open for the kubelet.
	if status, _ := get(t, h, "/healthz", nil); status != 200 {
		t.Errorf("/healthz behind the token: %d", status)
	}
}

func TestRequestLogsCarryTraceIDs(t *testing.T) {
	s, logs := newTestServer(t, Config{Greeting: "Hello"})
	header := http.Header{}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	get(t, s.Handler(), "/v1/greet?name=x", header)
	var entry map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &entry); err != nil {
		t.Fatalf("log line is not one JSON object: %q", logs.String())
	}
	if entry["trace_id"] != traceID {
		t.Errorf("trace_id %v, want the caller's %s", entry["trace_id"], traceID)
	}
	if id, _ := entry["span_id"].(string); len(id) != 16 || id == "00f067aa0ba902b7" {
		t.Errorf("span_id %v, want a new server span", entry["span_id"])
	}
	for k, want := range map[string]any{"msg": "request", "method": "GET", "path": "/v1/greet", "status": 200.0, "level": "INFO"} {
		if entry[k] != want {
			t.Errorf("log %s = %v, want %v", k, entry[k], want)
		}
	}
}

func BenchmarkGreet(b *testing.B) {
	s, _ := newTestServer(b, Config{Greeting: "Hello"})
	s.log = slog.New(slog.DiscardHandler)
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/greet?name=bench", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// Spans are named by the route, never by the path: a path is anyone's to
// make up, and every new span name is a new operation in the trace store.
func TestSpanNamesAreRoutes(t *testing.T) {
	s, _ := newTestServer(t, Config{Greeting: "Hello", APIToken: "t"})
	spans := tracetest.NewSpanRecorder()
	s.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")
	h := s.Handler()
	for _, target := range []string{"/v1/greet?name=a", "/healthz", "/no/such/path/4f1c2a", "/v1/greet/../../etc"} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	var names []string
	for _, span := range spans.Ended() {
		names = append(names, span.Name())
	}
	if want := []string{"GET /v1/greet", "GET /healthz", "GET", "GET"}; !slices.Equal(names, want) {
		t.Errorf("span names %q, want %q", names, want)
	}
}
