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

	"github.com/acme/platform/cli/driver"
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

// Checkpoints is when the engine writes the stack's state during an
// operation: once, at its end, when every resource the program declares can
// be made twice without harm (stacks' KubernetesOnly; the driver then marks
// the stack while the state is behind, and the next update after a kill
// refreshes and adopts what the killed run made); after every step when it
// creates repositories or pushes images, which a repeated run would not
// adopt. Config that does not load gets every step (the program refuses it).
func Checkpoints(config auto.ConfigMap, projectDir string) driver.Checkpoints {
	cfg, err := stacks.Load(Values(config), stacks.EnvironAt(projectDir))
	if err != nil || !cfg.KubernetesOnly() {
		return driver.EveryStep
	}
	return driver.AtEnd
}
