package changes

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
)

func TestDiffPaths(t *testing.T) {
	old := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "a", "environment": "local"}, "resourceVersion": "1"},
		"spec": map[string]any{"replicas": 1.0, "template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": "x:1", "name": "x"}},
		}}},
		"status": map[string]any{"readyReplicas": 1.0},
	}
	new := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": "a", "environment": "tampered"}, "resourceVersion": "9"},
		"spec": map[string]any{"replicas": 3.0, "template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": "x:2", "name": "x"}},
		}}},
		"status": map[string]any{"readyReplicas": 3.0},
	}
	got := map[string]ValueChange{}
	diffValues("", old, new, got)
	want := map[string]ValueChange{
		"metadata.labels.environment":            {"local", "tampered"},
		"spec.replicas":                          {1.0, 3.0},
		"spec.template.spec.containers[0].image": {"x:1", "x:2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diffValues = %v, want %v", got, want)
	}
	same := map[string]ValueChange{}
	if diffValues("", old, old, same); len(same) != 0 {
		t.Fatalf("no difference reported as %v", same)
	}
	grown := map[string]ValueChange{}
	diffValues("", map[string]any{"a": []any{1.0}}, map[string]any{"a": []any{1.0, 2.0}, "b": "new"}, grown)
	if !reflect.DeepEqual(grown, map[string]ValueChange{"a": {[]any{1.0}, []any{1.0, 2.0}}, "b": {nil, "new"}}) {
		t.Fatalf("list length change and added key = %v", grown)
	}
}

func step(op apitype.OpType, urn string, old, new map[string]any) apitype.EngineEvent {
	meta := apitype.StepEventMetadata{Op: op, URN: urn, Type: "kubernetes:core/v1:ConfigMap"}
	if old != nil {
		meta.Old = &apitype.StepEventStateMetadata{Outputs: old}
	}
	if new != nil {
		meta.New = &apitype.StepEventStateMetadata{Outputs: new}
	}
	return apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: meta}}
}

func TestRecordChange(t *testing.T) {
	same := map[string]any{"data": map[string]any{"A": "1"}}
	events := []apitype.EngineEvent{
		step(apitype.OpRefresh, "urn:unchanged", same, same),
		step(apitype.OpRefresh, "urn:edited", same, map[string]any{"data": map[string]any{"A": "2"}}),
		step(apitype.OpRefresh, "urn:gone", same, nil),
		step(apitype.OpSame, "urn:same", nil, nil),
		{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{
			Op: apitype.OpUpdate, URN: "urn:updated", Type: "t", DetailedDiff: map[string]apitype.PropertyDiff{"spec.replicas": {}},
		}}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{Message: "noise"}},
		{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{
			Op: apitype.OpCreate, URN: "urn:named", Type: "kubernetes:core/v1:ConfigMap", New: &apitype.StepEventStateMetadata{Outputs: map[string]any{
				"metadata": map[string]any{"name": "greeter-env-1a2b3c4d", "annotations": map[string]any{"pulumi.com/autonamed": "true"}}}},
		}}},
		secretStep("urn:secret", map[string]any{"data": map[string]any{"TOKEN": "b2xk"}}, map[string]any{"data": map[string]any{"TOKEN": "bmV3"}}),
		// kubectl's copy of a Secret in an annotation; a known secret pasted
		// into a ConfigMap (the one-letter "b" is too short to look for).
		secretStep("urn:secret-annotated", map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a": "x"}}},
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a": `{"stringData":{"TOKEN":"new"}}`}}}),
		step(apitype.OpRefresh, "urn:pasted", map[string]any{"data": map[string]any{"A": "b", "B": "ok"}}, map[string]any{"data": map[string]any{"A": "token=hunter2-secret", "B": "fine"}}),
		step(apitype.OpRefresh, "urn:masked", map[string]any{"data": map[string]any{"A": "[secret]"}}, map[string]any{"data": map[string]any{"A": "2"}}),
		// dev deployed since: its outputs read anew are no drift of prod's.
		func() apitype.EngineEvent {
			e := step(apitype.OpRefresh, "urn:reference", map[string]any{"outputs": map[string]any{"image": "a"}}, map[string]any{"outputs": map[string]any{"image": "b"}})
			e.ResOutputsEvent.Metadata.Type = "pulumi:pulumi:StackReference"
			return e
		}(),
		step(apitype.OpRefresh, "urn:signed", map[string]any{"data": map[string]any{"A": map[string]any{sig.Key: sig.Secret, "plaintext": "p"}}}, map[string]any{"data": map[string]any{"A": "n"}}),
	}
	r := Recorder{Secrets: []string{"b", "hunter2-secret"}}
	for _, e := range events {
		r.Record(e)
	}
	got := r.Changes()
	want := Changes{
		{Op: apitype.OpUpdate, URN: "urn:edited", Type: "kubernetes:core/v1:ConfigMap", Paths: []string{"data.A"},
			Values: map[string]ValueChange{"data.A": {"1", "2"}}},
		{Op: apitype.OpDelete, URN: "urn:gone", Type: "kubernetes:core/v1:ConfigMap"},
		{Op: apitype.OpUpdate, URN: "urn:masked", Type: "kubernetes:core/v1:ConfigMap", Paths: []string{"data.A"},
			Values: map[string]ValueChange{"data.A": {Masked, Masked}}},
		{Op: apitype.OpCreate, URN: "urn:named", Type: "kubernetes:core/v1:ConfigMap", GeneratedName: "greeter-env-1a2b3c4d"},
		{Op: apitype.OpUpdate, URN: "urn:pasted", Type: "kubernetes:core/v1:ConfigMap", Paths: []string{"data.A", "data.B"},
			Values: map[string]ValueChange{"data.A": {Masked, Masked}, "data.B": {"ok", "fine"}}},
		{Op: apitype.OpUpdate, URN: "urn:secret", Type: "kubernetes:core/v1:Secret", Paths: []string{"data.TOKEN"},
			Values: map[string]ValueChange{"data.TOKEN": {Masked, Masked}}},
		{Op: apitype.OpUpdate, URN: "urn:secret-annotated", Type: "kubernetes:core/v1:Secret", Paths: []string{"metadata.annotations.a"},
			Values: map[string]ValueChange{"metadata.annotations.a": {Masked, Masked}}},
		{Op: apitype.OpUpdate, URN: "urn:signed", Type: "kubernetes:core/v1:ConfigMap", Paths: []string{"data.A"},
			Values: map[string]ValueChange{"data.A": {Masked, Masked}}},
		{Op: apitype.OpUpdate, URN: "urn:updated", Type: "t", Paths: []string{"spec.replicas"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes:\n got %+v\nwant %+v", got, want)
	}
}

func TestIsSecret(t *testing.T) {
	secret := map[string]any{sig.Key: sig.Secret, "ciphertext": "[secret]"}
	for _, tt := range []struct {
		v    any
		want bool
	}{
		{secret, true},
		{map[string]any{"data": map[string]any{"TOKEN": secret}}, true},
		{[]any{"a", secret}, true},
		{map[string]any{sig.Key: sig.ResourceReference, "urn": "urn:x"}, false},
		{map[string]any{"a": "b"}, false},
		{"[secret]", false}, // a masked string is the report's concern, not a serialized secret
	} {
		if got := isSecret(tt.v); got != tt.want {
			t.Errorf("isSecret(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
	if v, ok := valueAt(map[string]any{"data": secret}, "data.TOKEN"); !ok || !isSecret(v) {
		t.Errorf("valueAt looked into a secret: %v %v", v, ok)
	}
}

// secretStep is a refresh of a Kubernetes Secret whose data the engine did not mark secret.
func secretStep(urn string, old, new map[string]any) apitype.EngineEvent {
	e := step(apitype.OpRefresh, urn, old, new)
	e.ResOutputsEvent.Metadata.Type = "kubernetes:core/v1:Secret"
	return e
}

// An update runs only what was approved: any change not approved, approved
// and gone, or planned otherwise (operation, paths, values) is a difference;
// the same changes read back from the approval file are none.
func TestDifferences(t *testing.T) {
	approved := Changes{
		{Op: apitype.OpUpdate, URN: "urn:deployment", Type: "kubernetes:apps/v1:Deployment", Paths: []string{"spec.replicas"},
			Values: map[string]ValueChange{"spec.replicas": {2.0, 3.0}}},
		{Op: apitype.OpReplace, URN: "urn:configmap", Type: "kubernetes:core/v1:ConfigMap", Paths: []string{"data.GREETING"}, GeneratedName: "greeter-env-1a2b3c4d"},
	}
	approved[0].Values["spec.template.spec.containers[0].envFrom[0].configMapRef.name"] = ValueChange{"greeter-env-00000000", "greeter-env-1a2b3c4d"}
	data, err := json.Marshal(Approval{Stack: "prod", Changes: approved})
	if err != nil {
		t.Fatal(err)
	}
	var read Approval
	if err := json.Unmarshal(data, &read); err != nil {
		t.Fatal(err)
	}
	with := func(mutate func(Changes) Changes) Changes {
		c := make(Changes, len(approved))
		for i, a := range approved {
			c[i] = a
			c[i].Values = maps.Clone(a.Values)
		}
		return mutate(c)
	}
	tests := []struct {
		name string
		now  Changes
		want string
	}{
		{"the same", approved, ""},
		{"one more", with(func(c Changes) Changes {
			return append(c, Change{Op: apitype.OpDelete, URN: "urn:namespace"})
		}), "not approved: delete urn:namespace"},
		{"one fewer", with(func(c Changes) Changes { return c[:1] }), "approved, no longer planned: replace urn:configmap"},
		{"another value", with(func(c Changes) Changes {
			c[0].Values["spec.replicas"] = ValueChange{2.0, 0.0}
			return c
		}), `changed since approved: urn:deployment`},
		{"another operation", with(func(c Changes) Changes { c[1].Op = apitype.OpDeleteReplaced; return c }), "changed since approved: urn:configmap"},
		{"another path", with(func(c Changes) Changes { c[1].Paths = []string{"data.LOG_LEVEL"}; return c }), "changed since approved: urn:configmap"},
		// Each preview names a replaced ConfigMap anew: the same plan.
		{"another generated name", with(func(c Changes) Changes {
			c[1].GeneratedName = "greeter-env-7c1e0f2a"
			c[0].Values["spec.template.spec.containers[0].envFrom[0].configMapRef.name"] = ValueChange{"greeter-env-00000000", "greeter-env-7c1e0f2a"}
			return c
		}), ""},
		{"a name that is not generated", with(func(c Changes) Changes {
			c[0].Values["spec.template.spec.containers[0].envFrom[0].configMapRef.name"] = ValueChange{"greeter-env-00000000", "greeter-env-other"}
			return c
		}), "changed since approved: urn:deployment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(Differences(read.Changes, tt.now), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("differences %q, want %q", got, tt.want)
			}
		})
	}
}
