package stacks

import (
	"os"
	"testing"

	"github.com/acme/platform/internal/pulumitest"
)

// testCommit is the commit the tests' programs deploy (GITHUB_SHA), so that
// they do not depend on the checkout's HEAD.
const testCommit = "89abcdef0123456789abcdef0123456789abcdef"

// TestMain gives the stack references what the states would hold: dev's
// record of the greeter's builds, with one of the tests' commit
// (TestProdRunsTheImageDevBuiltForTheCommit takes dev's real one), and the
// image prod runs (read by prod outside a release).
func TestMain(m *testing.M) {
	os.Setenv("GITHUB_SHA", testCommit)
	os.Unsetenv(ReleaseVariable)
	pulumitest.StackOutputs("organization/platform/prod", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": "ghcr.io/acme/greeter@" + pulumitest.FakeDigest}},
	})
	pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"builds": []any{map[string]any{
			"commit": testCommit, "tag": "0.1.0-" + testCommit[:12], "image": "ghcr.io/acme/greeter@" + pulumitest.FakeDigest,
		}}}},
	})
	os.Exit(m.Run())
}
