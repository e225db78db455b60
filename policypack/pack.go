// Package policypack is the platform's policy pack: rules over any Pulumi
// program's resources (not only the platform's components), judged by the
// engine on every preview and update through the analyzer plugin
// cmd/pulumi-analyzer-policy-platform. The components' own validation uses
// the same checks where a rule and a component ask the same thing
// (policypack/shared), so the two cannot drift apart.
//
// Each rule has a name, a description, a default enforcement level and a
// remediation; its level (and its settings, where it has any) are set per
// stack by the pack's config: policypack/config/<stack>.json, in the engine's
// format for --policy-pack-config.
package policypack

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Name and Version identify the pack to the engine.
const (
	Name    = "platform"
	Version = "1.0.0"
)

// Level is a rule's enforcement level.
type Level string

// The enforcement levels, as the engine's policy config names them.
const (
	Advisory  Level = "advisory"  // reported; the run goes on
	Mandatory Level = "mandatory" // reported; the preview or update fails
	Disabled  Level = "disabled"  // not evaluated
)

// Resource is one resource as a rule sees it.
type Resource struct {
	URN  string
	Type string
	Name string
	// Properties are the resource's inputs as plain values: maps, slices,
	// strings, float64s, bools and nil; a secret value is a Secret, a value
	// not known yet (preview) is Unknown.
	Properties map[string]any
	// DependsOn are the URNs the resource's properties were computed from.
	DependsOn []string
}

// Violation is one property a rule refuses.
type Violation struct {
	// URN is the resource's; empty for a finding about the whole stack.
	URN string
	// Path is the property's path in the resource's inputs, such as
	// spec.template.spec.containers[0].image.
	Path string
	// Message says what was found and what is allowed instead.
	Message string
}

// Finding is a violation with the rule that found it and its level.
type Finding struct {
	Rule  string
	Level Level
	Violation
}

func (f Finding) String() string {
	where := f.URN
	if where == "" {
		where = "(stack)"
	}
	return fmt.Sprintf("[%s] %s: %s: %s: %s", f.Level, f.Rule, where, f.Path, f.Message)
}

// Settings are a rule's config properties (JSON values).
type Settings map[string]any

// Rule is one policy of the pack.
type Rule struct {
	Name        string
	Description string
	// Remediation says how to fix a violation.
	Remediation string
	// Level is the default enforcement level.
	Level Level
	// Schema is the JSON schema of each of the rule's settings.
	Schema map[string]map[string]any
	// Check judges one resource (resource rules).
	Check func(r Resource, s Settings) []Violation
	// CheckStack judges all of a stack's resources at once (stack rules),
	// after a preview or an update.
	CheckStack func(rs []Resource, s Settings) []Violation
	// validate reports what is wrong with the rule's settings.
	validate func(s Settings) []string
}

// RuleConfig is one rule's config for a stack.
type RuleConfig struct {
	Level    Level
	Settings Settings
}

// Pack is the rules with one stack's config applied.
type Pack struct {
	rules  []Rule
	config map[string]RuleConfig
}

// New applies config (by rule name; rules it does not name keep their
// defaults) and refuses unknown rules, levels and invalid settings.
func New(config map[string]RuleConfig) (*Pack, error) {
	p := &Pack{rules: Rules(), config: map[string]RuleConfig{}}
	known := map[string]Rule{}
	for _, r := range p.rules {
		known[r.Name] = r
		p.config[r.Name] = RuleConfig{Level: r.Level, Settings: Settings{}}
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(config)) {
		c := config[name]
		rule, ok := known[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%q: no such rule; the rules are %s", name, strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
			continue
		}
		switch c.Level {
		case "":
			c.Level = rule.Level
		case Advisory, Mandatory, Disabled:
		default:
			problems = append(problems, fmt.Sprintf("%s: level %q: must be advisory, mandatory or disabled", name, c.Level))
		}
		if c.Settings == nil {
			c.Settings = Settings{}
		}
		for _, key := range slices.Sorted(maps.Keys(c.Settings)) {
			if _, ok := rule.Schema[key]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: no such setting; %s takes %s", name, key, name, settingNames(rule)))
			}
		}
		if rule.validate != nil {
			for _, q := range rule.validate(c.Settings) {
				problems = append(problems, name+"."+q)
			}
		}
		p.config[name] = c
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("policy pack %s: %s", Name, strings.Join(problems, "; "))
	}
	return p, nil
}

func settingNames(r Rule) string {
	if len(r.Schema) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(r.Schema)), ", ")
}

// Analyze runs every enabled resource rule over one resource.
func (p *Pack) Analyze(r Resource) []Finding {
	return p.run(func(rule Rule, s Settings) []Violation {
		if rule.Check == nil {
			return nil
		}
		found := rule.Check(r, s)
		for i := range found {
			found[i].URN = r.URN
		}
		return found
	})
}

// AnalyzeStack runs every enabled stack rule over all of a stack's resources.
func (p *Pack) AnalyzeStack(rs []Resource) []Finding {
	return p.run(func(rule Rule, s Settings) []Violation {
		if rule.CheckStack == nil {
			return nil
		}
		return rule.CheckStack(rs, s)
	})
}

// run is check's violations for every rule not disabled, with the rule's
// settings, as findings at the rule's level.
func (p *Pack) run(check func(Rule, Settings) []Violation) []Finding {
	var out []Finding
	for _, rule := range p.rules {
		c := p.config[rule.Name]
		if c.Level == Disabled {
			continue
		}
		for _, v := range check(rule, c.Settings) {
			out = append(out, Finding{Rule: rule.Name, Level: c.Level, Violation: v})
		}
	}
	return out
}

// Evaluate runs every enabled rule over a stack's resources, as a preview
// does: each resource, then the stack; findings sorted by URN, rule, path.
func (p *Pack) Evaluate(rs []Resource) []Finding {
	var out []Finding
	for _, r := range rs {
		out = append(out, p.Analyze(r)...)
	}
	out = append(out, p.AnalyzeStack(rs)...)
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.URN, b.URN), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// FromProperties is a resource as the engine hands it over: its property
// map, secrets and unknowns kept.
func FromProperties(urn, typ, name string, props resource.PropertyMap, dependsOn []string) Resource {
	return Resource{URN: urn, Type: typ, Name: name, Properties: plainMap(props), DependsOn: dependsOn}
}

func plainMap(props resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		out[string(k)] = plain(v)
	}
	return out
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsComputed():
		return Unknown{}
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return Unknown{}
		}
		if o.Secret {
			return Secret{Value: plain(o.Element)}
		}
		return plain(o.Element)
	case v.IsSecret():
		return Secret{Value: plain(v.SecretValue().Element)}
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsArray():
		list := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			list[i] = plain(e)
		}
		return list
	case v.IsNull():
		return nil
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.V
}
