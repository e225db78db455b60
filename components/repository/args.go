package repository

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/validate"
)

// Args describe how one repository is run on GitHub. They are the schema of
// one entry of stack config platform:github.repositories (the JSON names are
// the keys); Rules and Plan come from the keys of the same name in
// platform:github, shared by every repository of the owner. Profile gives the
// defaults: opinionated, secure, overridable. Fields without a JSON name are
// filled by the program.
type Args struct {
	// Name of the repository (in the provider's owner).
	Name string `json:"name" package:",required"`
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
	// StatusChecks are this repository's own CI job names that must pass
	// before main or a release/* branch moves (none by default). Only GitHub
	// Actions can satisfy them: a commit status of the same name set by
	// anyone else does not count.
	StatusChecks []string `json:"statusChecks,omitempty"`
	// Environments are the repository's deployment environments, with their
	// protection and their own secrets.
	Environments []Environment `json:"environments,omitempty"`
	// Import adopts a repository that exists already instead of creating it:
	// the next up reads it, the variables it and its environments have (looked
	// up) and the rulesets ImportRulesets names into the state, and takes
	// over its environments (GitHub's create of one is an upsert). Pulumi's
	// import changes nothing, so the config must match what GitHub has (the
	// preview names every difference); align it, adopt, then change it in a
	// later up, and drop the setting.
	Import bool `json:"import,omitempty"`
	// ImportRulesets are the IDs of existing rulesets to adopt, by the names
	// this component gives them: main, release, release-checks, release-tags.
	ImportRulesets map[string]int `json:"importRulesets,omitempty"`

	// Rules are the branch rules of the seed's branch table.
	Rules Rules `json:"-" package:"rules"`
	// Plan is the owner's GitHub plan (config key platform:github.plan): what
	// a private repository may have depends on it.
	Plan string `json:"-" package:"plan"`
	// Protect guards the repository against deletion by Pulumi (prod's
	// profile). Even unprotected, a destroy archives it rather than deleting it.
	Protect bool `json:"-" package:"protect"`
	// SecretValues are the values of Secrets, by secret name; they stay
	// Pulumi secrets.
	SecretValues map[string]pulumi.StringInput `json:"-"`
}

// Rules protect main, release/* and feature/* with repository rulesets
// (config key platform:github.rules). Classic branch protection is not
// offered: on a private repository it needs the same paid plans as rulesets,
// and it cannot bind a status check to GitHub Actions.
type Rules struct {
	// RequiredReviews on pull requests into main: 0 to 6 (default 1).
	RequiredReviews int `json:"requiredReviews"`
	// RequireCodeOwnerReview on main (default false).
	RequireCodeOwnerReview bool `json:"requireCodeOwnerReview,omitempty"`
	// Releasers alone may create, push to and delete release/* branches and
	// create, move and delete v* tags (at least one: with none, nobody
	// could); teams among them get push access to the repository.
	Releasers []Actor `json:"releasers,omitempty"`
	// BypassActors may bypass the rules on main.
	BypassActors []Actor `json:"bypassActors,omitempty"`
}

// Actor is who may bypass a ruleset, as terraform-provider-github v6.11.1
// accepts it (github_repository_ruleset bypass_actors.actor_type): a team,
// an app (Integration), a repository role, the organization's admins or a
// deploy key.
type Actor struct {
	// ID is the team's, app's or role's numeric ID (none for
	// OrganizationAdmin and DeployKey).
	ID   int    `json:"id,omitempty"`
	Type string `json:"type"`
}

// Environment is a deployment environment with its protection and its own
// secrets and variables (an entry of a repository's environments).
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

// GitHubActionsAppID is the ID of the GitHub Actions app: a required check
// bound to it is satisfied only by a check run of a workflow ("Troubleshooting
// required status checks", GitHub Docs: the app ID of GitHub Actions is 15368).
const GitHubActionsAppID = 15368

// Plans are GitHub's plans, each including the one before it for what a
// private repository may have.
var Plans = []string{"free", "pro", "team", "enterprise"}

// Profile returns the defaults of a repository in an environment (prod's
// repositories are protected): the one table of them. Its slices are fresh:
// decoding config into a slice writes over the slice's own array.
func Profile(environment string) Args {
	return Args{
		Visibility:      "private",
		MergeStrategies: []string{"squash"},
		Rules:           Rules{RequiredReviews: 1},
		Plan:            "free",
		Protect:         environment == component.Prod,
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
	secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envName    = regexp.MustCompile(`^[^,;'"\\]{1,255}$`)
	// actorTypes: terraform-provider-github v6.11.1, resource_github_repository_ruleset.go,
	// bypass_actors.actor_type's validation.StringInSlice.
	actorTypes = []string{"RepositoryRole", "Team", "Integration", "OrganizationAdmin", "DeployKey"}
	// idlessActors have no ID: GitHub reads their actor_id back as null (for
	// OrganizationAdmin since 2025: terraform-provider-github issue #2536),
	// so none is sent (v6.11.1 sends none for 0, util_rules.go
	// expandBypassActors, and reads null back as 0: no diff). An ID given
	// would be read back as 0 on every refresh: a permanent diff.
	idlessActors = []string{"OrganizationAdmin", "DeployKey"}
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
	for i, c := range a.StatusChecks {
		if strings.TrimSpace(c) == "" {
			p.Add(fmt.Sprintf("statusChecks[%d]", i), c, "must name a status check (a job of the repository's workflows)")
		}
	}
	for name, id := range a.ImportRulesets {
		switch {
		case !slices.Contains(rulesetNames, name) || id < 1:
			p.Add("importRulesets."+name, id, "must map one of "+strings.Join(rulesetNames, ", ")+" to its ruleset's numeric ID")
		case name == "release-checks" && len(a.StatusChecks) == 0:
			p.Add("importRulesets."+name, id, "adopts a ruleset that exists only with statusChecks: set them, or adopt none")
		}
	}
	a.validatePlan(&p)
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
	if n := r.RequiredReviews; n < 0 || n > 6 {
		p.Add("rules.requiredReviews", n, "must be from 0 to 6")
	}
	if len(r.Releasers) == 0 {
		p.Add("rules.releasers", "[]", "must name at least one team, app or role: release/* branches and v* tags are theirs alone, so with none nobody could create them")
	}
	for key, actors := range map[string][]Actor{"rules.releasers": r.Releasers, "rules.bypassActors": r.BypassActors} {
		for i, actor := range actors {
			path := fmt.Sprintf("%s[%d]", key, i)
			switch idless := slices.Contains(idlessActors, actor.Type); {
			case actor.ID < 1 && !idless:
				p.Add(path+".id", actor.ID, "is required: the team's, app's or role's numeric ID")
			case actor.ID != 0 && idless:
				p.Add(path+".id", actor.ID, "must be left out: GitHub keeps no ID for "+actor.Type+" (it reads back as none, a diff on every run)")
			}
			if !slices.Contains(actorTypes, actor.Type) {
				p.Add(path+".type", actor.Type, "must be one of "+strings.Join(actorTypes, ", "))
			}
		}
	}
}

// validatePlan refuses what the owner's plan cannot have on a private or
// internal repository ("GitHub's plans" and "Managing environments for
// deployment", GitHub Docs): rulesets (every repository here has them) and
// environments need Pro, Team or Enterprise; environments' required
// reviewers and wait timers, and internal repositories, need Enterprise.
func (a Args) validatePlan(p *validate.Problems) {
	rank := slices.Index(Plans, a.Plan)
	if rank < 0 {
		p.Add("plan", a.Plan, "must be one of "+strings.Join(Plans, ", "))
		return
	}
	if a.Visibility == "public" {
		return // public repositories have all of it on every plan
	}
	where := "on a private repository"
	if a.Visibility == "internal" {
		where = "on an internal repository"
	}
	needs := func(key string, value any, what, plan string) {
		if rank < slices.Index(Plans, plan) {
			p.Add(key, value, fmt.Sprintf("%s %s needs plan %s or above (platform:github.plan is %s)", what, where, plan, a.Plan))
		}
	}
	needs("visibility", a.Visibility, "branch rulesets", "pro")
	if a.Visibility == "internal" {
		needs("visibility", a.Visibility, "internal visibility", "enterprise")
	}
	for i, e := range a.Environments {
		path := fmt.Sprintf("environments[%d]", i)
		needs(path+".name", e.Name, "an environment", "pro")
		if len(e.ReviewerTeams)+len(e.ReviewerUsers) > 0 {
			needs(path+".reviewerTeams", len(e.ReviewerTeams)+len(e.ReviewerUsers), "required reviewers", "enterprise")
		}
		if e.WaitTimerMinutes > 0 {
			needs(path+".waitTimerMinutes", e.WaitTimerMinutes, "a wait timer", "enterprise")
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

// WithSecrets fills the values of the keys that Secrets and each
// environment's Secrets name.
func (a Args) WithSecrets(lookup component.SecretLookup) Args {
	a.SecretValues = component.SecretValues(lookup, "secrets", a.Secrets)
	a.Environments = slices.Clone(a.Environments)
	for i, e := range a.Environments {
		a.Environments[i].SecretValues = component.SecretValues(lookup, fmt.Sprintf("environments[%d].secrets", i), e.Secrets)
	}
	return a
}
