// Command pulumi-analyzer-policy-platform serves the platform's policy pack
// (package policypack) to the Pulumi engine as an analyzer plugin. The
// engine at the pinned CLI (v3.274.1, pkg/resource/plugin/analyzer_plugin.go:
// NewPolicyAnalyzer) starts a policy pack path that is an executable file as
// a binary analyzer, so no language host is needed:
//
//	pulumi preview --policy-pack .bin/pulumi-analyzer-policy-platform \
//	    --policy-pack-config policypack/config/<stack>.json
//
// The platform command passes both on every preview and update.
package main

import (
	"fmt"
	"os"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func main() {
	// The engine's arguments (logging and tracing flags, its own address)
	// are not needed: the analyzer only answers.
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{Init: func(s *grpc.Server) error {
		pulumirpc.RegisterAnalyzerServer(s, plugin.NewAnalyzerServer(newAnalyzer()))
		return nil
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-analyzer-policy-platform:", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of standard output.
	fmt.Println(handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-analyzer-policy-platform:", err)
		os.Exit(1)
	}
}
