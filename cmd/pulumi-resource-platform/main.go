// Command pulumi-resource-platform is the plugin of the "platform" Pulumi
// package: it serves the platform's components to programs in any language
// (see the plugin package and the README's "Using the components from
// YAML, TypeScript or Python").
package main

import (
	"fmt"
	"os"

	"github.com/acme/platform/plugin"
)

func main() {
	if err := plugin.Main(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
