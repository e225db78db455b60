package component

// The environments a stack can be: every component's Profile picks its
// defaults by one of them, and the stacks and the package plugin accept
// these alone.
const (
	// Dev is small and cheap.
	Dev = "dev"
	// Prod is highly available and protected.
	Prod = "prod"
	// Local is dev-sized, on the local cluster.
	Local = "local"
)

// Environments are every environment, in the order the docs list them.
var Environments = []string{Dev, Prod, Local}
