//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/platform/cli/changes"
)

// testStorageGrowsInPlace raises the local stack's Kafka and Elasticsearch
// claims, as an operator would, through an approved preview: the preview
// updates each member's claim and replaces no StatefulSet; after up the
// claims are the same objects (their UIDs: their data) at the new size, and
// the StatefulSets' templates keep their first size (the only other change:
// the topic Job reruns with limits for the bigger claims). Then what a running
// part cannot take (a smaller claim, another class, another broker count)
// is refused by the preview, each under its key. The stack file is left as
// deployed.
func testStorageGrowsInPlace(t *testing.T) {
	claims := func() map[string]string {
		out := string(kubectl(t, "-n", "observability", "get", "pvc", "data-kafka-0", "data-elasticsearch-0", "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {.spec.resources.requests.storage}{"\n"}{end}`))
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			name, rest, _ := strings.Cut(line, "=")
			got[name] = rest
		}
		return got
	}
	before := claims()
	stackFile := filepath.Join(env.projectDir, "Pulumi.local.yaml")
	data, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	deployed := string(data)
	grown := strings.Replace(deployed, "    elasticsearch:\n      retentionDays: 3\n", "    elasticsearch:\n      retentionDays: 3\n      storage: {size: 11Gi}\n", 1)
	grown = strings.Replace(grown, "    kafka:\n      partitions: 2\n", "    kafka:\n      partitions: 2\n      storage: {size: 6Gi}\n", 1)
	if strings.Count(grown, "storage: {size:") != 2 {
		t.Fatal("Pulumi.local.yaml no longer configures elasticsearch and kafka as this test expects")
	}
	writeStackFile(t, stackFile, grown)
	t.Cleanup(func() { writeStackFile(t, stackFile, deployed) })

	saved := filepath.Join(t.TempDir(), "changes.json")
	mustPlatform(t, "preview", "--save-changes", saved)
	var approval changes.Approval
	if data, err := os.ReadFile(saved); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &approval); err != nil {
		t.Fatal(err)
	}
	resized := 0
	for _, c := range approval.Changes {
		switch {
		case c.Type == "kubernetes:core/v1:PersistentVolumeClaimPatch" && c.Op == "update":
			resized++
		case strings.HasSuffix(c.URN, "::observability-kafka-topic"):
			// The topic's limits follow its claims' size: its Job reruns.
		default:
			t.Errorf("a storage change would %s %s (%v)", c.Op, c.URN, c.Paths)
		}
	}
	if resized != 2 {
		t.Errorf("the preview resizes %d claims, want Kafka's and Elasticsearch's: %+v", resized, approval.Changes)
	}

	mustPlatform(t, "up", "--approved", saved)
	after := claims()
	for claim, size := range map[string]string{"data-kafka-0": "6Gi", "data-elasticsearch-0": "11Gi"} {
		uidBefore, _, _ := strings.Cut(before[claim], " ")
		uidAfter, sizeAfter, _ := strings.Cut(after[claim], " ")
		if uidBefore == "" || uidAfter != uidBefore || sizeAfter != size {
			t.Errorf("claim %s was %q, is %q: want the same claim at %s", claim, before[claim], after[claim], size)
		}
	}
	template := string(kubectl(t, "-n", "observability", "get", "statefulset", "elasticsearch", "-o", "jsonpath={.spec.volumeClaimTemplates[0].spec.resources.requests.storage}"))
	if template != "10Gi" {
		t.Errorf("Elasticsearch's claim template says %q, want its first size 10Gi (templates never change)", template)
	}
	if code, out := platform(t, "preview", "--expect-no-changes"); code != 0 {
		t.Errorf("preview after the resize found changes (exit %d):\n%s", code, out)
	}

	refused := strings.Replace(grown, "      storage: {size: 6Gi}\n", "      storage: {size: 4Gi, class: fast}\n      brokers: 3\n", 1)
	writeStackFile(t, stackFile, refused)
	code, out := platform(t, "preview")
	for _, key := range []string{"platform:observability.kafka.storage.size", "platform:observability.kafka.storage.class", "platform:observability.kafka.brokers"} {
		if code == 0 || !strings.Contains(out, key) {
			t.Errorf("a preview of a change a running Kafka cannot take exited %d, want a refusal naming %s:\n%s", code, key, out)
		}
	}
	// What the stack runs now is what the file says.
	writeStackFile(t, stackFile, grown)
	deployed = grown
}

func writeStackFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
