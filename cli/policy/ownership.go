package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"gopkg.in/yaml.v3"

	"github.com/acme/platform/internal/validate"
	"github.com/acme/platform/stacks"
)

// CheckOwnership refuses a stack that declares a repository another stack
// file of the project declares too: both would create it (the second fails,
// 422), or, imported twice, overwrite each other's settings on every run,
// and a destroy of one would archive the repository the other governs.
func CheckOwnership(config auto.ConfigMap, projectDir, stack string) error {
	value, ok := config[stacks.Namespace+":github"]
	if !ok {
		return nil
	}
	var own repositories
	if err := yaml.Unmarshal([]byte(value.Value), &own); err != nil {
		return nil // the program reports the config's problems, by key
	}
	governed, err := governedElsewhere(projectDir, stack)
	if err != nil {
		return fmt.Errorf("%s:github cannot be checked against the project's other stacks: %w", stacks.Namespace, err)
	}
	var problems validate.Problems
	for i, r := range own.Repositories {
		if other, ok := governed[strings.ToLower(own.Owner+"/"+r.Name)]; ok {
			problems.Add(fmt.Sprintf("%s:github.repositories[%d].name", stacks.Namespace, i), r.Name,
				fmt.Sprintf("is governed by stack %s already (Pulumi.%s.yaml): a repository has one governing stack; remove it from one of the two", other, other))
		}
	}
	return problems.Err()
}

// repositories are what platform:github says of its repositories' names.
type repositories struct {
	Owner        string `yaml:"owner"`
	Repositories []struct {
		Name string `yaml:"name"`
	} `yaml:"repositories"`
}

// governedElsewhere reads the repositories (owner/name, lower-case) that the
// project's other stack files declare, by the stack that declares them.
func governedElsewhere(projectDir, stack string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(projectDir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	governed := map[string]string{}
	for _, file := range files {
		other := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), ".yaml")
		if other == stack {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var stackFile struct {
			Config map[string]yaml.Node `yaml:"config"`
		}
		if err := yaml.Unmarshal(data, &stackFile); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		node, ok := stackFile.Config[stacks.Namespace+":github"]
		if !ok {
			continue
		}
		var g repositories
		if err := node.Decode(&g); err != nil {
			return nil, fmt.Errorf("%s: %s:github: %w", filepath.Base(file), stacks.Namespace, err)
		}
		for _, r := range g.Repositories {
			governed[strings.ToLower(g.Owner+"/"+r.Name)] = other
		}
	}
	return governed, nil
}
