package repository

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/validate"
)

// Args describe how one service repository is run on GitHub. They are the
// schema of one entry of stack config platform:github.repositories (the JSON
// names are the keys); Rules and Environments come from the keys of the same
// name in platform:github, shared by every repository. Profile gives the
// defaults: opinionated, secure, overridable. Fields without a JSON name are
// filled by the program.
type Args struct {
	// Name of the repository (in the provider's owner).
	Name string `json:"name"`
	// Description, Homepage and Topics describe it.
	Description string   `json:"description,omitempty"`
	Homepage    string   `json:"homepage,omitempty"`
	Topics      []string `json:"topics,omitempty"`
	// Visibility is private (default), internal or public.
	Visibility string `json:"visibility"`
	// MergeStrategies allowed on pull requests: squash (default), merge, rebase.
	MergeStrategies []string `json:"mergeStrategies"`
	// AdvancedSecurity says the plan includes GitHub Advanced Security: secret
	// scanning and push protection are then turned on for private repositories
	// too (public ones always get them).
	AdvancedSecurity bool `json:"advancedSecurity,omitempty"`
	// Secrets are repository-level Actions secrets: secret config keys of the
	// project, by secret name.
	Secrets map[string]string `json:"secrets,omitempty"`
	// EncryptedSecrets are Actions secrets already encrypted for the
	// repository's public key (base64), passed through as they are.
	EncryptedSecrets map[string]string `json:"encryptedSecrets,omitempty"`
	// Variables are repository-level Actions variables (not secret).
	Variables map[string]string `json:"variables,omitempty"`

	// Rules are the branch rules of the seed's branch table.
	Rules Rules `json:"-"`
	// Environments are the deployment environments (dev, production).
	Environments []Environment `json:"-"`
	// Protect guards the repository against deletion by Pulumi (prod's
	// profile). Even unprotected, a destroy archives it rather than deleting it.
	Protect bool `json:"-"`
	// SecretValues are the values of Secrets, by secret name; they stay
	// Pulumi secrets.
	SecretValues map[string]pulumi.StringInput `json:"-"`
}

// Rules protect main, release/* and feature/* (config key platform:github.rules).
type Rules struct {
	// Mode is "rulesets" (default) or "branch-protection" (classic). Rulesets on
	// private repositories need a paid plan: GitHub answers 403 without one.
	Mode string `json:"mode"`
	// RequiredReviews on pull requests into main: 0 to 6 (default 1).
	RequiredReviews int `json:"requiredReviews"`
	// RequireCodeOwnerReview on main (default false).
	RequireCodeOwnerReview bool `json:"requireCodeOwnerReview,omitempty"`
	// StatusChecks required on main and release/*: the CI job names.
	StatusChecks []string `json:"statusChecks"`
	// Releasers may push to release/*: rulesets name them by ID, classic
	// branch protection by "org/team" or "/user".
	Releasers []Actor `json:"releasers,omitempty"`
	// BypassActors may bypass the rules on main (rulesets only).
	BypassActors []Actor `json:"bypassActors,omitempty"`
}

// Actor is a team, user, app or role, as the chosen rules mode names it.
type Actor struct {
	// ID and Type (Team, Integration, OrganizationAdmin, RepositoryRole,
	// DeployKey) for rulesets.
	ID   int    `json:"id,omitempty"`
	Type string `json:"type,omitempty"`
	// Name is "org/team" or "/user" for classic branch protection.
	Name string `json:"name,omitempty"`
}

// Environment is a deployment environment with its protection and its own
// secrets and variables (an entry of config key platform:github.environments).
type Environment struct {
	Name string `json:"name"`
	// ReviewerTeams and ReviewerUsers (numeric IDs) must approve a deployment.
	ReviewerTeams []int `json:"reviewerTeams,omitempty"`
	ReviewerUsers []int `json:"reviewerUsers,omitempty"`
	// WaitTimerMinutes before a deployment starts (0 to 43200).
	WaitTimerMinutes int `json:"waitTimerMinutes,omitempty"`
	// Branches and Tags that may deploy (patterns); none: any branch.
	Branches []string `json:"branches,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// Secrets are secret config keys of the project, by secret name;
	// Variables are plain.
	Secrets   map[string]string `json:"secrets,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
	// SecretValues are the values of Secrets, by secret name (the program fills them).
	SecretValues map[string]pulumi.StringInput `json:"-"`
}

// DefaultStatusChecks are the jobs of the delivery workflows that must pass.
var DefaultStatusChecks = []string{"lint", "unit", "e2e", "preview (dev)", "preview (prod)"}

// Profile returns the defaults of a repository in an environment (prod's
// repositories are protected): the one table of them. Its slices are fresh:
// decoding config into a slice writes over the slice's own array.
func Profile(environment string) Args {
	return Args{
		Visibility:      "private",
		MergeStrategies: []string{"squash"},
		Rules:           Rules{Mode: "rulesets", RequiredReviews: 1, StatusChecks: slices.Clone(DefaultStatusChecks)},
		Protect:         environment == "prod",
	}
}

// Defaults returns the arguments as they are: every default comes from Profile.
func (a Args) Defaults() Args { return a }

// NeedsProvider is true: the GitHub provider names the owner and the token.
func (Args) NeedsProvider() bool { return true }

var (
	repoName     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	topicPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,49}$`)
	// secretName is what GitHub accepts for Actions secrets and variables.
	secretName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envName      = regexp.MustCompile(`^[^,;'"\\]{1,255}$`)
	actorTypes   = []string{"Team", "Integration", "OrganizationAdmin", "RepositoryRole", "DeployKey"}
	strategies   = []string{"squash", "merge", "rebase"}
	visibilities = []string{"private", "internal", "public"}
)

// Validate reports every problem at once, at the paths of the config keys.
func (a Args) Validate() validate.Problems {
	var p validate.Problems
	if !repoName.MatchString(a.Name) || a.Name == "." || a.Name == ".." {
		p.Add("name", a.Name, "must be a repository name (letters, digits, '-', '_', '.'; at most 100)")
	}
	if !slices.Contains(visibilities, a.Visibility) {
		p.Add("visibility", a.Visibility, "must be private, internal or public")
	}
	for i, t := range a.Topics {
		if !topicPattern.MatchString(t) {
			p.Add(fmt.Sprintf("topics[%d]", i), t, "must be a topic: lower-case letters, digits and '-', at most 50")
		}
	}
	for i, s := range a.MergeStrategies {
		if !slices.Contains(strategies, s) {
			p.Add(fmt.Sprintf("mergeStrategies[%d]", i), s, "must be squash, merge or rebase")
		}
	}
	a.Rules.validate(&p)
	validateSecretNames("secrets", slices.Collect(maps.Keys(a.Secrets)), &p)
	validateSecretNames("encryptedSecrets", slices.Collect(maps.Keys(a.EncryptedSecrets)), &p)
	validateSecretNames("variables", slices.Collect(maps.Keys(a.Variables)), &p)
	validateSecretValues("secrets", a.Secrets, a.SecretValues, &p)
	seen := map[string]bool{}
	for i, e := range a.Environments {
		path := fmt.Sprintf("environments[%d]", i)
		if !envName.MatchString(e.Name) || seen[e.Name] {
			p.Add(path+".name", e.Name, "must be a unique environment name (no , ; ' \" or \\)")
		}
		seen[e.Name] = true
		if e.WaitTimerMinutes < 0 || e.WaitTimerMinutes > 43200 {
			p.Add(path+".waitTimerMinutes", e.WaitTimerMinutes, "must be from 0 to 43200 (30 days)")
		}
		if len(e.ReviewerTeams)+len(e.ReviewerUsers) > 6 {
			p.Add(path+".reviewers", len(e.ReviewerTeams)+len(e.ReviewerUsers), "must be at most 6 teams and users")
		}
		for j, pattern := range append(append([]string{}, e.Branches...), e.Tags...) {
			if !validPattern(pattern) {
				p.Add(fmt.Sprintf("%s.deploymentPatterns[%d]", path, j), pattern, "must be a branch or tag pattern such as main or v*")
			}
		}
		validateSecretNames(path+".secrets", slices.Collect(maps.Keys(e.Secrets)), &p)
		validateSecretNames(path+".variables", slices.Collect(maps.Keys(e.Variables)), &p)
		validateSecretValues(path+".secrets", e.Secrets, e.SecretValues, &p)
	}
	return p
}

// secretKey is a secret config key of the project (its name after "platform:").
var secretKey = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// validateSecretValues checks that every secret names a secret config key
// and, once the program filled the values, has one (and nothing else does).
func validateSecretValues(path string, keys map[string]string, values map[string]pulumi.StringInput, p *validate.Problems) {
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		if !secretKey.MatchString(keys[name]) {
			p.Add(path+"."+name, keys[name], "must name a secret config key of the project, in camelCase")
		}
		if _, ok := values[name]; values != nil && !ok {
			p.Add(path+"."+name, keys[name], "has no value: the program did not fill it")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if _, ok := keys[name]; !ok {
			p.Add(path, name, "lacks the secret that a value is given for")
		}
	}
}

func (r Rules) validate(p *validate.Problems) {
	if r.Mode != "rulesets" && r.Mode != "branch-protection" {
		p.Add("rules.mode", r.Mode, "must be rulesets or branch-protection")
	}
	if n := r.RequiredReviews; n < 0 || n > 6 {
		p.Add("rules.requiredReviews", n, "must be from 0 to 6")
	}
	for i, c := range r.StatusChecks {
		if strings.TrimSpace(c) == "" {
			p.Add(fmt.Sprintf("rules.statusChecks[%d]", i), c, "must name a status check (a CI job)")
		}
	}
	for key, actors := range map[string][]Actor{"rules.releasers": r.Releasers, "rules.bypassActors": r.BypassActors} {
		for i, actor := range actors {
			path := fmt.Sprintf("%s[%d]", key, i)
			switch r.Mode {
			case "rulesets":
				if actor.ID < 1 && actor.Type != "OrganizationAdmin" {
					p.Add(path+".id", actor.ID, "is required with rulesets: the team's, app's or role's numeric ID")
				}
				if !slices.Contains(actorTypes, actor.Type) {
					p.Add(path+".type", actor.Type, "must be one of "+strings.Join(actorTypes, ", "))
				}
			case "branch-protection":
				if key == "rules.bypassActors" {
					p.Add(path, validate.Verbatim("{…}"), "bypass actors need rulesets; classic branch protection has none")
				} else if !strings.Contains(actor.Name, "/") {
					p.Add(path+".name", actor.Name, `is required with branch protection: "org/team" or "/user"`)
				}
			}
		}
	}
}

func validateSecretNames(key string, names []string, p *validate.Problems) {
	slices.Sort(names)
	for _, name := range names {
		if !secretName.MatchString(name) || strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
			p.Add(key+"."+name, name, "must match [A-Za-z_][A-Za-z0-9_]* and not start with GITHUB_")
		}
	}
}

// validPattern accepts fnmatch-style ref patterns: no spaces, no "..", no
// control characters, none of ~^:?[\ outside a bracket expression.
func validPattern(pattern string) bool {
	if pattern == "" || strings.Contains(pattern, "..") || strings.ContainsAny(pattern, " ~^:\\") ||
		strings.HasPrefix(pattern, "/") || strings.HasSuffix(pattern, "/") || strings.HasSuffix(pattern, ".lock") {
		return false
	}
	for _, r := range pattern {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
