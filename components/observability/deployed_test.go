package observability

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const claimPatchType = "kubernetes:core/v1:PersistentVolumeClaimPatch"

// Every member's data claim is sized by a patch of its own, after the
// StatefulSet made it; the StatefulSet's templates keep their first sizes
// (the engine ignores changes there), so a size change never replaces it.
func TestClaimsGrowInPlace(t *testing.T) {
	args := prodArgs()
	args.Elasticsearch.Storage.Size = "120Gi"
	g := mustDeploy(t, args)
	want := map[string]string{
		"kafka": args.Kafka.Storage.Size, "elasticsearch": "120Gi", "logstash": args.Logstash.QueueStorage.Size,
	}
	members := map[string]int{"kafka": args.Kafka.Brokers, "elasticsearch": args.Elasticsearch.Nodes, "logstash": args.Logstash.Replicas}
	for name, size := range want {
		sts := g.One(t, statefulSetType, "observability-"+name)
		if !slices.Contains(sts.IgnoreChanges, claimSizes) {
			t.Errorf("StatefulSet %s ignores %v, want %s", name, sts.IgnoreChanges, claimSizes)
		}
		for member := range members[name] {
			patch := g.One(t, claimPatchType, fmt.Sprintf("observability-%s-data-%d", name, member))
			if got := patch.MustInput(t, "metadata.name"); got != fmt.Sprintf("data-%s-%d", name, member) {
				t.Errorf("patch of %s member %d names claim %v", name, member, got)
			}
			if got := patch.MustInput(t, "spec.resources.requests.storage"); got != size {
				t.Errorf("claim of %s member %d sized %v, want %s", name, member, got, size)
			}
			if !slices.Contains(patch.Dependencies, sts.URN) {
				t.Errorf("patch of %s member %d does not wait for the StatefulSet that makes the claim", name, member)
			}
			if !patch.RetainOnDelete || patch.MustInput(t, "metadata.annotations") == nil {
				t.Errorf("patch of %s member %d: retainOnDelete %v, annotations %v", name, member, patch.RetainOnDelete, patch.Inputs["metadata"])
			}
		}
	}
	if n := len(g.OfType(claimPatchType)); n != 3+3+2 {
		t.Errorf("%d claim patches in prod, want one per member with claims: 8", n)
	}
	// dev's Logstash has no queue and so no claims.
	if n := len(mustDeploy(t, devArgs()).OfType(claimPatchType)); n != 2 {
		t.Errorf("%d claim patches in dev, want 2 (Kafka's and Elasticsearch's one member)", n)
	}
}

// The output deployed is what the next run reads back as Args.Deployed.
func TestDeployedRecordsWhatRuns(t *testing.T) {
	records := make(chan map[string]any, 1)
	_, err := deployWith(t, prodArgs(), func(o *Observability) {
		o.Deployed.ApplyT(func(v map[string]any) error { records <- v; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	record := resolved(t, records, "the output deployed")
	got, err := DeployedFrom(record)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Deployed{
		"kafka": {Members: 3, Size: "50Gi"}, "elasticsearch": {Members: 3, Size: "100Gi"}, "logstash": {Members: 2, Size: "10Gi"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deployed %v, want %v", got, want)
	}
	if d, err := DeployedFrom(nil); d != nil || err != nil {
		t.Errorf("a first run's record: %v, %v; want none", d, err)
	}
}

// What a running part cannot take is refused against the last run's record,
// each under its key; what it can take passes.
func TestChangesARunningStackCannotTake(t *testing.T) {
	last := map[string]Deployed{
		"kafka": {Members: 1, Size: "5Gi"}, "elasticsearch": {Members: 1, Size: "10Gi"}, "logstash": {Members: 1},
	}
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string // "": accepted
	}{
		{"nothing changed", func(*Args) {}, ""},
		{"a bigger claim", func(a *Args) { a.Elasticsearch.Storage.Size = "11Gi" }, ""},
		{"the same size written otherwise", func(a *Args) { a.Kafka.Storage.Size = "5120Mi" }, ""},
		{"more Elasticsearch nodes", func(a *Args) { a.Elasticsearch.Nodes = 3 }, ""},
		{"more Logstash replicas", func(a *Args) { a.Logstash.Replicas = 3 }, ""},
		{"Logstash's queue turned on", func(a *Args) { a.Logstash.PersistentQueue = true }, ""},
		{"a smaller claim", func(a *Args) { a.Kafka.Storage.Size = "4Gi" },
			`kafka.storage.size: "4Gi": must be at least 5Gi, the size of its claims: Kubernetes grows a claim, never shrinks it`},
		{"another class", func(a *Args) { a.Elasticsearch.Storage.Class = "fast" },
			`elasticsearch.storage.class: "fast": cannot change on a running stack (its claims are of the cluster's default class)`},
		{"another broker count", func(a *Args) { a.Kafka.Brokers = 3; a.Kafka.ReplicationFactor = 1 },
			"kafka.brokers: 3: cannot change on a running stack (it runs 1)"},
		{"a smaller claim, recreated", func(a *Args) { a.Kafka.Storage.Size = "4Gi"; a.Recreate = []string{"kafka"} }, ""},
		{"a recreate of another part", func(a *Args) { a.Kafka.Storage.Size = "4Gi"; a.Recreate = []string{"elasticsearch"} },
			`kafka.storage.size: "4Gi": must be at least 5Gi`},
		{"a recreate with nothing to recreate", func(a *Args) { a.Recreate = []string{"elasticsearch"} },
			`recreate[0]: "elasticsearch": has no change that a running elasticsearch cannot take: remove it`},
		{"a recreate of a stateless part", func(a *Args) { a.Recreate = []string{"kibana"} },
			`recreate[0]: "kibana": must be one of kafka, elasticsearch, logstash`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := devArgs()
			args.Deployed = last
			tt.mutate(&args)
			err := args.Validate().Err()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want a refusal containing %q, got %v", tt.want, err)
			case tt.want != "" && !strings.Contains(tt.want, "recreate") && !strings.Contains(err.Error(), operating):
				t.Errorf("the refusal does not say where the procedure is: %v", err)
			}
			if args.Deployed = nil; args.Recreate == nil {
				if err := args.Validate().Err(); err != nil {
					t.Errorf("a first run refused it: %v", err)
				}
			}
		})
	}
	queued := prodArgs()
	queued.Deployed = map[string]Deployed{"logstash": {Members: 2, Size: "10Gi"}}
	queued.Logstash.PersistentQueue = false
	if err := queued.Validate().Err(); err == nil || !strings.Contains(err.Error(), "logstash.persistentQueue: false: cannot be turned off on a running stack") {
		t.Errorf("turning off a running queue: %v", err)
	}
}

// A part a run recreates is replaced, claims and all; prod's never are.
func TestRecreate(t *testing.T) {
	args := devArgs()
	args.Deployed = map[string]Deployed{"kafka": {Members: 1, Size: "5Gi"}}
	args.Kafka.Storage.Size = "4Gi"
	args.Recreate = []string{"kafka"}
	g := mustDeploy(t, args)
	kafka := g.One(t, statefulSetType, "observability-kafka")
	if !kafka.DeleteBeforeReplace || len(kafka.IgnoreChanges) != 0 || kafka.Protect {
		t.Errorf("recreated Kafka: deleteBeforeReplace %v, ignoreChanges %v, protect %v", kafka.DeleteBeforeReplace, kafka.IgnoreChanges, kafka.Protect)
	}
	if es := g.One(t, statefulSetType, "observability-elasticsearch"); es.DeleteBeforeReplace || len(es.IgnoreChanges) != 1 {
		t.Errorf("Elasticsearch, not recreated: deleteBeforeReplace %v, ignoreChanges %v", es.DeleteBeforeReplace, es.IgnoreChanges)
	}
	prod := prodArgs()
	prod.Deployed = map[string]Deployed{"kafka": {Members: 3, Size: "50Gi"}}
	prod.Kafka.Storage.Size = "40Gi"
	prod.Recreate = []string{"kafka"}
	if err := prod.Validate().Err(); err == nil || !strings.Contains(err.Error(), `recreate[0]: "kafka": cannot be used where the stateful parts are protected`) {
		t.Errorf("a recreate in prod: %v", err)
	}
}
