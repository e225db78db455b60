// Command greeter is the platform's sample Go microservice: a small HTTP API
// with health endpoints, JSON logs that carry trace ids, OpenTelemetry
// tracing and a graceful shutdown. The platform builds its image and deploys
// it with the workload component.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// wrapHandler lets tests add routes (a request that stays in flight).
var wrapHandler = func(h http.Handler) http.Handler { return h }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "greeter:", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled (SIGTERM), then shuts down gracefully:
// not ready at once, in-flight requests drained within the timeout, spans
// flushed. listening, if not nil, receives the address once the server listens.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, listening chan<- string) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := slog.New(traceHandler{slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})}).
		With(slog.String("service", "greeter"), slog.String("version", cfg.Version))
	tp, err := setupTracing(getenv)
	if err != nil {
		return fmt.Errorf("setting up tracing: %w", err)
	}

	srv := NewServer(cfg, log)
	httpServer := &http.Server{
		Handler:           wrapHandler(srv.Handler()),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- httpServer.Serve(ln) }()
	srv.SetReady(true)
	log.Info("listening", slog.String("address", ln.Addr().String()))
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	srv.SetReady(false)
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	shutdownErr := httpServer.Shutdown(drainCtx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	if err := tp.Shutdown(drainCtx); err != nil {
		shutdownErr = errors.Join(shutdownErr, fmt.Errorf("flushing spans: %w", err))
	}
	log.Info("stopped")
	return shutdownErr
}
