package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/acme/platform/policypack"
)

// analyzer is the pack as the engine's Analyzer interface: the rules, with
// the config the engine last sent (the rules' defaults until then).
type analyzer struct {
	mu   sync.Mutex
	pack *policypack.Pack
}

var _ plugin.Analyzer = (*analyzer)(nil)

func newAnalyzer() *analyzer {
	pack, err := policypack.New(nil)
	if err != nil {
		panic(err) // the defaults are the pack's own: a bug, caught by its tests
	}
	return &analyzer{pack: pack}
}

func (a *analyzer) current() *policypack.Pack {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pack
}

func (a *analyzer) Name() tokens.QName { return tokens.QName(policypack.Name) }

func (a *analyzer) Analyze(_ context.Context, r plugin.AnalyzerResource) (plugin.AnalyzeResponse, error) {
	res := policypack.FromProperties(string(r.URN), string(r.Type), r.Name, r.Properties, nil)
	return diagnostics(a.current().Analyze(res)), nil
}

func (a *analyzer) AnalyzeStack(_ context.Context, rs []plugin.AnalyzerStackResource) (plugin.AnalyzeResponse, error) {
	resources := make([]policypack.Resource, len(rs))
	for i, r := range rs {
		var deps []string
		for _, urn := range r.Dependencies {
			deps = append(deps, string(urn))
		}
		for _, urns := range r.PropertyDependencies {
			for _, urn := range urns {
				deps = append(deps, string(urn))
			}
		}
		resources[i] = policypack.FromProperties(string(r.URN), string(r.Type), r.Name, r.Properties, deps)
	}
	return diagnostics(a.current().AnalyzeStack(resources)), nil
}

// descriptions are the rules' descriptions by name.
var descriptions = func() map[string]string {
	out := map[string]string{}
	for _, r := range policypack.Rules() {
		out[r.Name] = r.Description
	}
	return out
}()

// diagnostics are findings as the engine reports them: the rule, the
// resource, and the property path with what is wrong and what is allowed.
func diagnostics(findings []policypack.Finding) plugin.AnalyzeResponse {
	var out plugin.AnalyzeResponse
	for _, f := range findings {
		out.Diagnostics = append(out.Diagnostics, plugin.AnalyzeDiagnostic{
			PolicyName:        f.Rule,
			PolicyPackName:    policypack.Name,
			PolicyPackVersion: policypack.Version,
			Description:       descriptions[f.Rule],
			Message:           fmt.Sprintf("%s: %s", f.Path, f.Message),
			EnforcementLevel:  apitype.EnforcementLevel(f.Level),
			URN:               resource.URN(f.URN),
		})
	}
	return out
}

func (a *analyzer) Remediate(context.Context, plugin.AnalyzerResource) (plugin.RemediateResponse, error) {
	return plugin.RemediateResponse{}, nil
}

func (a *analyzer) GetAnalyzerInfo(context.Context) (plugin.AnalyzerInfo, error) {
	info := plugin.AnalyzerInfo{
		Name: policypack.Name, DisplayName: "The platform's policies", Version: policypack.Version, SupportsConfig: true,
		Description: "Rules over any program's Kubernetes and GitHub resources: pinned images, restricted pods, bounded resources, distinct probes, default-deny namespaces, no unauthenticated exposure, disruption budgets, branch rulesets, no plain secrets, a cost budget.",
	}
	for _, r := range policypack.Rules() {
		p := plugin.AnalyzerPolicyInfo{
			Name: r.Name, DisplayName: r.Name, Description: r.Description, Message: r.Remediation,
			EnforcementLevel: apitype.EnforcementLevel(r.Level), Type: plugin.AnalyzerPolicyTypeResource,
		}
		if r.CheckStack != nil {
			p.Type = plugin.AnalyzerPolicyTypeStack
		}
		if len(r.Schema) > 0 {
			p.ConfigSchema = &plugin.AnalyzerPolicyConfigSchema{Properties: map[string]plugin.JSONSchema{}}
			for key, schema := range r.Schema {
				p.ConfigSchema.Properties[key] = schema
			}
		}
		info.Policies = append(info.Policies, p)
	}
	return info, nil
}

func (a *analyzer) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(policypack.Version)
	return plugin.PluginInfo{Version: &v}, nil
}

// Configure applies the stack's pack config as the engine reconciled it
// (every rule, with its level and settings); a config the pack refuses
// fails the run, naming the rule, the setting and what is allowed.
func (a *analyzer) Configure(_ context.Context, config map[string]plugin.AnalyzerPolicyConfig) error {
	rules := map[string]policypack.RuleConfig{}
	for name, c := range config {
		rules[name] = policypack.RuleConfig{Level: policypack.Level(c.EnforcementLevel), Settings: c.Properties}
	}
	pack, err := policypack.New(rules)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.pack = pack
	a.mu.Unlock()
	return nil
}

func (a *analyzer) Cancel(context.Context) error { return nil }

func (a *analyzer) Close() error { return nil }
