package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/acme/platform/policypack"
)

// The analyzer answers the engine's calls as the engine makes them (the
// SDK's own server over the Analyzer interface): its info lists every rule
// with its level and config schema, a config is applied or refused naming
// the rule, and a resource's violations name the rule, the URN and the
// property path.
func TestAnalyzerServesThePack(t *testing.T) {
	ctx := context.Background()
	server := plugin.NewAnalyzerServer(newAnalyzer())

	info, err := server.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != policypack.Name || !info.SupportsConfig || len(info.Policies) != len(policypack.Rules()) {
		t.Fatalf("info: name %q, supports config %v, %d policies", info.Name, info.SupportsConfig, len(info.Policies))
	}
	for _, p := range info.Policies {
		if p.Name == "cost-budget" && (p.ConfigSchema == nil || p.ConfigSchema.Properties.Fields["memory"] == nil || p.PolicyType != pulumirpc.PolicyType_POLICY_TYPE_STACK) {
			t.Errorf("cost-budget: schema %v, type %v", p.ConfigSchema, p.PolicyType)
		}
	}

	bad, err := structpb.NewStruct(map[string]any{"cpu": "lots"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.Configure(ctx, &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{
		"cost-budget": {EnforcementLevel: pulumirpc.EnforcementLevel_MANDATORY, Properties: bad},
	}})
	if err == nil || !strings.Contains(err.Error(), `cost-budget.cpu: "lots"`) {
		t.Errorf("a bad budget: got %v", err)
	}
	if _, err := server.Configure(ctx, &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{
		"probes-distinct": {EnforcementLevel: pulumirpc.EnforcementLevel_ADVISORY},
	}}); err != nil {
		t.Fatal(err)
	}

	props, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(map[string]any{
		"metadata": map[string]any{"name": "raw", "namespace": "app"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "raw", "image": "nginx:1.27",
			"livenessProbe":  map[string]any{"httpGet": map[string]any{"path": "/", "port": 80}},
			"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/", "port": 80}},
		}}}}},
	}), plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true})
	if err != nil {
		t.Fatal(err)
	}
	urn := "urn:pulumi:e2e::p::kubernetes:apps/v1:Deployment::raw"
	got, err := server.Analyze(ctx, &pulumirpc.AnalyzeRequest{Urn: urn, Type: "kubernetes:apps/v1:Deployment", Name: "raw", Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]pulumirpc.EnforcementLevel{}
	for _, d := range got.Diagnostics {
		if d.Urn != urn || d.PolicyPackName != policypack.Name || d.Description == "" {
			t.Errorf("diagnostic %v", d)
		}
		levels[d.PolicyName] = d.EnforcementLevel
		if d.PolicyName == "images-pinned-by-digest" && !strings.HasPrefix(d.Message, `spec.template.spec.containers[0].image: "nginx:1.27"`) {
			t.Errorf("message %q does not start with the path and the value", d.Message)
		}
	}
	want := map[string]pulumirpc.EnforcementLevel{
		"images-pinned-by-digest": pulumirpc.EnforcementLevel_MANDATORY, "pod-security-restricted": pulumirpc.EnforcementLevel_MANDATORY,
		"resources-bounded": pulumirpc.EnforcementLevel_MANDATORY, "probes-distinct": pulumirpc.EnforcementLevel_ADVISORY,
	}
	for rule, level := range want {
		if levels[rule] != level {
			t.Errorf("%s: level %v, want %v (all: %v)", rule, levels[rule], level, levels)
		}
	}
}
