package stacks

import (
	"os"
	"testing"

	"github.com/acme/platform/stacks/stackstest"
)

// testCommit is the commit the tests' programs deploy.
const testCommit = stackstest.Commit

// TestMain gives the stack references what the states would hold
// (TestProdRunsTheImageDevBuiltForTheCommit takes dev's real build).
func TestMain(m *testing.M) {
	os.Unsetenv(ReleaseVariable)
	stackstest.Deployed()
	os.Exit(m.Run())
}
