// Package s3server runs an S3 server on 127.0.0.1 for the proving ground's
// shared state backend: gofakes3 (the server behind `rclone serve s3`),
// which scripts/tools.sh s3_server builds, holding one bucket in memory.
package s3server

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// Bucket is the one bucket the server holds.
const Bucket = "platform-state"

// Credentials are the AWS credentials the engine and the driver pass (the
// server takes any), as environment variables.
var Credentials = []string{"AWS_ACCESS_KEY_ID=platform-testbed", "AWS_SECRET_ACCESS_KEY=platform-testbed-secret"}

// Server is a running S3 server.
type Server struct {
	// BackendURL is the Pulumi backend URL of the bucket: gocloud.dev's
	// s3blob URL, as the Pulumi CLI opens it (path-style requests to the
	// endpoint; checksums only where S3 requires them).
	BackendURL string
	cmd        *exec.Cmd
	done       chan struct{}
}

// Start starts the server binary gofakes3 on a free port of 127.0.0.1,
// writing its log to log, and returns once it listens. It dies with the
// calling process; Stop stops it.
func Start(gofakes3 string, log io.Writer) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(gofakes3, "-backend", "memory", "-host", addr, "-initialbucket", Bucket)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, done: make(chan struct{}),
		BackendURL: "s3://" + Bucket + "?endpoint=http://" + addr + "&use_path_style=true&region=us-east-1" +
			"&request_checksum_calculation=when_required&response_checksum_validation=when_required"}
	go func() { _ = cmd.Wait(); close(s.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("the S3 server exited: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("the S3 server does not listen on %s: %w", addr, err)
		}
	}
}

// Stop stops the server by its PID and waits for it.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}
