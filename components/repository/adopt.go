package repository

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// adopted is what GitHub already holds of a repository being adopted
// (Args.Import), looked up so that its first up imports what exists and
// creates the rest (terraform-provider-github v6.11.1, what pulumi-github
// v6.12.2 wraps):
//   - a variable's create is a POST (CreateRepoVariable, CreateEnvVariable:
//     resource_github_actions_variable.go, ..._environment_variable.go),
//     which GitHub answers with 409 for one that exists: those are imported;
//   - an environment's create is GitHub's upsert (PUT, CreateUpdateEnvironment:
//     resource_github_repository_environment.go): it takes over one that
//     exists and makes one that does not, so none is imported (an import of
//     one that does not exist yet, such as production before the first
//     release, would fail);
//   - Actions secrets and team grants are PUTs too; rulesets are imported by
//     the IDs ImportRulesets names (GitHub has no lookup of them here).
type adopted struct {
	variables    map[string]bool            // the repository's variables
	envVariables map[string]map[string]bool // each existing environment's variables
}

// lookUpAdopted reads the repository's variables, environments and their
// variables with the component's provider; nothing when it is not adopted.
func lookUpAdopted(ctx *pulumi.Context, args Args, provider pulumi.ProviderResource) (adopted, error) {
	a := adopted{variables: map[string]bool{}, envVariables: map[string]map[string]bool{}}
	if !args.Import {
		return a, nil
	}
	with := pulumi.Provider(provider)
	vars, err := github.GetActionsVariables(ctx, &github.GetActionsVariablesArgs{Name: &args.Name}, with)
	if err != nil {
		return a, fmt.Errorf("looking up the variables of repository %s to adopt them: %w", args.Name, err)
	}
	for _, v := range vars.Variables {
		a.variables[v.Name] = true
	}
	envs, err := github.GetRepositoryEnvironments(ctx, &github.GetRepositoryEnvironmentsArgs{Repository: args.Name}, with)
	if err != nil {
		return a, fmt.Errorf("looking up the environments of repository %s to adopt them: %w", args.Name, err)
	}
	for _, e := range envs.Environments {
		vars, err := github.GetActionsEnvironmentVariables(ctx, &github.GetActionsEnvironmentVariablesArgs{Name: &args.Name, Environment: e.Name}, with)
		if err != nil {
			return a, fmt.Errorf("looking up the variables of environment %s of repository %s to adopt them: %w", e.Name, args.Name, err)
		}
		a.envVariables[e.Name] = map[string]bool{}
		for _, v := range vars.Variables {
			a.envVariables[e.Name][v.Name] = true
		}
	}
	return a, nil
}

// variable is the option that imports the repository variable, if it exists.
func (a adopted) variable(repo, name string) []pulumi.ResourceOption {
	if !a.variables[name] {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Import(pulumi.ID(repo + ":" + name))}
}

// envVariable is the option that imports the environment's variable, if it exists.
func (a adopted) envVariable(repo, env, name string) []pulumi.ResourceOption {
	if !a.envVariables[env][name] {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Import(pulumi.ID(repo + ":" + escapeIDPart(env) + ":" + name))}
}

// escapeIDPart escapes the ID separator in a part of an import ID, as the
// provider does (util.go escapeIDPart: ":" becomes "??").
func escapeIDPart(part string) string { return strings.ReplaceAll(part, ":", "??") }
