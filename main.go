// Command platform is the Pulumi program of the platform: `pulumi up -s dev`.
// Where the Go language host is not available, cmd/platform runs the same
// program through the Automation API.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/stacks"
)

func main() {
	pulumi.Run(stacks.Program)
}
