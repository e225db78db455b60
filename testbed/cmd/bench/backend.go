package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/acme/platform/testbed/bench"
	"github.com/acme/platform/testbed/s3server"
)

// measureBackends runs the local stack on a cluster of its own through the
// same commands on each kind of self-managed backend: the file backend and
// an S3 bucket (testbed/s3server, on 127.0.0.1: the protocol's cost, not a
// network's). CI runs dev and prod on a bucket.
func measureBackends(ctx context.Context, o options, r *bench.Report, c cluster) error {
	bin, platform, clusterDir := c.bin, c.platform, c.dir
	server, err := s3server.Start(filepath.Join(bin, "gofakes3"), io.Discard) // a line per request
	if err != nil {
		return err
	}
	defer server.Stop()
	for _, backend := range []struct{ name, url string }{
		{"file", "file://" + filepath.Join(o.work, "backend-state")},
		{"s3", server.BackendURL},
	} {
		if err := os.MkdirAll(filepath.Join(o.work, "backend-state"), 0o700); err != nil {
			return err
		}
		project, err := projectCopy(o, "backend-"+backend.name, clusterDir, nil)
		if err != nil {
			return err
		}
		env := append([]string{"PULUMI_BACKEND_URL=" + backend.url, "PULUMI_CONFIG_PASSPHRASE=local-cluster-only"}, s3server.Credentials...)
		cmd := func(args ...string) (time.Duration, error) {
			res, err := mustSucceed(ctx, o.root, env, platform, append(args, "--stack", "local", "--cwd", project)...)
			return res.wall, err
		}
		figures := map[string][]float64{}
		steps := []struct {
			name string
			run  func() (time.Duration, error)
		}{
			{"up from empty", func() (time.Duration, error) { return cmd("up") }},
			{"preview, no changes", func() (time.Duration, error) { return cmd("preview", "--expect-no-changes") }},
			{"drift", func() (time.Duration, error) { return cmd("drift") }},
			{"destroy", func() (time.Duration, error) { return cmd("destroy") }},
		}
		for i := range o.runs {
			for _, s := range steps {
				d, err := s.run()
				if err != nil {
					return fmt.Errorf("%s backend: %s: %w", backend.name, s.name, err)
				}
				figures[s.name] = append(figures[s.name], d.Seconds())
			}
			fmt.Fprintf(o.log, "bench: %s backend run %d of %d done\n", backend.name, i+1, o.runs)
		}
		for _, s := range steps {
			r.Add(bench.NewFigure(fmt.Sprintf("backend %s: %s (whole command)", backend.name, s.name), "s", "the local stack", figures[s.name]...))
		}
	}
	return nil
}
