// Package policy is what the platform command decides about a stack beyond
// running its program: whether drift may be remediated and what else a drift
// check reports, the stack's certificates, the one governing stack of each
// repository, and what to do about the engine's errors. It reads a stack's
// config as the command's workspace holds it; the program (stacks) never
// learns of it.
package policy

import (
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/stacks"
)

// Values are a workspace's config as the program takes it.
func Values(config auto.ConfigMap) map[string]stacks.Value {
	values := make(map[string]stacks.Value, len(config))
	for k, v := range config {
		values[k] = stacks.Value{Raw: v.Value, Secret: v.Secret}
	}
	return values
}

// Program is the platform program for the config a workspace read.
func Program(config auto.ConfigMap) pulumi.RunFunc {
	return stacks.Program(Values(config))
}
