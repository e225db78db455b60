package main

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Server is the greeter's HTTP API: health endpoints for Kubernetes and one
// real endpoint.
type Server struct {
	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer
	ready  atomic.Bool
}

// NewServer returns a server that is not ready until SetReady(true).
func NewServer(cfg Config, log *slog.Logger) *Server {
	return &Server{cfg: cfg, log: log, tracer: otel.Tracer("github.com/acme/platform/app")}
}

// SetReady says whether the server takes traffic: true once it listens,
// false as soon as shutdown begins.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Handler returns the routes, wrapped in tracing and request logging.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /v1/greet", s.greet)
	return s.observe(mux)
}

// healthz answers while the process is alive: liveness.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only while the server takes traffic: readiness.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// greet returns the configured greeting for ?name= (default "world").
func (s *Server) greet(w http.ResponseWriter, r *http.Request) {
	if s.cfg.APIToken != "" {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.APIToken)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
			return
		}
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	if utf8.RuneCountInString(name) > 64 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name must be at most 64 characters"})
		return
	}
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.Int("greeter.name_length", len(name)))
	writeJSON(w, http.StatusOK, map[string]string{"message": s.cfg.Greeting + ", " + name + "!"})
}

// observe starts a server span per request (continuing the caller's trace)
// and logs each request with its trace and span ids. The span is named by
// the route that serves the request, never by its path: a path is anyone's
// to make up, and each new name would be a new operation in the trace
// store (OpenTelemetry's HTTP conventions: "{method} {http.route}", the
// method alone when no route matches).
func (s *Server) observe(mux *http.ServeMux) http.Handler {
	propagator := otel.GetTextMapPropagator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		name, attrs := r.Method, []attribute.KeyValue{attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)}
		if _, pattern := mux.Handler(r); pattern != "" {
			_, route, _ := strings.Cut(pattern, " ")
			name, attrs = r.Method+" "+route, append(attrs, attribute.String("http.route", route))
		}
		ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		next := mux
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug // probes every few seconds: not worth an info line
		}
		s.log.Log(ctx, level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
