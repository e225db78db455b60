package observability

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/validate"
)

// Deployed is what a run deployed of one stateful part (a StatefulSet): its
// members, and its data claims' size and class (Size empty: no claims). The
// component exports it by StatefulSet name (output deployed); a stack's next
// run hands it back as Args.Deployed, and Validate refuses what cannot change
// on a running part.
type Deployed struct {
	Members int    `json:"members"`
	Size    string `json:"size,omitempty"`
	Class   string `json:"class,omitempty"`
}

// DeployedFrom reads the deployed output of a stack's last run (any: as a
// stack reference returns it); nil when there is none.
func DeployedFrom(output any) (map[string]Deployed, error) {
	if output == nil {
		return nil, nil
	}
	data, err := json.Marshal(output)
	if err != nil {
		return nil, err
	}
	var out map[string]Deployed
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("the last run's deployed output: %w", err)
	}
	return out, nil
}

// deployedRecord is the output deployed: this run's record, as plain values.
func (b *builder) deployedRecord() map[string]any {
	out := map[string]any{}
	for name, d := range b.deployed {
		out[name] = map[string]any{"members": d.Members, "size": d.Size, "class": d.Class}
	}
	return out
}

// operating names where the procedures of changes that cannot be made in
// place are written.
const operating = "the procedures are in docs/observability.md, Day 2"

// storagePart is one stateful part's claims as the config declares them.
type storagePart struct {
	statefulSet, key string
	storage          Storage
	claims           bool
}

// validateChanges refuses, against what the last run deployed, the changes
// that a running part cannot take: a claim's class or a smaller size (a
// claim's class is immutable and Kubernetes never shrinks a claim), Kafka's
// broker count (every broker's config names the quorum's voters), and
// turning off Logstash's persistent queue (its claims and the events in
// them would go).
func (a Args) validateChanges(p *validate.Problems) {
	var changes validate.Problems
	a.runningChanges(&changes)
	for i, part := range a.Recreate {
		key := fmt.Sprintf("recreate[%d]", i)
		switch {
		case !slices.Contains(statefulParts, part):
			p.Add(key, part, fmt.Sprintf("must be one of %s", strings.Join(statefulParts, ", ")))
		case a.Protect:
			p.Add(key, part, "cannot be used where the stateful parts are protected (prod): move the data by hand; "+operating)
		case !slices.ContainsFunc(changes, func(q validate.Problem) bool { return strings.HasPrefix(q.Path, part+".") }):
			p.Add(key, part, "has no change that a running "+part+" cannot take: remove it (a recreate deletes the part's data)")
		}
	}
	for _, problem := range changes {
		part, _, _ := strings.Cut(problem.Path, ".")
		if !slices.Contains(a.Recreate, part) {
			*p = append(*p, problem)
		}
	}
}

// statefulParts are the parts whose StatefulSets keep data.
var statefulParts = []string{"kafka", "elasticsearch", "logstash"}

// runningChanges lists the changes refused on a running part.
func (a Args) runningChanges(p *validate.Problems) {
	if a.Deployed == nil {
		return
	}
	if last, ok := a.Deployed["kafka"]; ok && last.Members != a.Kafka.Brokers {
		p.Add("kafka.brokers", a.Kafka.Brokers, fmt.Sprintf(
			"cannot change on a running stack (it runs %d): every broker's config names the KRaft quorum's voters (controller.quorum.voters), which a rolling change would split; %s", last.Members, operating))
	}
	if last, ok := a.Deployed["logstash"]; ok && last.Size != "" && !a.Logstash.PersistentQueue {
		p.Add("logstash.persistentQueue", false, "cannot be turned off on a running stack: its claims, and the events still queued in them, would be deleted; "+operating)
	}
	for _, part := range []storagePart{
		{"kafka", "kafka.storage", a.Kafka.Storage, true},
		{"elasticsearch", "elasticsearch.storage", a.Elasticsearch.Storage, true},
		{"logstash", "logstash.queueStorage", a.Logstash.QueueStorage, a.Logstash.PersistentQueue},
	} {
		last, ok := a.Deployed[part.statefulSet]
		if !ok || last.Size == "" || !part.claims {
			continue
		}
		if part.storage.Class != last.Class {
			p.Add(part.key+".class", part.storage.Class, fmt.Sprintf("cannot change on a running stack (its claims are of %s): a claim's class is immutable; %s", className(last.Class), operating))
		}
		now, err1 := resource.ParseQuantity(part.storage.Size)
		was, err2 := resource.ParseQuantity(last.Size)
		if err1 == nil && err2 == nil && now.Cmp(was) < 0 {
			p.Add(part.key+".size", part.storage.Size, fmt.Sprintf("must be at least %s, the size of its claims: Kubernetes grows a claim, never shrinks it; %s", last.Size, operating))
		}
	}
}

func className(class string) string {
	if class == "" {
		return "the cluster's default class"
	}
	return fmt.Sprintf("class %q", class)
}
