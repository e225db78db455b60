// Command platform is the Pulumi program of the platform: `pulumi up -s dev`.
// Where the Go language host is not available, the platform command
// (cli/platform) runs the same program through the Automation API.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/stacks"
)

func main() {
	values, err := stacks.FromEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pulumi.Run(stacks.Program(values))
}
