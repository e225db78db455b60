package stacks

import (
	"maps"
	"slices"
	"testing"

	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/policypack"
	"github.com/acme/platform/policypack/shared"
	"github.com/acme/platform/stacks/stackstest"
)

// Every stack's program passes the policy pack under the stack's own pack
// config, as the engine judges it: no mandatory finding that no exception
// of the config excepts. Each exception is still needed: every rule and
// target it names has a finding (a fixed resource's exception is removed).
// Advisory and excepted findings are logged.
func TestEveryStackPassesThePolicyPack(t *testing.T) {
	for _, stack := range stackstest.Stacks {
		t.Run(stack, func(t *testing.T) {
			pack, config, err := policypack.Load(shared.ConfigFile("..", stack))
			if err != nil {
				t.Fatal(err)
			}
			g, err := pulumitest.Run(t, "platform", stack, Program(stackstest.Values(t, "..", stack)), pulumitest.InProject(".."))
			if err != nil {
				t.Fatal(err)
			}
			used := map[string]bool{}
			for _, f := range pack.Evaluate(policyResources(g)) {
				id := config.Excepted(f.Rule, f.URN)
				used[f.Rule+" "+f.URN] = true
				switch {
				case id != "":
					t.Logf("excepted by %s: %s", id, f)
				case f.Level == policypack.Mandatory:
					t.Errorf("%s", f)
				default:
					t.Logf("%s", f)
				}
			}
			for _, id := range slices.Sorted(maps.Keys(config.Exceptions)) {
				for _, m := range config.Exceptions[id].Match {
					for _, rule := range m.Policies {
						for _, urn := range m.Targets {
							if !used[rule+" "+urn] {
								t.Errorf("exception %s: %s finds nothing on %s: remove it from %s", id, rule, urn, shared.ConfigFile("..", stack))
							}
						}
					}
				}
			}
		})
	}
}

// policyResources are a graph's resources as the engine hands them to the pack.
func policyResources(g *pulumitest.Graph) []policypack.Resource {
	var out []policypack.Resource
	for _, r := range g.Resources {
		out = append(out, policypack.FromProperties(r.URN, r.Type, r.Name, r.Inputs, r.Dependencies))
	}
	return out
}
