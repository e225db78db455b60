package stacks

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// serviceKeys are the keys of an entry of platform:services, derived from
// Service (the workload's Args and the image's Source): their JSON names.
func serviceKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, serviceKeys(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// The lists of service keys written for people (Pulumi.yaml's description of
// platform:services, the README's onboarding example) name every key a
// service takes: a key added to the Args and not to them fails here.
func TestServiceKeysAreDocumented(t *testing.T) {
	keys := serviceKeys(reflect.TypeFor[Service]())
	if len(keys) < 15 {
		t.Fatalf("found %d service keys (%v): the derivation is broken", len(keys), keys)
	}
	var project struct {
		Config struct {
			Services struct {
				Description string `yaml:"description"`
			} `yaml:"services"`
		} `yaml:"config"`
	}
	data, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &project); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, onboarding, _ := strings.Cut(string(readme), "A service owner adds an entry to `platform:services`")
	onboarding, _, _ = strings.Cut(onboarding, "```\n\n")
	for where, text := range map[string]string{
		"Pulumi.yaml's description of config key services": project.Config.Services.Description,
		"the README's onboarding example":                  onboarding,
	} {
		if text == "" {
			t.Errorf("%s: not found", where)
			continue
		}
		for _, key := range keys {
			if !regexp.MustCompile(`\b` + key + `\b`).MatchString(text) {
				t.Errorf("%s does not name the service key %q", where, key)
			}
		}
	}
}
