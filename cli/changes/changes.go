// Package changes says what an engine operation changes, or found changed,
// from the events the engine streams: each resource with its operation and
// changed property paths, and for drift the value in the state and the live
// one. The rules of what counts live here, once: Kubernetes bookkeeping that
// changes on every read is not a change, and secret values (the engine's
// secrets, and a Kubernetes Secret's data whatever the engine marked) never
// leave it unmasked.
package changes

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Change is one resource that an operation would change, or did.
type Change struct {
	Op    apitype.OpType `json:"op"`
	URN   string         `json:"urn"`
	Type  string         `json:"type"`
	Paths []string       `json:"paths,omitempty"` // changed property paths, where the engine names them
	// Values holds the old and new value of each changed path, where known
	// (an update's, or drift found by a refresh). Secret values are masked.
	Values map[string]ValueChange `json:"values,omitempty"`
	// GeneratedName is the name the provider made up for the object this
	// operation creates (a Kubernetes object marked pulumi.com/autonamed):
	// random per preview, so compared as "the name of URN".
	GeneratedName string `json:"generatedName,omitempty"`
}

// ValueChange is a property's value in the state (Old) and as read back (New).
type ValueChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// Changes is what an operation found to change; empty means none.
type Changes []Change

// Recorder gathers changes from engine events, in any order.
type Recorder struct {
	// Secrets are the values of the stack's secrets: a value that holds one
	// is masked wherever it appears (a copy of a secret outside the places
	// the engine marks, such as an annotation).
	Secrets []string
	byURN   map[string]*Change
}

// minSecret is the shortest secret value searched for: shorter ones would
// mask ordinary values.
const minSecret = 6

// reveals says whether v holds one of the known secret values.
func (r *Recorder) reveals(v any) bool {
	if v == nil || len(r.Secrets) == 0 {
		return false
	}
	s, ok := v.(string)
	if !ok {
		data, _ := json.Marshal(v)
		s = string(data)
	}
	for _, secret := range r.Secrets {
		if len(secret) >= minSecret && strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

// Record takes in one engine event.
func (r *Recorder) Record(e apitype.EngineEvent) {
	if r.byURN == nil {
		r.byURN = map[string]*Change{}
	}
	byURN := r.byURN
	var meta *apitype.StepEventMetadata
	switch {
	case e.ResourcePreEvent != nil:
		meta = &e.ResourcePreEvent.Metadata
	case e.ResOutputsEvent != nil:
		meta = &e.ResOutputsEvent.Metadata
	default:
		return
	}
	if meta.Type == stackReferenceType {
		return
	}
	paths, values := changedPaths(meta)
	for p, v := range values {
		if secretPath(meta.Type, p) || masked(v.Old) || masked(v.New) || r.reveals(v.Old) || r.reveals(v.New) {
			values[p] = ValueChange{Old: Masked, New: Masked}
		}
	}
	op := meta.Op
	if op == apitype.OpSame || op == apitype.OpRead || (op == apitype.OpRefresh && len(paths) == 0 && meta.New != nil) {
		return
	}
	if op == apitype.OpRefresh {
		// A refresh step that found a difference: the resource was changed
		// outside Pulumi, or is gone (no new state).
		op = apitype.OpUpdate
		if meta.New == nil {
			op = apitype.OpDelete
		}
	}
	c, ok := byURN[meta.URN]
	if !ok {
		c = &Change{URN: meta.URN, Type: meta.Type}
		byURN[meta.URN] = c
	}
	c.Op = op
	c.Paths = mergePaths(c.Paths, paths)
	if name := generatedName(meta.New); name != "" {
		c.GeneratedName = name
	}
	for p, v := range values {
		if c.Values == nil {
			c.Values = map[string]ValueChange{}
		}
		c.Values[p] = v
	}
}

// changedPaths names the properties a step changes: the engine's detailed
// diff where it gives one, else the difference of old and new outputs.
func changedPaths(meta *apitype.StepEventMetadata) ([]string, map[string]ValueChange) {
	var paths []string
	for p := range meta.DetailedDiff {
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		paths = append(paths, meta.Diffs...)
	}
	values := map[string]ValueChange{}
	switch {
	case meta.Old == nil || meta.New == nil:
	case len(paths) == 0 && meta.Op == apitype.OpRefresh:
		diffValues("", meta.Old.Outputs, meta.New.Outputs, values)
		for p := range values {
			paths = append(paths, p)
		}
	default:
		for _, p := range paths {
			old, _ := valueAt(meta.Old.Outputs, p)
			new, _ := valueAt(meta.New.Outputs, p)
			values[p] = ValueChange{Old: old, New: new}
		}
	}
	sort.Strings(paths)
	return paths, values
}

func mergePaths(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append(a, b...) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// generatedName is the name of a Kubernetes object the provider named
// (pulumi-kubernetes marks it with the annotation pulumi.com/autonamed).
func generatedName(state *apitype.StepEventStateMetadata) string {
	if state == nil {
		return ""
	}
	metadata, _ := state.Outputs["metadata"].(map[string]any)
	annotations, _ := metadata["annotations"].(map[string]any)
	if annotations["pulumi.com/autonamed"] != "true" {
		return ""
	}
	name, _ := metadata["name"].(string)
	return name
}

// stackReferenceType is a read of another stack's outputs (prod's of dev's
// record of builds, dev's of its own): they change whenever that stack is
// deployed, which changes nothing here.
const stackReferenceType = "pulumi:pulumi:StackReference"

// Changes are the changes recorded so far, by URN.
func (r *Recorder) Changes() Changes {
	var out Changes
	for _, c := range r.byURN {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// Masked stands in for a secret value.
const Masked = "[secret]"

// secretPath says whether a property holds secret material whatever the
// engine marked: any property of a Kubernetes Secret (its data, and copies
// of it such as kubectl's last-applied-configuration annotation).
func secretPath(typ, _ string) bool {
	return typ == "kubernetes:core/v1:Secret"
}

// masked says whether a value is secret: masked by the engine, or a
// serialized secret.
func masked(v any) bool {
	s, isString := v.(string)
	return (isString && s == Masked) || isSecret(v)
}

// Approval is what a reviewer approved: the changes a preview of the stack
// showed. An update run with it first previews again and goes ahead only
// when that preview shows the same changes (Differences).
type Approval struct {
	Stack   string  `json:"stack"`
	Changes Changes `json:"changes"`
}

// Differences lists, one line per resource, how the changes now differ from
// the approved ones: a change not approved, an approved one no longer
// planned, and one whose operation, paths or values differ. Values compare
// as JSON (masked secrets compare by their mask: a changed secret of a path
// that was approved to change is not seen).
func Differences(approved, now Changes) []string {
	index := func(cs Changes) map[string]string {
		generated := map[string]string{}
		for _, c := range cs {
			if c.GeneratedName != "" {
				generated[c.GeneratedName] = "(the name generated for " + c.URN + ")"
			}
		}
		out := map[string]string{}
		for _, c := range cs {
			values := map[string]ValueChange{}
			for p, v := range c.Values {
				values[p] = ValueChange{Old: renamed(v.Old, generated), New: renamed(v.New, generated)}
			}
			data, _ := json.Marshal(struct {
				Op     apitype.OpType
				Paths  []string
				Values map[string]ValueChange
			}{c.Op, c.Paths, values})
			out[c.URN] = string(data)
		}
		return out
	}
	was, is := index(approved), index(now)
	var out []string
	for _, c := range now {
		switch before, ok := was[c.URN]; {
		case !ok:
			out = append(out, fmt.Sprintf("not approved: %s %s %s", c.Op, c.URN, strings.Join(c.Paths, ", ")))
		case before != is[c.URN]:
			out = append(out, fmt.Sprintf("changed since approved: %s: approved %s, now %s", c.URN, before, is[c.URN]))
		}
	}
	for _, c := range approved {
		if _, ok := is[c.URN]; !ok {
			out = append(out, fmt.Sprintf("approved, no longer planned: %s %s", c.Op, c.URN))
		}
	}
	return out
}

// renamed is v with every string that is a generated name replaced by what
// names it.
func renamed(v any, names map[string]string) any {
	switch v := v.(type) {
	case string:
		if n, ok := names[v]; ok {
			return n
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = renamed(e, names)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = renamed(e, names)
		}
		return out
	}
	return v
}
