package stacks

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/repository"
	"github.com/acme/platform/internal/validate"
)

// GitHub is config key platform:github: the service repositories a stack
// governs on GitHub, and the rules and environments they share. Absent, the
// stack leaves GitHub alone (the local stack must: no GitHub plugin here).
type GitHub struct {
	// Owner is the organization or user that owns the repositories.
	Owner string `json:"owner"`
	// TokenSecret is the secret config key holding the provider's token; empty:
	// the provider reads GITHUB_TOKEN from the environment.
	TokenSecret  string              `json:"tokenSecret,omitempty"`
	Rules        *GitHubRules        `json:"rules,omitempty"`
	Environments []GitHubEnvironment `json:"environments,omitempty"`
	Repositories []GitHubRepository  `json:"repositories"`
}

// GitHubRules are the branch rules every repository gets (repository.Rules).
type GitHubRules struct {
	Mode                   string        `json:"mode,omitempty"`
	RequiredReviews        *int          `json:"requiredReviews,omitempty"`
	RequireCodeOwnerReview bool          `json:"requireCodeOwnerReview,omitempty"`
	StatusChecks           []string      `json:"statusChecks,omitempty"`
	Releasers              []GitHubActor `json:"releasers,omitempty"`
	BypassActors           []GitHubActor `json:"bypassActors,omitempty"`
}

// GitHubActor names a team, user, app or role (repository.Actor).
type GitHubActor struct {
	ID   int    `json:"id,omitempty"`
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
}

// GitHubEnvironment is a deployment environment every repository gets.
// Secrets map secret names to secret config keys of this project.
type GitHubEnvironment struct {
	Name             string            `json:"name"`
	ReviewerTeams    []int             `json:"reviewerTeams,omitempty"`
	ReviewerUsers    []int             `json:"reviewerUsers,omitempty"`
	WaitTimerMinutes int               `json:"waitTimerMinutes,omitempty"`
	Branches         []string          `json:"branches,omitempty"`
	Tags             []string          `json:"tags,omitempty"`
	Secrets          map[string]string `json:"secrets,omitempty"`
	Variables        map[string]string `json:"variables,omitempty"`
}

// GitHubRepository is one service repository. Secrets map Actions secret
// names to secret config keys; EncryptedSecrets hold values already sealed
// for the repository's public key.
type GitHubRepository struct {
	Name             string            `json:"name"`
	Description      string            `json:"description,omitempty"`
	Homepage         string            `json:"homepage,omitempty"`
	Topics           []string          `json:"topics,omitempty"`
	Visibility       string            `json:"visibility,omitempty"`
	MergeStrategies  []string          `json:"mergeStrategies,omitempty"`
	AdvancedSecurity bool              `json:"advancedSecurity,omitempty"`
	Secrets          map[string]string `json:"secrets,omitempty"`
	EncryptedSecrets map[string]string `json:"encryptedSecrets,omitempty"`
	Variables        map[string]string `json:"variables,omitempty"`
}

// secretRefs lists every secret config key the GitHub config refers to, with
// the key path that refers to it.
func (g *GitHub) secretRefs() map[string]string {
	refs := map[string]string{}
	if g == nil {
		return refs
	}
	if g.TokenSecret != "" {
		refs[key("github.tokenSecret")] = g.TokenSecret
	}
	for i, r := range g.Repositories {
		for name, ref := range r.Secrets {
			refs[fmt.Sprintf("%s[%d].secrets.%s", key("github.repositories"), i, name)] = ref
		}
	}
	for i, e := range g.Environments {
		for name, ref := range e.Secrets {
			refs[fmt.Sprintf("%s[%d].secrets.%s", key("github.environments"), i, name)] = ref
		}
	}
	return refs
}

// repositoryArgs turns one repository's config into the component's arguments.
func (c *Config) repositoryArgs(r GitHubRepository) repository.Args {
	g := c.GitHub
	args := repository.Args{
		Name: r.Name, Description: r.Description, Homepage: r.Homepage, Topics: r.Topics,
		Visibility: r.Visibility, MergeStrategies: r.MergeStrategies, AdvancedSecurity: r.AdvancedSecurity,
		Protect:          environments[c.Environment].protect,
		Secrets:          c.secretInputs(r.Secrets),
		EncryptedSecrets: r.EncryptedSecrets,
		Variables:        r.Variables,
	}
	if rules := g.Rules; rules != nil {
		args.Rules = repository.Rules{
			Mode: rules.Mode, RequiredReviews: rules.RequiredReviews, RequireCodeOwnerReview: rules.RequireCodeOwnerReview,
			StatusChecks: rules.StatusChecks, Releasers: actors(rules.Releasers), BypassActors: actors(rules.BypassActors),
		}
	}
	for _, e := range g.Environments {
		args.Environments = append(args.Environments, repository.Environment{
			Name: e.Name, ReviewerTeams: e.ReviewerTeams, ReviewerUsers: e.ReviewerUsers, WaitTimerMinutes: e.WaitTimerMinutes,
			Branches: e.Branches, Tags: e.Tags, Secrets: c.secretInputs(e.Secrets), Variables: e.Variables,
		})
	}
	return args.Defaults()
}

func actors(in []GitHubActor) []repository.Actor {
	var out []repository.Actor
	for _, a := range in {
		out = append(out, repository.Actor{ID: a.ID, Type: a.Type, Name: a.Name})
	}
	return out
}

func validateGitHub(c *Config, raw map[string]Value, problems *validate.Problems) {
	g := c.GitHub
	if g == nil {
		return
	}
	if c.Environment == Local {
		problems.Add(key("github"), validate.Verbatim("{…}"), "is not available to the local stack (no GitHub provider plugin here): leave it out")
		return
	}
	if g.Owner == "" {
		problems.Add(key("github.owner"), g.Owner, "is required: the organization or user owning the repositories")
	}
	if len(g.Repositories) == 0 {
		problems.Add(key("github.repositories"), validate.Verbatim("[]"), "must list at least one repository")
	}
	refs := g.secretRefs()
	for _, path := range slices.Sorted(maps.Keys(refs)) {
		checkSecretRef(path, refs[path], raw, problems)
	}
	var names []string
	for _, r := range g.Repositories {
		names = append(names, r.Name)
	}
	checkUniqueNames("github.repositories", names, problems)
	for i, r := range g.Repositories {
		problems.AddAll(fmt.Sprintf("%s[%d].", key("github.repositories"), i), c.repositoryArgs(r).Validate())
	}
}

// declareGitHub declares the stack's repositories with one explicit provider.
func declareGitHub(ctx *pulumi.Context, c *Config) (pulumi.Map, error) {
	if c.GitHub == nil {
		ctx.Log.Info("GitHub repository management is off for this stack (no platform:github config)", nil)
		return nil, nil
	}
	var token pulumi.StringInput
	if ref := c.GitHub.TokenSecret; ref != "" {
		token = c.secret(ref)
	}
	provider, err := repository.NewProvider(ctx, "github", c.GitHub.Owner, token)
	if err != nil {
		return nil, err
	}
	out := pulumi.Map{}
	for _, r := range c.GitHub.Repositories {
		repo, err := repository.NewRepository(ctx, r.Name, c.repositoryArgs(r), provider)
		if err != nil {
			return nil, err
		}
		out[r.Name] = repo.URL
	}
	return out, nil
}
