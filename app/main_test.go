package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// service is the greeter running in this process, as main runs it.
type service struct {
	addr string             // 127.0.0.1:port
	stop context.CancelFunc // SIGTERM
	done <-chan error       // what run returns
}

// testToken is the API token startService gives the service.
const testToken = "test-token"

// startService runs the service with the given environment (and the API
// token testToken) and waits until it listens.
func startService(t *testing.T, vars map[string]string, logs io.Writer) service {
	t.Helper()
	vars["GREETER_API_TOKEN"] = testToken
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(vars), logs, listening) }()
	select {
	case addr := <-listening:
		return service{addr: strings.Replace(addr, "[::]", "127.0.0.1", 1), stop: cancel, done: done}
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	return service{}
}

// The whole life of the process: it becomes ready, serves, and on SIGTERM
// (the context's cancel) drains and stops cleanly.
func TestRunServesAndShutsDownGracefully(t *testing.T) {
	var logs syncBuffer
	svc := startService(t, map[string]string{"PORT": "0", "SHUTDOWN_TIMEOUT": "2s"}, &logs)
	base := "http://" + svc.addr
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after start: %d", resp.StatusCode)
	}

	svc.stop()
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not finish within the drain timeout")
	}
	out := logs.String()
	for _, step := range []string{`"msg":"listening"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(out, step) {
			t.Errorf("log lacks %s:\n%s", step, out)
		}
	}
	if strings.Index(out, `"msg":"shutting down"`) > strings.Index(out, `"msg":"stopped"`) {
		t.Error("stopped before shutting down")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestInvalidConfigExitsAtStart(t *testing.T) {
	err := run(t.Context(), env(map[string]string{"PORT": "http", "LOG_LEVEL": "loud"}), &bytes.Buffer{}, nil)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{`PORT="http": must be a port number`, `LOG_LEVEL="loud": must be debug, info, warn or error`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"PORT": "9090", "GREETING": "Hi", "LOG_LEVEL": "DEBUG", "SHUTDOWN_TIMEOUT": "20s", "GREETER_API_TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9090 || cfg.Greeting != "Hi" || cfg.LogLevel.String() != "DEBUG" || cfg.ShutdownTimeout != 20*time.Second || cfg.APIToken != "t" {
		t.Fatalf("config %+v", cfg)
	}
	defaults, err := LoadConfig(env(map[string]string{"GREETER_API_TOKEN": "t"}))
	if err != nil || defaults.Port != 8080 || defaults.Greeting != "Hello" || defaults.ShutdownTimeout != 10*time.Second {
		t.Fatalf("defaults %+v, %v", defaults, err)
	}
	// No token (or an empty secret): the API would be anyone's. Refused
	// unless anonymous access is asked for by name.
	if _, err := LoadConfig(env(nil)); err == nil || !strings.Contains(err.Error(), "GREETER_API_TOKEN is empty") {
		t.Errorf("no token: %v, want the start refused", err)
	}
	if cfg, err := LoadConfig(env(map[string]string{"GREETER_ALLOW_ANONYMOUS": "true"})); err != nil || !cfg.AllowAnonymous {
		t.Errorf("anonymous by name: %+v, %v", cfg, err)
	}
	if _, err := LoadConfig(env(map[string]string{"GREETER_API_TOKEN": "t", "GREETER_ALLOW_ANONYMOUS": "yes"})); err == nil {
		t.Error("GREETER_ALLOW_ANONYMOUS=yes accepted")
	}
	// The token from a file (the platform's secretFiles), its newline trimmed;
	// one source only; a missing file is named.
	file := filepath.Join(t.TempDir(), "api-token")
	if err := os.WriteFile(file, []byte("file-token\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if cfg, err := LoadConfig(env(map[string]string{"GREETER_API_TOKEN_FILE": file})); err != nil || cfg.APIToken != "file-token" {
		t.Errorf("token from a file: %q, %v", cfg.APIToken, err)
	}
	if _, err := LoadConfig(env(map[string]string{"GREETER_API_TOKEN_FILE": file, "GREETER_API_TOKEN": "t"})); err == nil || !strings.Contains(err.Error(), "one source") {
		t.Errorf("token from a file and the environment: %v", err)
	}
	if _, err := LoadConfig(env(map[string]string{"GREETER_API_TOKEN_FILE": file + ".missing"})); err == nil || !strings.Contains(err.Error(), "api-token.missing") {
		t.Errorf("a missing token file: %v", err)
	}
	if _, err := LoadConfig(env(map[string]string{"SHUTDOWN_TIMEOUT": "-1s"})); err == nil {
		t.Error("negative shutdown timeout accepted")
	}
}

// A request already in flight when SIGTERM arrives is still answered: the
// server stops accepting, drains, and only then returns.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	inFlight, release := make(chan struct{}), make(chan struct{})
	wrapHandler = func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
			close(inFlight)
			<-release
			w.WriteHeader(http.StatusOK)
		})
		return mux
	}
	t.Cleanup(func() { wrapHandler = func(h http.Handler) http.Handler { return h } })

	svc := startService(t, map[string]string{"PORT": "0", "SHUTDOWN_TIMEOUT": "5s"}, io.Discard)
	addr := svc.addr
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-inFlight
	svc.stop() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-svc.done:
		t.Fatalf("run returned with a request in flight: %v", err)
	default:
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("new connections still accepted after SIGTERM")
	}
	close(release)
	if status := <-answered; status != http.StatusOK {
		t.Errorf("in-flight request answered %d, want 200", status)
	}
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return once the request was answered")
	}
}
