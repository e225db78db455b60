//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
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
// the topic Job reruns with limits for the bigger claims). A Jaeger setting
// in the same change (its memory, so its config) rolls its real pod once.
// Then what a running
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
	// A Jaeger setting in the same change: its pod, on the real node,
	// rolls once.
	grown = strings.Replace(grown, "    jaeger:\n      placement: *realNode\n", "    jaeger:\n      placement: *realNode\n      size: {memory: 384Mi}\n", 1)
	if strings.Count(grown, "storage: {size:") != 2 || !strings.Contains(grown, "size: {memory: 384Mi}") {
		t.Fatal("Pulumi.local.yaml no longer configures elasticsearch, kafka and jaeger as this test expects")
	}
	generation := func() string {
		return string(kubectl(t, "-n", "observability", "get", "deployment", "jaeger", "-o", "jsonpath={.metadata.generation}"))
	}
	generationBefore := generation()
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
	resized, jaegerRolls := 0, 0
	for _, c := range approval.Changes {
		switch {
		case c.Type == "kubernetes:core/v1:PersistentVolumeClaimPatch" && c.Op == "update":
			resized++
		case strings.HasSuffix(c.URN, "::observability-kafka-topic"):
			// The topic's limits follow its claims' size: its Job reruns.
		case strings.HasSuffix(c.URN, "kubernetes:core/v1:ConfigMap::observability-jaeger"):
			// Jaeger's config (max_traces, the memory limiter) follows its memory.
		case strings.HasSuffix(c.URN, "kubernetes:apps/v1:Deployment::observability-jaeger") && c.Op == "update":
			jaegerRolls++
		default:
			t.Errorf("a storage change would %s %s (%v)", c.Op, c.URN, c.Paths)
		}
	}
	if resized != 2 || jaegerRolls != 1 {
		t.Errorf("the preview resizes %d claims and updates Jaeger's Deployment %d times, want Kafka's and Elasticsearch's claims and one update: %+v", resized, jaegerRolls, approval.Changes)
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
	if before, after := generationBefore, generation(); before == "" || after != fmt.Sprint(atoi(t, before)+1) {
		t.Errorf("Jaeger's Deployment went from generation %s to %s: want one rollout", before, after)
	}
	rollout := string(kubectl(t, "-n", "observability", "get", "deployment", "jaeger", "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="GOMEMLIMIT")].value} {.status.observedGeneration} {.status.updatedReplicas}/{.status.readyReplicas}/{.status.replicas}`))
	if want := "307MiB " + generation() + " 1/1/1"; rollout != want {
		t.Errorf("Jaeger's rollout: %q, want %q (GOMEMLIMIT 80%% of 384Mi, the generation observed, its one pod updated and ready)", rollout, want)
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

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
