package repository

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/pulumitest"
)

const (
	repoType     = "github:index/repository:Repository"
	rulesetType  = "github:index/repositoryRuleset:RepositoryRuleset"
	teamType     = "github:index/teamRepository:TeamRepository"
	secretType   = "github:index/actionsSecret:ActionsSecret"
	variableType = "github:index/actionsVariable:ActionsVariable"
	envType      = "github:index/repositoryEnvironment:RepositoryEnvironment"
	policyType   = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
	envSecret    = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
)

func secret(v string) pulumi.StringInput {
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
}

// baseArgs is a prod repository as a stack declares it: prod's profile, the
// config's settings, and the secrets' values the program fills.
func baseArgs() Args {
	a := Profile("prod")
	a.Name, a.Description, a.Topics = "greeter", "The greeter service", []string{"go", "microservice"}
	a.Plan = "enterprise"
	a.Rules.Releasers = []Actor{{ID: 42, Type: "Team"}}
	a.Rules.BypassActors = []Actor{{ID: 7, Type: "Integration"}}
	a.StatusChecks = []string{"test", "build (linux)"}
	a.Secrets = map[string]string{"REGISTRY_TOKEN": "registryToken"}
	a.SecretValues = map[string]pulumi.StringInput{"REGISTRY_TOKEN": pulumi.String("ghp-registry")}
	a.Variables = map[string]string{"IMAGE_NAME": "ghcr.io/acme/greeter"}
	a.Environments = []Environment{
		{Name: "dev"},
		{Name: "production", ReviewerTeams: []int{42, 43}, WaitTimerMinutes: 10, Branches: []string{"main"}, Tags: []string{"v*"},
			Secrets:      map[string]string{"DEPLOY_TOKEN": "deployToken"},
			SecretValues: map[string]pulumi.StringInput{"DEPLOY_TOKEN": pulumi.String("deploy-secret")}},
	}
	return a
}

func deploy(t *testing.T, args Args) (*pulumitest.Graph, error) {
	t.Helper()
	return pulumitest.Component(t, "prod", func(ctx *pulumi.Context) (*github.Provider, error) {
		return github.NewProvider(ctx, "github", &github.ProviderArgs{Owner: pulumi.String("acme"), Token: secret("ghp-provider")})
	}, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		_, err := NewRepository(ctx, "greeter", args, provider)
		return err
	})
}

func mustDeploy(t *testing.T, args Args) *pulumitest.Graph {
	t.Helper()
	g, err := deploy(t, args)
	return pulumitest.Must(t, g, err)
}

func TestRepositorySettings(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	repo := g.One(t, repoType, "greeter")
	for path, want := range map[string]any{
		"visibility": "private", "allowSquashMerge": true, "allowMergeCommit": false, "allowRebaseMerge": false,
		"deleteBranchOnMerge": true, "allowAutoMerge": true, "vulnerabilityAlerts": true, "archiveOnDestroy": true,
		"topics.0": "go",
	} {
		if got := repo.MustInput(t, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if _, ok := repo.Input("securityAndAnalysis"); ok {
		t.Error("secret scanning requested on a private repository without Advanced Security: GitHub would refuse")
	}
	if !repo.Protect {
		t.Error("a prod repository is not protected")
	}
	dev := baseArgs()
	dev.Protect = Profile("dev").Protect
	if mustDeploy(t, dev).One(t, repoType, "greeter").Protect {
		t.Error("a dev repository is protected")
	}
	component := g.One(t, TypeToken, "greeter")
	for _, r := range g.Resources {
		if r.Custom && r.Type != "pulumi:providers:github" {
			if r.Parent != component.URN || !strings.Contains(r.Provider, "pulumi:providers:github::github") {
				t.Errorf("%s %s: parent %q, provider %q", r.Type, r.Name, r.Parent, r.Provider)
			}
			if r.Type != repoType && r.DeletedWith != repo.URN {
				t.Errorf("%s %s is not deleted with the repository", r.Type, r.Name)
			}
		}
	}
}

func TestPublicOrAdvancedSecurityGetsSecretScanning(t *testing.T) {
	for _, mutate := range []func(*Args){func(a *Args) { a.Visibility = "public" }, func(a *Args) { a.AdvancedSecurity = true }} {
		args := baseArgs()
		mutate(&args)
		repo := mustDeploy(t, args).One(t, repoType, "greeter")
		for _, path := range []string{"securityAndAnalysis.secretScanning.status", "securityAndAnalysis.secretScanningPushProtection.status"} {
			if got := repo.MustInput(t, path); got != "enabled" {
				t.Errorf("%s = %v", path, got)
			}
		}
	}
}

// The seed's branch table, as rulesets: main's, release/*'s that only the
// releasers bypass, release/*'s checks that nobody bypasses, and the v* tags
// (what deploys prod) that only the releasers create, move or delete; every
// check bound to GitHub Actions.
func TestRulesetsFollowTheBranchTable(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	if n := len(g.OfType(rulesetType)); n != 4 {
		t.Fatalf("%d rulesets, want main, release, release-checks and release-tags (feature/* stays open)", n)
	}
	main := g.One(t, rulesetType, "greeter-main")
	for path, want := range map[string]any{
		"conditions.refName.includes.0":                             "~DEFAULT_BRANCH",
		"enforcement":                                               "active",
		"rules.pullRequest.requiredApprovingReviewCount":            1.0,
		"rules.pullRequest.dismissStaleReviewsOnPush":               true,
		"rules.pullRequest.requireCodeOwnerReview":                  false,
		"rules.pullRequest.requiredReviewThreadResolution":          true,
		"rules.pullRequest.requireLastPushApproval":                 true,
		"rules.requiredLinearHistory":                               true,
		"rules.nonFastForward":                                      true,
		"rules.deletion":                                            true,
		"rules.requiredStatusChecks.requiredChecks.0.context":       "test",
		"rules.requiredStatusChecks.requiredChecks.0.integrationId": float64(GitHubActionsAppID),
		"rules.requiredStatusChecks.requiredChecks.1.context":       "build (linux)",
		"bypassActors.0.actorId":                                    7.0,
		"bypassActors.0.actorType":                                  "Integration",
	} {
		if got := main.MustInput(t, path); got != want {
			t.Errorf("main %s = %v, want %v", path, got, want)
		}
	}
	release := g.One(t, rulesetType, "greeter-release")
	for path, want := range map[string]any{
		"conditions.refName.includes.0": "refs/heads/release/*",
		"rules.creation":                true,
		"rules.update":                  true,
		"rules.deletion":                true,
		"bypassActors.0.actorId":        42.0,
		"bypassActors.0.actorType":      "Team",
		"bypassActors.0.bypassMode":     "always",
	} {
		if got := release.MustInput(t, path); got != want {
			t.Errorf("release %s = %v, want %v", path, got, want)
		}
	}
	if _, ok := release.Input("rules.requiredStatusChecks"); ok {
		t.Error("the checks sit in the ruleset releasers bypass: they would skip them")
	}
	if _, ok := release.Input("rules.pullRequest"); ok {
		t.Error("release/* requires pull requests: the table asks only for passing checks")
	}
	tags := g.One(t, rulesetType, "greeter-release-tags")
	for path, want := range map[string]any{
		"target":                        "tag",
		"conditions.refName.includes.0": "refs/tags/v*",
		"rules.creation":                true,
		"rules.update":                  true,
		"rules.deletion":                true,
		"bypassActors.0.actorId":        42.0,
		"bypassActors.0.actorType":      "Team",
	} {
		if got := tags.MustInput(t, path); got != want {
			t.Errorf("release-tags %s = %v, want %v", path, got, want)
		}
	}
	if actors := tags.MustInput(t, "bypassActors").([]any); len(actors) != 1 {
		t.Errorf("release tags bypassed by %v, want the releasers alone", actors)
	}
	checks := g.One(t, rulesetType, "greeter-release-checks")
	if got := checks.MustInput(t, "rules.requiredStatusChecks.requiredChecks.0.integrationId"); got != float64(GitHubActionsAppID) {
		t.Errorf("release checks bound to %v", got)
	}
	if actors, ok := checks.Input("bypassActors"); ok && len(actors.([]any)) > 0 {
		t.Errorf("someone bypasses the release checks: %v", actors)
	}

	args := baseArgs()
	args.StatusChecks = nil
	g = mustDeploy(t, args)
	if _, ok := g.One(t, rulesetType, "greeter-main").Input("rules.requiredStatusChecks"); ok {
		t.Error("a repository without checks requires some")
	}
	if n := len(g.OfType(rulesetType)); n != 3 {
		t.Errorf("%d rulesets without checks, want main, release and release-tags", n)
	}
}

// Releaser teams may push; reviewer teams may read; no other team is named.
func TestTeamsGetAccess(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	got := map[string]string{}
	for _, r := range g.OfType(teamType) {
		got[r.MustInput(t, "teamId").(string)] = r.MustInput(t, "permission").(string)
	}
	if len(got) != 2 || got["42"] != "push" || got["43"] != "pull" {
		t.Errorf("team access %v, want 42 push (releasers), 43 pull (a reviewer)", got)
	}
}

// Adopting an existing repository imports it, the rulesets named by ID and
// the variables GitHub answers it has (whose create would be refused), and
// creates nothing that exists: no first commit. Its environments are never
// imported, whether they exist (dev, which earlier workflow runs made) or
// not (production): their create is GitHub's upsert.
func TestImportAdoptsWithoutCreating(t *testing.T) {
	lookups := 0
	for token, answer := range map[string]map[string]any{
		// What GitHub holds before the first up: IMAGE_NAME and dev, whose
		// variable DEV_ONLY exists; OLD is in no config.
		"github:index/getActionsVariables:getActionsVariables": {"variables": []any{
			map[string]any{"name": "IMAGE_NAME", "value": "ghcr.io/acme/greeter"}, map[string]any{"name": "OLD", "value": "x"}}},
		"github:index/getRepositoryEnvironments:getRepositoryEnvironments":           {"environments": []any{map[string]any{"name": "dev", "nodeId": "E_1"}}},
		"github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables": {"variables": []any{map[string]any{"name": "DEV_ONLY", "value": "1"}}},
	} {
		t.Cleanup(pulumitest.Answer(token, func(args map[string]any) map[string]any {
			lookups++
			if token == "github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables" && args["environment"] != "dev" {
				t.Errorf("variables of environment %v looked up: only dev exists", args["environment"])
			}
			return answer
		}))
	}
	if mustDeploy(t, baseArgs()); lookups != 0 {
		t.Errorf("%d lookups for a repository this stack creates", lookups)
	}
	args := baseArgs()
	args.Import = true
	args.ImportRulesets = map[string]int{"main": 101}
	args.Environments[0].Variables = map[string]string{"DEV_ONLY": "1", "DEV_NEW": "2"}
	args.Environments[1].Variables = map[string]string{"DEV_ONLY": "p"}
	g := mustDeploy(t, args)
	repo := g.One(t, repoType, "greeter")
	if repo.ImportID != "greeter" {
		t.Errorf("repository import ID %q", repo.ImportID)
	}
	if _, ok := repo.Input("autoInit"); ok {
		t.Error("an adopted repository is given a first commit")
	}
	for _, env := range g.OfType(envType) {
		if env.ImportID != "" {
			t.Errorf("environment %s imported as %q: its create is an upsert, and an import of one not there fails", env.Name, env.ImportID)
		}
	}
	for name, want := range map[string]string{
		"greeter-variable-IMAGE_NAME":          "greeter:IMAGE_NAME",
		"greeter-dev-variable-DEV_ONLY":        "greeter:dev:DEV_ONLY",
		"greeter-dev-variable-DEV_NEW":         "",
		"greeter-production-variable-DEV_ONLY": "",
	} {
		var got *pulumitest.Resource
		for _, r := range g.Resources {
			if r.Name == name && strings.Contains(r.Type, "Variable") {
				got = &r
			}
		}
		if got == nil || got.ImportID != want {
			t.Errorf("variable %s: %+v, want import ID %q", name, got, want)
		}
	}
	if id := g.One(t, rulesetType, "greeter-main").ImportID; id != "greeter:101" {
		t.Errorf("ruleset import ID %q", id)
	}
	if id := g.One(t, rulesetType, "greeter-release").ImportID; id != "" {
		t.Errorf("a ruleset without an ID to adopt is imported as %q", id)
	}
	if _, ok := mustDeploy(t, baseArgs()).One(t, repoType, "greeter").Input("autoInit"); !ok {
		t.Error("a new repository gets no first commit: main would not exist for its ruleset")
	}
}

// A rotated secret is replaced by deleting the old one first: created first,
// the new one would be deleted with the old (same name) right after.
func TestSecretsAreDeletedBeforeReplaced(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	secrets := append(g.OfType(secretType), g.OfType(envSecret)...)
	if len(secrets) == 0 {
		t.Fatal("no secrets declared")
	}
	for _, r := range secrets {
		if !r.DeleteBeforeReplace {
			t.Errorf("%s %s is replaced create-first: a rotation would delete it", r.Type, r.Name)
		}
	}
}

func TestSecretsStaySecret(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	s := g.One(t, secretType, "greeter-secret-REGISTRY_TOKEN")
	if !s.Secret("plaintextValue") {
		t.Error("repository secret value is not a Pulumi secret in what the provider receives")
	}
	e := g.One(t, envSecret, "greeter-production-secret-DEPLOY_TOKEN")
	if !e.Secret("plaintextValue") || e.MustInput(t, "environment") != "production" {
		t.Error("environment secret not secret, or not in its environment")
	}
	v := g.One(t, variableType, "greeter-variable-IMAGE_NAME")
	if v.MustInput(t, "value") != "ghcr.io/acme/greeter" || v.Secret("value") {
		t.Error("variable wrong or needlessly secret")
	}
	p := g.One(t, "pulumi:providers:github", "github")
	if !p.Secret("token") {
		t.Error("provider token is not secret")
	}
	args := baseArgs()
	args.EncryptedSecrets = map[string]string{"SEALED": "c2VhbGVkLWJ5LWdpdGh1Yi1wdWJsaWMta2V5"}
	sealed := mustDeploy(t, args).One(t, secretType, "greeter-secret-SEALED")
	if sealed.MustInput(t, "encryptedValue") != "c2VhbGVkLWJ5LWdpdGh1Yi1wdWJsaWMta2V5" {
		t.Error("an already-encrypted value is not passed through")
	}
	if _, ok := sealed.Input("plaintextValue"); ok {
		t.Error("an encrypted secret also carries a plaintext value")
	}
}

func TestEnvironments(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	dev := g.One(t, envType, "greeter-dev")
	if _, ok := dev.Input("reviewers"); ok {
		t.Error("dev requires reviewers; it should be open")
	}
	prod := g.One(t, envType, "greeter-production")
	for path, want := range map[string]any{
		"reviewers.0.teams.0": 42.0, "waitTimer": 10.0, "preventSelfReview": true, "canAdminsBypass": false,
		"deploymentBranchPolicy.customBranchPolicies": true, "deploymentBranchPolicy.protectedBranches": false,
	} {
		if got := prod.MustInput(t, path); got != want {
			t.Errorf("production %s = %v, want %v", path, got, want)
		}
	}
	if got := g.One(t, policyType, "greeter-production-branch-0").MustInput(t, "branchPattern"); got != "main" {
		t.Errorf("branch policy %v", got)
	}
	if got := g.One(t, policyType, "greeter-production-tag-0").MustInput(t, "tagPattern"); got != "v*" {
		t.Errorf("tag policy %v", got)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"merge strategy", func(a *Args) { a.MergeStrategies = []string{"squash", "octopus"} }, `mergeStrategies[1]: "octopus": must be squash, merge or rebase`},
		{"too many reviews", func(a *Args) { a.Rules.RequiredReviews = 7 }, "rules.requiredReviews: 7: must be from 0 to 6"},
		{"negative reviews", func(a *Args) { a.Rules.RequiredReviews = -1 }, "rules.requiredReviews: -1: must be from 0 to 6"},
		{"empty status check", func(a *Args) { a.StatusChecks = []string{"lint", " "} }, `statusChecks[1]: " ": must name a status check`},
		{"bad branch pattern", func(a *Args) { a.Environments[1].Branches = []string{"main..x"} }, `environments[1].deploymentPatterns[0]: "main..x": must be a branch or tag pattern`},
		{"secret name", func(a *Args) { a.Secrets["1TOKEN"] = "token" }, `secrets.1TOKEN: "1TOKEN": must match [A-Za-z_][A-Za-z0-9_]* and not start with GITHUB_`},
		{"GITHUB_ prefix", func(a *Args) { a.Secrets["GITHUB_TOKEN"] = "token" }, `secrets.GITHUB_TOKEN: "GITHUB_TOKEN": must match`},
		{"secret without its value", func(a *Args) { a.Secrets["OTHER"] = "otherToken" }, `secrets.OTHER: "otherToken": has no value`},
		{"secret key that is no config key", func(a *Args) { a.Secrets["REGISTRY_TOKEN"] = "Registry-Token" }, `secrets.REGISTRY_TOKEN: "Registry-Token": must name a secret config key`},
		{"ruleset actor without id", func(a *Args) { a.Rules.Releasers = []Actor{{Type: "Team"}} }, "rules.releasers[0].id: 0: is required"},
		{"no releasers", func(a *Args) { a.Rules.Releasers = nil }, `rules.releasers: "[]": must name at least one team`},
		{"an ID for the organization's admins", func(a *Args) { a.Rules.BypassActors = []Actor{{ID: 1, Type: "OrganizationAdmin"}} }, `rules.bypassActors[0].id: 1: must be left out: GitHub keeps no ID for OrganizationAdmin`},
		{"an actor type v6.11.1 does not know", func(a *Args) { a.Rules.BypassActors = []Actor{{ID: 3, Type: "User"}} }, `rules.bypassActors[0].type: "User": must be one of RepositoryRole, Team, Integration, OrganizationAdmin, DeployKey`},
		{"unknown ruleset to import", func(a *Args) { a.ImportRulesets = map[string]int{"feature": 3} }, `importRulesets.feature: 3: must map one of main, release, release-checks`},
		{"checks ruleset to import without checks", func(a *Args) { a.StatusChecks, a.ImportRulesets = nil, map[string]int{"release-checks": 3} }, `importRulesets.release-checks: 3: adopts a ruleset that exists only with statusChecks`},
		{"plan", func(a *Args) { a.Plan = "gold" }, `plan: "gold": must be one of free, pro, team, enterprise`},
		{"rulesets on a free private repository", func(a *Args) { a.Plan = "free" }, `visibility: "private": branch rulesets on a private repository needs plan pro or above (platform:github.plan is free)`},
		{"environments on a free private repository", func(a *Args) { a.Plan = "free" }, `environments[0].name: "dev": an environment on a private repository needs plan pro or above`},
		{"reviewers below enterprise", func(a *Args) { a.Plan = "team" }, "environments[1].reviewerTeams: 2: required reviewers on a private repository needs plan enterprise or above (platform:github.plan is team)"},
		{"wait timer below enterprise", func(a *Args) { a.Plan = "team" }, "environments[1].waitTimerMinutes: 10: a wait timer on a private repository needs plan enterprise"},
		{"internal below enterprise", func(a *Args) { a.Plan, a.Visibility = "team", "internal" }, `visibility: "internal": internal visibility on an internal repository needs plan enterprise or above`},

		{"visibility", func(a *Args) { a.Visibility = "secret" }, `visibility: "secret": must be private, internal or public`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseArgs()
			tt.mutate(&args)
			_, err := deploy(t, args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// A public repository has rulesets and protected environments on every
// plan; a private one on the free plan has neither.
func TestPlanAllowsPublicRepositories(t *testing.T) {
	args := baseArgs()
	args.Plan, args.Visibility = "free", "public"
	if err := args.Validate().Err(); err != nil {
		t.Errorf("a public repository on the free plan: %v", err)
	}
}

// Config decoded over a profile writes into its slices: no two profiles may
// share one, or one stack's settings would become the next one's defaults.
func TestProfilesShareNoSlice(t *testing.T) {
	a := Profile("dev")
	a.MergeStrategies[0] = "changed"
	if b := Profile("dev"); b.MergeStrategies[0] == "changed" {
		t.Fatal("a profile's slice is shared")
	}
}

// everyOption is a repository that sets every argument: public (secret
// scanning), adopted with a ruleset, an already encrypted secret, reviewers
// of both kinds, environment variables, a role and the organization's
// admins among the bypass actors.
func everyOption() Args {
	a := baseArgs()
	a.Homepage, a.Visibility, a.AdvancedSecurity = "https://greeter.acme.example", "public", true
	a.MergeStrategies = []string{"squash", "merge", "rebase"}
	a.Import, a.ImportRulesets = true, map[string]int{"main": 101}
	a.EncryptedSecrets = map[string]string{"SEALED": "c2VhbGVkIGZvciB0aGUgcmVwb3NpdG9yeQ=="}
	a.Rules.RequiredReviews, a.Rules.RequireCodeOwnerReview = 2, true
	a.Rules.BypassActors = append(a.Rules.BypassActors, Actor{ID: 5, Type: "RepositoryRole"}, Actor{Type: "OrganizationAdmin"}, Actor{Type: "DeployKey"})
	a.Environments[1].ReviewerUsers = []int{1001}
	a.Environments[1].Variables = map[string]string{"REGION": "eu-central-1"}
	a.Environments = append(a.Environments, Environment{Name: "qa", Branches: []string{"release/*"}})
	return a
}

// What the component registers for prod's profile and for every option is
// recorded in testdata/, where terraform-provider-github's own validation
// judges it (testbed/conformance/github); a change here that is not recorded fails.
func TestResourcesAreRecorded(t *testing.T) {
	for name, args := range map[string]Args{"profile-prod": baseArgs(), "every-option": everyOption()} {
		t.Run(name, func(t *testing.T) {
			pulumitest.CheckRecord(t, mustDeploy(t, args), "github:", filepath.Join("testdata", "conformance", name+".json"))
		})
	}
}

// An environment's reviewer teams get their access to the repository before
// the environment names them: GitHub refuses a reviewer without access (422)
// or leaves the environment without it.
func TestEnvironmentsWaitForTheirReviewersAccess(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	production := g.One(t, "github:index/repositoryEnvironment:RepositoryEnvironment", "greeter-production")
	for _, team := range []string{"greeter-team-42", "greeter-team-43"} {
		grant := g.One(t, "github:index/teamRepository:TeamRepository", team)
		if !slices.Contains(production.Dependencies, grant.URN) {
			t.Errorf("environment production does not wait for %s: depends on %v", team, production.Dependencies)
		}
	}
	dev := g.One(t, "github:index/repositoryEnvironment:RepositoryEnvironment", "greeter-dev")
	if slices.ContainsFunc(dev.Dependencies, func(urn string) bool { return strings.Contains(urn, "TeamRepository") }) {
		t.Errorf("environment dev, without reviewers, waits for a team's access: %v", dev.Dependencies)
	}
}
