package policy

import (
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/acme/platform/stacks"
)

// Drift is what the drift check of a stack may do and must report besides
// drift.
type Drift struct {
	// Remediate is platform:drift.remediate: may the check run up --refresh.
	Remediate bool
	// Findings need an operator soon (a certificate due for renewal).
	Findings []string
}

// DriftOf reads the drift policy from a stack's config, validating the whole
// config first.
func DriftOf(config auto.ConfigMap, projectDir string, now time.Time) (Drift, error) {
	cfg, err := stacks.Load(Values(config), stacks.EnvironAt(projectDir))
	if err != nil {
		return Drift{}, err
	}
	return Drift{Remediate: cfg.Drift.Remediate, Findings: cfg.Findings(now)}, nil
}
