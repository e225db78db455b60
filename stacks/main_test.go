package stacks

import (
	"os"
	"testing"

	"github.com/acme/platform/internal/pulumitest"
)

// testCommit is the commit the tests' programs deploy (GITHUB_SHA), so that
// they do not depend on the checkout's HEAD.
const testCommit = "89abcdef0123456789abcdef0123456789abcdef"

// TestMain gives prod's stack reference to dev what dev's state would hold:
// its record of the greeter's builds, with one of the tests' commit
// (TestProdRunsTheImageDevBuiltForTheCommit takes dev's real one).
func TestMain(m *testing.M) {
	os.Setenv("GITHUB_SHA", testCommit)
	pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"builds": []any{map[string]any{
			"commit": testCommit, "tag": "0.1.0-" + testCommit[:12], "image": "ghcr.io/acme/greeter@" + pulumitest.FakeDigest,
		}}}},
	})
	os.Exit(m.Run())
}
