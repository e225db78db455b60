package policypack

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// goodContainer meets every container rule.
func goodContainer() map[string]any {
	return map[string]any{
		"name":  "app",
		"image": "ghcr.io/acme/app:1.2.3@sha256:" + strings.Repeat("a", 64),
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false, "runAsNonRoot": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "16Mi"},
			"limits":   map[string]any{"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
		},
		"livenessProbe":  map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080.0}},
		"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/readyz", "port": 8080.0}},
	}
}

// deployment is a Deployment in namespace app whose container is c after
// change, with the given replicas.
func deployment(replicas float64, change func(c map[string]any)) Resource {
	c := goodContainer()
	if change != nil {
		change(c)
	}
	return Resource{URN: "urn:pulumi:s::p::kubernetes:apps/v1:Deployment::app", Type: "kubernetes:apps/v1:Deployment", Name: "app",
		Properties: map[string]any{
			"metadata": map[string]any{"name": "app", "namespace": "app"},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "app"}},
				"spec":     map[string]any{"containers": []any{c}},
			}},
		}}
}

func fromJSON(typ, name string, props string) Resource {
	var m map[string]any
	if err := json.Unmarshal([]byte(props), &m); err != nil {
		panic(err)
	}
	return Resource{URN: "urn:pulumi:s::p::" + typ + "::" + name, Type: typ, Name: name, Properties: m}
}

var (
	defaultDeny = fromJSON("kubernetes:networking.k8s.io/v1:NetworkPolicy", "deny",
		`{"metadata": {"namespace": "app"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}`)
	allowSome = fromJSON("kubernetes:networking.k8s.io/v1:NetworkPolicy", "allow",
		`{"metadata": {"namespace": "app"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]}}`)
	budget = fromJSON("kubernetes:policy/v1:PodDisruptionBudget", "pdb",
		`{"metadata": {"namespace": "app"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "app"}}}}`)
	otherBudget = fromJSON("kubernetes:policy/v1:PodDisruptionBudget", "pdb",
		`{"metadata": {"namespace": "app"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "other"}}}}`)
	repo          = fromJSON("github:index/repository:Repository", "repo", `{"name": "greeter"}`)
	mainRuleset   = fromJSON("github:index/repositoryRuleset:RepositoryRuleset", "main", `{"repository": "greeter", "target": "branch", "enforcement": "active", "conditions": {"refName": {"includes": ["~DEFAULT_BRANCH"]}}}`)
	evalRuleset   = fromJSON("github:index/repositoryRuleset:RepositoryRuleset", "main", `{"repository": "greeter", "target": "branch", "enforcement": "evaluate", "conditions": {"refName": {"includes": ["~DEFAULT_BRANCH"]}}}`)
	publicService = fromJSON("kubernetes:core/v1:Service", "lb", `{"metadata": {"namespace": "app", "name": "lb"}, "spec": {"type": "LoadBalancer"}}`)
	secureIngress = fromJSON("kubernetes:networking.k8s.io/v1:Ingress", "in", `{"metadata": {"namespace": "app", "name": "in", "annotations": {"nginx.ingress.kubernetes.io/auth-url": "https://auth/check"}},
		"spec": {"tls": [{"hosts": ["app.example.com"]}], "rules": [{"host": "app.example.com"}]}}`)
)

// Each rule passes a resource that meets it and refuses one that does not,
// naming the property path.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		rule     string
		settings Settings
		good     []Resource
		bad      []Resource
		// path is where the violation of bad is.
		path string
	}{
		{rule: "images-pinned-by-digest", good: []Resource{deployment(1, nil)},
			bad:  []Resource{deployment(1, func(c map[string]any) { c["image"] = "nginx:1.27" })},
			path: "spec.template.spec.containers[0].image"},
		{rule: "images-pinned-by-digest", good: []Resource{deployment(1, func(c map[string]any) { c["image"] = Unknown{} })},
			bad:  []Resource{deployment(1, func(c map[string]any) { c["image"] = "ghcr.io/acme/app@sha256:abc" })},
			path: "spec.template.spec.containers[0].image"},
		{rule: "pod-security-restricted", good: []Resource{deployment(1, nil)},
			bad: []Resource{deployment(1, func(c map[string]any) {
				c["securityContext"].(map[string]any)["capabilities"] = map[string]any{"drop": []any{"ALL"}, "add": []any{"NET_ADMIN"}}
			})},
			path: "spec.template.spec"},
		{rule: "pod-security-restricted", good: []Resource{deployment(1, nil)},
			bad:  []Resource{deployment(1, func(c map[string]any) { delete(c, "securityContext") })},
			path: "spec.template.spec"},
		{rule: "resources-bounded", good: []Resource{deployment(1, nil)},
			bad: []Resource{deployment(1, func(c map[string]any) {
				delete(c["resources"].(map[string]any)["limits"].(map[string]any), "ephemeral-storage")
			})},
			path: "spec.template.spec.containers[0].resources.limits.ephemeral-storage"},
		{rule: "resources-bounded", good: []Resource{deployment(1, nil)},
			bad: []Resource{deployment(1, func(c map[string]any) {
				c["resources"].(map[string]any)["limits"].(map[string]any)["memory"] = "32Mi"
			})},
			path: "spec.template.spec.containers[0].resources.limits.memory"},
		{rule: "probes-distinct", good: []Resource{deployment(1, nil)},
			bad:  []Resource{deployment(1, func(c map[string]any) { c["readinessProbe"] = c["livenessProbe"] })},
			path: "spec.template.spec.containers[0].readinessProbe"},
		{rule: "probes-distinct", good: []Resource{deployment(1, nil)},
			bad:  []Resource{deployment(1, func(c map[string]any) { delete(c, "livenessProbe") })},
			path: "spec.template.spec.containers[0].livenessProbe"},
		{rule: "namespace-default-deny", good: []Resource{deployment(1, nil), defaultDeny},
			bad: []Resource{deployment(1, nil), allowSome}, path: "metadata.namespace"},
		{rule: "exposure-tls-and-auth", good: []Resource{secureIngress},
			bad: []Resource{publicService}, path: "spec.type"},
		{rule: "exposure-tls-and-auth", good: []Resource{secureIngress},
			bad: []Resource{fromJSON("kubernetes:networking.k8s.io/v1:Ingress", "in", `{"metadata": {"namespace": "app", "name": "in", "annotations": {"nginx.ingress.kubernetes.io/auth-url": "https://auth/check"}},
				"spec": {"rules": [{"host": "app.example.com"}]}}`)}, path: "spec.tls"},
		{rule: "exposure-tls-and-auth", good: []Resource{secureIngress},
			bad: []Resource{fromJSON("kubernetes:networking.k8s.io/v1:Ingress", "in", `{"metadata": {"namespace": "app", "name": "in"},
				"spec": {"tls": [{"hosts": ["app.example.com"]}], "rules": [{"host": "app.example.com"}]}}`)}, path: "metadata.annotations"},
		{rule: "disruption-budgets", good: []Resource{deployment(3, nil), budget},
			bad: []Resource{deployment(3, nil), otherBudget}, path: "spec.replicas"},
		{rule: "github-default-branch-ruleset", good: []Resource{repo, mainRuleset},
			bad: []Resource{repo, evalRuleset}, path: "name"},
		{rule: "github-no-plain-secrets",
			good: []Resource{fromJSON("github:index/actionsVariable:ActionsVariable", "v", `{"variableName": "AWS_REGION", "value": "eu-west-1"}`)},
			bad:  []Resource{fromJSON("github:index/actionsVariable:ActionsVariable", "v", `{"variableName": "DEPLOY_TOKEN", "value": "abc"}`)},
			path: "variableName"},
		{rule: "github-no-plain-secrets",
			good: []Resource{{Type: "github:index/actionsSecret:ActionsSecret", Properties: map[string]any{"plaintextValue": Secret{Value: "abc"}}}},
			bad:  []Resource{fromJSON("github:index/actionsSecret:ActionsSecret", "s", `{"secretName": "TOKEN", "plaintextValue": "abc"}`)},
			path: "plaintextValue"},
		{rule: "github-no-plain-secrets",
			good: []Resource{fromJSON("github:index/actionsVariable:ActionsVariable", "v", `{"variableName": "AWS_REGION", "value": "eu-west-1"}`)},
			bad:  []Resource{{Type: "github:index/actionsVariable:ActionsVariable", Properties: map[string]any{"variableName": "REGION", "value": Secret{Value: "x"}}}},
			path: "value"},
		{rule: "cost-budget", settings: Settings{"cpu": "1", "memory": "1Gi"},
			good: []Resource{deployment(4, nil)}, // 4 × 50m, 4 × 64Mi
			bad:  []Resource{deployment(30, nil)}, path: "cpu"},
		{rule: "cost-budget", settings: Settings{"memory": "1Gi"},
			good: []Resource{deployment(1, nil)},
			bad: []Resource{deployment(1, nil), fromJSON("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "hpa",
				`{"metadata": {"namespace": "app"}, "spec": {"maxReplicas": 20, "scaleTargetRef": {"kind": "Deployment", "name": "app"}}}`)},
			path: "memory"},
	} {
		t.Run(tc.rule+" "+tc.path, func(t *testing.T) {
			pack, err := New(map[string]RuleConfig{tc.rule: {Level: Mandatory, Settings: tc.settings}})
			if err != nil {
				t.Fatal(err)
			}
			if found := only(pack.Evaluate(tc.good), tc.rule); len(found) > 0 {
				t.Errorf("the passing case was refused: %v", found)
			}
			found := only(pack.Evaluate(tc.bad), tc.rule)
			if len(found) == 0 {
				t.Fatalf("the failing case passed")
			}
			if !slices.ContainsFunc(found, func(f Finding) bool { return f.Path == tc.path && f.Level == Mandatory && f.Message != "" }) {
				t.Errorf("want a mandatory violation at %s, got %v", tc.path, found)
			}
		})
	}
}

// only are the findings of one rule.
func only(findings []Finding, rule string) []Finding {
	return slices.DeleteFunc(findings, func(f Finding) bool { return f.Rule != rule })
}

// Every rule has a name, a description, a remediation, a valid level and
// a check; the names are unique.
func TestEveryRuleIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if r.Name == "" || r.Description == "" || r.Remediation == "" || (r.Check == nil) == (r.CheckStack == nil) ||
			!slices.Contains([]Level{Advisory, Mandatory, Disabled}, r.Level) || seen[r.Name] {
			t.Errorf("rule %+v is incomplete or repeated", r.Name)
		}
		seen[r.Name] = true
	}
}

// A disabled rule is not run; a level or setting the pack does not know
// is refused naming it.
func TestConfig(t *testing.T) {
	pack, err := New(map[string]RuleConfig{"images-pinned-by-digest": {Level: Disabled}})
	if err != nil {
		t.Fatal(err)
	}
	if found := pack.Evaluate([]Resource{deployment(1, func(c map[string]any) { c["image"] = "nginx:1" })}); len(only(found, "images-pinned-by-digest")) > 0 {
		t.Errorf("a disabled rule ran: %v", found)
	}
	for config, want := range map[string]map[string]RuleConfig{
		`"no-such-rule": no such rule`:                      {"no-such-rule": {}},
		`level "strict": must be advisory, mandatory`:       {"probes-distinct": {Level: "strict"}},
		`cost-budget.cpu: "lots": must be a positive`:       {"cost-budget": {Settings: Settings{"cpu": "lots"}}},
		`probes-distinct.allow: no such setting`:            {"probes-distinct": {Settings: Settings{"allow": []any{"x"}}}},
		`cost-budget.nodes: 0.5: must be a whole number of`: {"cost-budget": {Settings: Settings{"nodes": 0.5}}},
	} {
		if _, err := New(want); err == nil || !strings.Contains(err.Error(), config) {
			t.Errorf("config %v: got %v, want an error containing %q", slices.Collect(maps.Keys(want)), err, config)
		}
	}
}

// Hostile or malformed properties never crash the analyzer: each rule
// judges what it can read, and a pod spec Kubernetes could not decode is
// refused by pod-security-restricted.
func TestMalformedResourcesAreJudgedNotCrashed(t *testing.T) {
	pack, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	malformed := []string{
		`{"spec": {"template": {"spec": {"containers": "not a list"}}}}`,
		`{"spec": {"template": {"spec": {"containers": [{"name": 7, "image": ["x"], "resources": {"limits": "none"}}]}}}}`,
		`{"spec": {"replicas": "three", "template": "none"}, "metadata": {"namespace": 4}}`,
		`{"metadata": null, "spec": null}`,
	}
	var resources []Resource
	for i, props := range malformed {
		for _, typ := range []string{"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:Ingress",
			"github:index/repository:Repository", "github:index/actionsVariable:ActionsVariable", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"} {
			resources = append(resources, fromJSON(typ, fmt.Sprint("bad", i), props))
		}
	}
	pack.Evaluate(resources) // must not panic
	found := only(pack.Evaluate(resources[:1]), "pod-security-restricted")
	if len(found) != 1 || !strings.Contains(found[0].Message, "is not a valid pod spec") {
		t.Errorf("an undecodable pod spec: %v", found)
	}
}

// A secret value never shows in a message, whatever rule quotes it.
func TestMessagesNeverShowSecrets(t *testing.T) {
	pack, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	const hidden = "registry.example/secret-image:1"
	found := pack.Evaluate([]Resource{deployment(1, func(c map[string]any) {
		c["image"] = Secret{Value: hidden}
		c["resources"].(map[string]any)["limits"].(map[string]any)["memory"] = Secret{Value: "lots-of-" + hidden}
		probe := map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080.0,
			"httpHeaders": []any{map[string]any{"name": "Authorization", "value": Secret{Value: "Bearer " + hidden}}}}}
		c["livenessProbe"], c["readinessProbe"] = probe, probe
	})})
	if len(found) < 3 {
		t.Fatalf("want the image, the memory limit and the probes refused, got %v", found)
	}
	for _, f := range found {
		if strings.Contains(f.Message, hidden) {
			t.Errorf("%s shows the secret: %s", f.Rule, f.Message)
		}
	}
}
