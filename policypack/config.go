package policypack

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// Config is a stack's pack config as the engine reads a --policy-pack-config
// file of version 2 (pkg/resource/analyzer/config.go and exceptions.go at
// the pinned CLI, v3.274.1): each rule's level and settings, and the
// exceptions, each a reason and the rules and resource URNs it excepts. The
// engine does not fail a run on a mandatory violation an exception matches;
// it reports it with the exception's ID and reason.
type Config struct {
	Version    int                  `json:"version"`
	Policies   map[string]any       `json:"policies"`
	Exceptions map[string]Exception `json:"exceptions"`
}

// Exception excepts the violations of some rules on some resources.
type Exception struct {
	Reason string  `json:"reason"`
	Match  []Match `json:"match"`
}

// Match names rules and the URNs of the resources their violations are
// excepted on.
type Match struct {
	Policies []string `json:"policies"`
	Targets  []string `json:"targets"`
}

// LoadConfig reads a stack's pack config; a missing file is the defaults.
func LoadConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.Version != 2 {
		return c, fmt.Errorf("%s: version: %d: must be 2 (policies and exceptions, the engine's format)", path, c.Version)
	}
	return c, nil
}

// Rules are the config's rule settings by rule name: a level, or an object
// of an optional enforcementLevel and the rule's settings.
func (c Config) Rules() (map[string]RuleConfig, error) {
	out := map[string]RuleConfig{}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(c.Policies)) {
		switch v := c.Policies[name].(type) {
		case string:
			out[name] = RuleConfig{Level: Level(v)}
		case map[string]any:
			settings := Settings(maps.Clone(v))
			level, _ := settings["enforcementLevel"].(string)
			delete(settings, "enforcementLevel")
			out[name] = RuleConfig{Level: Level(level), Settings: settings}
		default:
			problems = append(problems, fmt.Sprintf("policies.%s: must be a level or an object of enforcementLevel and settings", name))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

// Excepted is the ID of the exception that excepts rule's violation on urn,
// or "".
func (c Config) Excepted(rule, urn string) string {
	for _, id := range slices.Sorted(maps.Keys(c.Exceptions)) {
		for _, m := range c.Exceptions[id].Match {
			if slices.Contains(m.Policies, rule) && slices.Contains(m.Targets, urn) {
				return id
			}
		}
	}
	return ""
}

// Load is the pack with the stack's config in path applied (the defaults
// when there is no such file), and the config.
func Load(path string) (*Pack, Config, error) {
	config, err := LoadConfig(path)
	if err != nil {
		return nil, config, err
	}
	rules, err := config.Rules()
	if err != nil {
		return nil, config, fmt.Errorf("%s: %w", path, err)
	}
	pack, err := New(rules)
	if err != nil {
		return nil, config, fmt.Errorf("%s: %w", path, err)
	}
	return pack, config, nil
}
