package stacks

import (
	"os"
	"testing"

	"github.com/acme/platform/internal/pulumitest"
)

// TestMain gives prod's stack reference to dev what dev's state would hold:
// the greeter pinned by digest (TestProdRunsTheImageDevRuns takes dev's
// real one).
func TestMain(m *testing.M) {
	pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": "ghcr.io/acme/greeter@" + pulumitest.FakeDigest}},
	})
	os.Exit(m.Run())
}
