package stacks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/repository"
	"github.com/acme/platform/internal/configdecode"
	"github.com/acme/platform/internal/validate"
)

// GitHub is config key platform:github: the repositories a stack governs on
// GitHub, and the rules they share. Only a governance stack declares it, one
// without services or observability, so that the GitHub token and the
// repositories' secrets (the clusters' deploying credentials) sit in no
// config a workload stack's preview decrypts. A repository is governed by one
// stack of the project alone (the platform command checks the other stack
// files). Absent, the stack leaves GitHub alone (the local stack must: no
// GitHub plugin here).
type GitHub struct {
	// Owner is the organization or user that owns the repositories.
	Owner string `json:"owner"`
	// Plan is the owner's GitHub plan: free (default), pro, team or
	// enterprise. What a private repository may have depends on it.
	Plan string `json:"plan"`
	// TokenSecret is the secret config key holding the provider's token; empty:
	// the provider reads GITHUB_TOKEN from the environment.
	TokenSecret string `json:"tokenSecret,omitempty"`
	// Rules every repository gets (components/repository).
	Rules repository.Rules `json:"rules"`
	// Repositories are the repository component's arguments, one each.
	Repositories []repository.Args `json:"-"`
	// RepositoryList is the raw list, decoded item by item over the
	// environment's repository profile.
	RepositoryList json.RawMessage `json:"repositories"`
}

// decodeGitHub reads platform:github over the environment's profiles.
func decodeGitHub(raw map[string]Value, environment string, problems *validate.Problems) *GitHub {
	profile := repository.Profile(environment)
	g := &GitHub{Rules: profile.Rules, Plan: profile.Plan}
	decode(raw, "github", g, problems)
	if len(g.RepositoryList) > 0 {
		repos, p := configdecode.DecodeList(key("github.repositories"), string(g.RepositoryList), func() repository.Args {
			return repository.Profile(environment)
		})
		g.Repositories = repos
		*problems = append(*problems, p...)
	}
	return g
}

// repositoryArgs are one repository's arguments with what the stack shares
// and the program fills: the rules, the plan and the secrets' values.
func (c *Config) repositoryArgs(r repository.Args) repository.Args {
	g := c.GitHub
	r.Rules, r.Plan = g.Rules, g.Plan
	return r.WithSecrets(c.lookup)
}

// Governs says whether the stack is a governance stack: it declares
// repositories (platform:github) and runs nothing on a cluster.
func (c *Config) Governs() bool {
	return c.GitHub != nil && len(c.Services) == 0 && c.Observability == nil
}

func validateGitHub(c *Config, problems *validate.Problems) {
	g := c.GitHub
	if g == nil {
		return
	}
	if !c.Governs() && c.Environment != Local {
		problems.Add(key("github"), validate.Verbatim("{…}"), "belongs to a governance stack of its own, without services or observability: "+
			"its config holds the GitHub token and the secrets its repositories get (the clusters' deploying credentials), "+
			"which no preview of a stack that deploys workloads may decrypt")
	}
	if c.Environment == Local {
		problems.Add(key("github"), validate.Verbatim("{…}"), "is not available to the local stack (no GitHub provider plugin here): leave it out")
		return
	}
	if g.Owner == "" {
		problems.Add(key("github.owner"), g.Owner, "is required: the organization or user owning the repositories")
	}
	checkList("github.repositories", "repository", g.Repositories, func(r repository.Args) string { return r.Name }, problems)
	for i, r := range g.Repositories {
		var own validate.Problems
		for _, q := range c.repositoryArgs(r).Validate() {
			if isShared(q.Path) {
				if i == 0 { // the same for every repository: reported once, where the config holds it
					problems.Nest(key("github"), validate.Problems{q})
				}
				continue
			}
			own = append(own, q)
		}
		problems.Nest(fmt.Sprintf("%s[%d]", key("github.repositories"), i), own)
	}
}

// isShared says whether a repository's argument comes from a key of
// platform:github that every repository shares (rules, plan). A problem of
// the plan "plan" is the plan's own; one that only names the plan in its
// message (a private repository's needs) stays the repository's.
func isShared(path string) bool { return strings.HasPrefix(path, "rules") || path == "plan" }

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
