// Command localcluster starts and stops the local Kubernetes cluster that the
// local stack deploys to (see testbed/localcluster):
//
//	localcluster up      start it (says so, and succeeds, if it runs already);
//	                     with the real node unless --node=false
//	localcluster down    stop it; its data stays for the next up
//	localcluster delete  stop it and remove its folder
//	localcluster status  say which servers run
//
// The tools come from $PLATFORM_TOOLS/bin (scripts/tools.sh builds them); the
// cluster lives in .cluster/ of the project unless --dir says otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/acme/platform/testbed/localcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: localcluster up|down|delete|status [--dir DIR]")
	}
	flags := flag.NewFlagSet("localcluster "+args[0], flag.ContinueOnError)
	dir := flags.String("dir", ".cluster", "the cluster's folder")
	tools := flags.String("tools", filepath.Join(envOr("PLATFORM_TOOLS", defaultTools()), "bin"), "folder of the built tools")
	withNode := flags.Bool("node", true, "start the real node too, where this machine can run containers")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "up":
		stages, err := localcluster.Stages(filepath.Join(*tools, "kwok-stages.yaml"))
		if err != nil {
			return err
		}
		opts := localcluster.Options{Dir: *dir, Binaries: localcluster.BinariesIn(*tools), Stages: stages, Log: os.Stdout}
		if *withNode {
			opts.Node = nodeOptions(ctx, *tools)
		}
		c, err := localcluster.Up(ctx, opts)
		if errors.Is(err, localcluster.ErrAlreadyRunning) {
			fmt.Printf("local cluster already running: %s, kubeconfig %s\n", c.Server(), c.Kubeconfig())
			return nil
		}
		return err
	case "down":
		if err := localcluster.Down(*dir); err != nil {
			return err
		}
		fmt.Println("local cluster stopped")
		return nil
	case "delete":
		if err := localcluster.Delete(*dir); err != nil {
			return err
		}
		fmt.Println("local cluster deleted")
		return nil
	case "status":
		running, stopped := localcluster.Running(*dir)
		fmt.Printf("running: %s\nstopped: %s\n", list(running), list(stopped))
		return nil
	}
	return fmt.Errorf("unknown command %q: want up, down, delete or status", args[0])
}

// nodeOptions are the real node's programs and images, built from this
// project (the greeter, the sandbox) and the Jaeger binary.
func nodeOptions(ctx context.Context, tools string) *localcluster.NodeOptions {
	begin := time.Now()
	node := localcluster.RealNode(ctx, ".", tools)
	if node.Unavailable == "" {
		fmt.Printf("built the real node's images in %.1fs\n", time.Since(begin).Seconds())
	}
	return node
}

func list(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

// defaultTools is where scripts/tools.sh caches the tools unless
// PLATFORM_TOOLS says otherwise: the user's cache folder.
func defaultTools() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return ".tools"
	}
	return filepath.Join(cache, "platform-tools")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
