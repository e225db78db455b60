package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
)

// The scale bench's stack file (N copies of the local stack's service, no
// observability) is one the config loader takes: a secret only the
// observability stack used would be an unknown key.
func TestWithServicesLoads(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	scaled, err := withServices(data, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.local.yaml"), scaled, 0o600); err != nil {
		t.Fatal(err)
	}
	config, err := stacks.Load(stackstest.File(t, dir, "local"), stacks.Environ{ProjectRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(config.Services) != 3 || config.Observability != nil {
		t.Errorf("%d services, observability %v: want 3 and none", len(config.Services), config.Observability)
	}
	for _, s := range config.Services {
		if len(s.Placement.NodeSelector) > 0 {
			t.Errorf("service %s is placed on %v: the real node takes 30 pods, not N services'", s.Name, s.Placement.NodeSelector)
		}
	}
}

// The sampler finds the processes below a run by their parents and reads
// their peak memory: a child shell's peak shows under its role.
func TestSamplePeaksFindsDescendants(t *testing.T) {
	processRoles["sleep"] = "test"
	defer delete(processRoles, "sleep")
	_, peaks, err := measurePeaks(t.Context(), t.TempDir(), nil, "sh", "-c", "sleep 0.5 & wait")
	if err != nil {
		t.Fatal(err)
	}
	if peaks["test"] <= 0 {
		t.Fatalf("peaks %v: want the sleep below sh sampled", peaks)
	}
}
