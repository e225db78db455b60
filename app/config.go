package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the service's configuration, from the environment that the
// platform's workload component sets (a ConfigMap and a Secret).
type Config struct {
	Port            int           // PORT: where to listen (default 8080)
	Greeting        string        // GREETING: the greeting word (default "Hello")
	LogLevel        slog.Level    // LOG_LEVEL: debug, info, warn or error (default info)
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT: how long in-flight requests may drain (default 10s)
	APIToken        string        // GREETER_API_TOKEN, or the file GREETER_API_TOKEN_FILE names: /v1/greet requires it as a bearer token
	AllowAnonymous  bool          // GREETER_ALLOW_ANONYMOUS=true: serve /v1/greet to anyone when no token is set (a laptop's run)
	Version         string        // stamped at build time
}

// LoadConfig reads the configuration from getenv and reports every invalid
// value at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{Port: 8080, Greeting: "Hello", LogLevel: slog.LevelInfo, ShutdownTimeout: 10 * time.Second, Version: version}
	var errs []error
	if v := getenv("PORT"); v != "" {
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			errs = append(errs, fmt.Errorf("PORT=%q: must be a port number from 0 (any free port) to 65535", v))
		}
		cfg.Port = port
	}
	if v := getenv("GREETING"); v != "" {
		if len(v) > 100 {
			errs = append(errs, fmt.Errorf("GREETING: %d characters: must be at most 100", len(v)))
		}
		cfg.Greeting = v
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(strings.ToLower(v))); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: must be debug, info, warn or error", v))
		}
	}
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT=%q: must be a duration from 1ms to 5m, such as 10s", v))
		}
		cfg.ShutdownTimeout = d
	}
	cfg.APIToken = getenv("GREETER_API_TOKEN")
	if path := getenv("GREETER_API_TOKEN_FILE"); path != "" {
		// The platform's secretFiles: the token is a file, not in the
		// environment that child processes and crash reports see.
		data, err := os.ReadFile(path)
		switch {
		case cfg.APIToken != "":
			errs = append(errs, errors.New("GREETER_API_TOKEN and GREETER_API_TOKEN_FILE are both set: the token has one source"))
		case err != nil:
			errs = append(errs, fmt.Errorf("GREETER_API_TOKEN_FILE=%q: %w", path, err))
		default:
			cfg.APIToken = strings.TrimRight(string(data), "\r\n")
		}
	}
	switch v := getenv("GREETER_ALLOW_ANONYMOUS"); v {
	case "", "false":
	case "true":
		cfg.AllowAnonymous = true
	default:
		errs = append(errs, fmt.Errorf("GREETER_ALLOW_ANONYMOUS=%q: must be true or false", v))
	}
	if cfg.APIToken == "" && !cfg.AllowAnonymous {
		// An empty secret (a key set to "") must not open the API to anyone.
		errs = append(errs, errors.New("GREETER_API_TOKEN is empty: set it or GREETER_API_TOKEN_FILE (the platform's secretEnv or secretFiles do), or GREETER_ALLOW_ANONYMOUS=true to serve without authentication"))
	}
	return cfg, errors.Join(errs...)
}
