// Package github judges the GitHub resources the program registers with
// terraform-provider-github v6.11.1's own schemas and validation: the code
// that pulumi-github v6.12.2 wraps (its provider's upstream at that tag,
// with one patch to branch protection's state migration, which no record
// uses), run offline (no call reaches GitHub). It
// is a module of its own so that the provider's dependencies stay out of the
// program's build.
//
// What it judges are the records the program's tests keep under testdata/
// (internal/pulumitest.CheckRecord): those tests fail when a record no
// longer matches what the program registers, this one when a record is
// something the provider would refuse.
package github

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/hashicorp/terraform-plugin-sdk/v2/terraform"
	provider "github.com/integrations/terraform-provider-github/v6/github"
)

// records are the program's records of what it registers on GitHub:
// prod's stack file, and the component with prod's profile and with every
// option set.
var records = []string{
	"../../../stacks/testdata/conformance/governance.json",
	"../../../components/repository/testdata/conformance/profile-prod.json",
	"../../../components/repository/testdata/conformance/every-option.json",
}

type recorded struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Inputs map[string]any `json:"inputs"`
}

func TestProviderSchemaIsSound(t *testing.T) {
	if err := provider.Provider().InternalValidate(); err != nil {
		t.Fatal(err)
	}
}

// Every recorded resource is a configuration the provider accepts: every
// input an attribute of its resource, required attributes set, every value
// one its validation allows.
func TestRecordsPassTheProvidersValidation(t *testing.T) {
	resources := provider.Provider().ResourcesMap
	seen := map[string]int{}
	for _, file := range records {
		var record []recorded
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &record); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, r := range record {
			name, err := terraformType(r.Type)
			if err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(file), r.Type, r.Name, err)
				continue
			}
			seen[name]++
			for _, problem := range validate(resources, name, r.Inputs) {
				t.Errorf("%s: %s %s: %s", filepath.Base(file), name, r.Name, problem)
			}
		}
	}
	// The records cover every kind of resource the component declares.
	for _, want := range []string{"github_repository", "github_repository_ruleset", "github_team_repository",
		"github_actions_secret", "github_actions_variable", "github_repository_environment",
		"github_repository_environment_deployment_policy", "github_actions_environment_secret", "github_actions_environment_variable"} {
		if seen[want] == 0 {
			t.Errorf("no record has a %s", want)
		}
	}
	t.Logf("validated %v", seen)
}

// The check can fail: what v6.11.1 refuses is reported (a bypass actor type
// or mode it does not know, an input that is no attribute, a required
// attribute left out).
func TestValidationReportsWhatTheProviderRefuses(t *testing.T) {
	resources := provider.Provider().ResourcesMap
	ruleset := func(actor map[string]any) map[string]any {
		return map[string]any{
			"name": "main", "repository": "greeter", "target": "branch", "enforcement": "active",
			"rules":        map[string]any{"deletion": true},
			"bypassActors": []any{actor},
		}
	}
	for _, tt := range []struct {
		name   string
		typ    string
		inputs map[string]any
		want   string
	}{
		{"unknown actor type", "github_repository_ruleset", ruleset(map[string]any{"actorId": 3.0, "actorType": "User", "bypassMode": "always"}), "User"},
		{"unknown bypass mode", "github_repository_ruleset", ruleset(map[string]any{"actorId": 3.0, "actorType": "Team", "bypassMode": "sometimes"}), "sometimes"},
		{"no such attribute", "github_repository", map[string]any{"name": "greeter", "mergeQueue": true}, "mergeQueue"},
		{"required attribute missing", "github_actions_secret", map[string]any{"secretName": "TOKEN", "plaintextValue": "[secret]"}, "repository"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			problems := validate(resources, tt.typ, tt.inputs)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one naming %s", problems, tt.want)
			}
		})
	}
}

// terraformType maps a pulumi-github type token to the resource it wraps:
// github:index/repositoryRuleset:RepositoryRuleset is github_repository_ruleset.
func terraformType(token string) (string, error) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || parts[0] != "github" || !strings.HasPrefix(parts[1], "index/") {
		return "", fmt.Errorf("not a pulumi-github resource type")
	}
	return "github_" + snake(strings.TrimPrefix(parts[1], "index/")), nil
}

// validate runs the provider's validation of one resource's configuration.
func validate(resources map[string]*schema.Resource, name string, inputs map[string]any) []string {
	res, ok := resources[name]
	if !ok {
		return []string{"the provider has no such resource"}
	}
	config, problems := toTerraform(res.SchemaMap(), inputs, "")
	for _, d := range res.Validate(terraform.NewResourceConfigRaw(config)) {
		problems = append(problems, fmt.Sprintf("%s %s (at %v)", d.Summary, d.Detail, d.AttributePath))
	}
	return problems
}

// toTerraform turns Pulumi inputs (camelCase; a block of at most one item
// flattened to an object; list blocks named in the plural) into the
// provider's configuration, by its schema. An input with no attribute is a
// problem.
func toTerraform(attrs map[string]*schema.Schema, inputs map[string]any, path string) (map[string]any, []string) {
	config := map[string]any{}
	var problems []string
	for key, value := range inputs {
		name, s := attribute(attrs, key)
		if s == nil {
			problems = append(problems, fmt.Sprintf("%s%s: no attribute of the provider takes this input", path, key))
			continue
		}
		block, isBlock := s.Elem.(*schema.Resource)
		if !isBlock {
			config[name] = value
			continue
		}
		items, isList := value.([]any)
		if !isList {
			items = []any{value}
		}
		var converted []any
		for i, item := range items {
			object, ok := item.(map[string]any)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s%s[%d]: a block takes an object, not %T", path, key, i, item))
				continue
			}
			c, p := toTerraform(block.SchemaMap(), object, fmt.Sprintf("%s%s[%d].", path, key, i))
			converted, problems = append(converted, c), append(problems, p...)
		}
		config[name] = converted
	}
	return config, problems
}

// attribute finds the attribute an input names: its snake_case form, or the
// singular the bridge made plural (required_check is requiredChecks).
func attribute(attrs map[string]*schema.Schema, key string) (string, *schema.Schema) {
	name := snake(key)
	candidates := []string{name, strings.TrimSuffix(name, "s"), strings.TrimSuffix(name, "es")}
	if stem, ok := strings.CutSuffix(name, "ies"); ok {
		candidates = append(candidates, stem+"y")
	}
	for _, candidate := range candidates {
		if s, ok := attrs[candidate]; ok {
			return candidate, s
		}
	}
	return name, nil
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
