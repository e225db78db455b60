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

// Args describe how one service repository is run on GitHub. Zero values take
// the defaults that Defaults documents: opinionated, secure, overridable.
type Args struct {
	// Name of the repository (in the provider's owner).
	Name string
	// Description, Homepage and Topics describe it.
	Description string
	Homepage    string
	Topics      []string
	// Visibility is private (default), internal or public.
	Visibility string
	// MergeStrategies allowed on pull requests: squash (default), merge, rebase.
	MergeStrategies []string
	// AdvancedSecurity says the plan includes GitHub Advanced Security: secret
	// scanning and push protection are then turned on for private repositories
	// too (public ones always get them).
	AdvancedSecurity bool
	// Protect guards the repository against deletion by Pulumi (prod). Even
	// unprotected, a destroy archives it rather than deleting it.
	Protect bool

	// Rules are the branch rules of the seed's branch table.
	Rules Rules

	// Secrets are repository-level Actions secrets: Pulumi secrets, by name.
	Secrets map[string]pulumi.StringInput
	// EncryptedSecrets are Actions secrets already encrypted for the
	// repository's public key (base64), passed through as they are.
	EncryptedSecrets map[string]string
	// Variables are repository-level Actions variables (not secret).
	Variables map[string]string
	// Environments are the deployment environments (dev, production).
	Environments []Environment
}

// Rules protect main, release/* and feature/*.
type Rules struct {
	// Mode is "rulesets" (default) or "branch-protection" (classic). Rulesets on
	// private repositories need a paid plan: GitHub answers 403 without one.
	Mode string
	// RequiredReviews on pull requests into main: 0 to 6 (default 1).
	RequiredReviews *int
	// RequireCodeOwnerReview on main (default false).
	RequireCodeOwnerReview bool
	// StatusChecks required on main and release/*: the CI job names.
	StatusChecks []string
	// Releasers may push to release/*: rulesets name them by ID, classic
	// branch protection by "org/team" or "/user".
	Releasers []Actor
	// BypassActors may bypass the rules on main (rulesets only).
	BypassActors []Actor
}

// Actor is a team, user, app or role, as the chosen rules mode names it.
type Actor struct {
	// ID and Type (Team, Integration, OrganizationAdmin, RepositoryRole,
	// DeployKey) for rulesets.
	ID   int
	Type string
	// Name is "org/team" or "/user" for classic branch protection.
	Name string
}

// Environment is a deployment environment with its protection and its own
// secrets and variables.
type Environment struct {
	Name string
	// ReviewerTeams and ReviewerUsers (numeric IDs) must approve a deployment.
	ReviewerTeams []int
	ReviewerUsers []int
	// WaitTimerMinutes before a deployment starts (0 to 43200).
	WaitTimerMinutes int
	// Branches and Tags that may deploy (patterns); none: any branch.
	Branches []string
	Tags     []string
	// Secrets (Pulumi secrets) and Variables of the environment.
	Secrets   map[string]pulumi.StringInput
	Variables map[string]string
}

// DefaultStatusChecks are the jobs of the delivery workflows that must pass.
var DefaultStatusChecks = []string{"lint", "unit", "e2e", "preview (dev)", "preview (prod)"}

// Defaults returns a copy with every zero value replaced by its default.
func (a Args) Defaults() Args {
	if a.Visibility == "" {
		a.Visibility = "private"
	}
	if len(a.MergeStrategies) == 0 {
		a.MergeStrategies = []string{"squash"}
	}
	if a.Rules.Mode == "" {
		a.Rules.Mode = "rulesets"
	}
	if a.Rules.RequiredReviews == nil {
		one := 1
		a.Rules.RequiredReviews = &one
	}
	if a.Rules.StatusChecks == nil {
		a.Rules.StatusChecks = DefaultStatusChecks
	}
	return a
}

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

// Validate reports every problem with defaulted arguments at once.
func (a Args) Validate() error {
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
	for _, name := range slices.Sorted(maps.Keys(a.Secrets)) {
		if _, isOutput := a.Secrets[name].(pulumi.Output); !isOutput {
			p.Add("secrets."+name, validate.Verbatim("(plain value)"), "must be a Pulumi secret, e.g. from secret config")
		}
	}
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
		for _, name := range slices.Sorted(maps.Keys(e.Secrets)) {
			if _, isOutput := e.Secrets[name].(pulumi.Output); !isOutput {
				p.Add(path+".secrets."+name, validate.Verbatim("(plain value)"), "must be a Pulumi secret, e.g. from secret config")
			}
		}
	}
	return p.Err()
}

func (r Rules) validate(p *validate.Problems) {
	if r.Mode != "rulesets" && r.Mode != "branch-protection" {
		p.Add("rules.mode", r.Mode, "must be rulesets or branch-protection")
	}
	if n := *r.RequiredReviews; n < 0 || n > 6 {
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
