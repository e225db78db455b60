package repository

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/pulumitest"
)

const (
	repoType     = "github:index/repository:Repository"
	rulesetType  = "github:index/repositoryRuleset:RepositoryRuleset"
	protectType  = "github:index/branchProtection:BranchProtection"
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
	a.Rules.Releasers = []Actor{{ID: 42, Type: "Team", Name: "acme/release-managers"}}
	a.Rules.BypassActors = []Actor{{ID: 7, Type: "Integration"}}
	a.Secrets = map[string]string{"REGISTRY_TOKEN": "registryToken"}
	a.SecretValues = map[string]pulumi.StringInput{"REGISTRY_TOKEN": pulumi.String("ghp-registry")}
	a.Variables = map[string]string{"IMAGE_NAME": "ghcr.io/acme/greeter"}
	a.Environments = []Environment{
		{Name: "dev"},
		{Name: "production", ReviewerTeams: []int{42}, WaitTimerMinutes: 10, Branches: []string{"main"}, Tags: []string{"v*"},
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

// The seed's branch table, as rulesets.
func TestRulesetsFollowTheBranchTable(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	if n := len(g.OfType(rulesetType)); n != 2 {
		t.Fatalf("%d rulesets, want main and release/* (feature/* stays open)", n)
	}
	main := g.One(t, rulesetType, "greeter-main")
	for path, want := range map[string]any{
		"conditions.refName.includes.0":                       "~DEFAULT_BRANCH",
		"enforcement":                                         "active",
		"rules.pullRequest.requiredApprovingReviewCount":      1.0,
		"rules.pullRequest.dismissStaleReviewsOnPush":         true,
		"rules.pullRequest.requireCodeOwnerReview":            false,
		"rules.pullRequest.requiredReviewThreadResolution":    true,
		"rules.requiredLinearHistory":                         true,
		"rules.nonFastForward":                                true,
		"rules.deletion":                                      true,
		"rules.requiredStatusChecks.requiredChecks.0.context": "lint",
		"rules.requiredStatusChecks.requiredChecks.3.context": "preview (dev)",
		"bypassActors.0.actorId":                              7.0,
		"bypassActors.0.actorType":                            "Integration",
	} {
		if got := main.MustInput(t, path); got != want {
			t.Errorf("main %s = %v, want %v", path, got, want)
		}
	}
	release := g.One(t, rulesetType, "greeter-release")
	for path, want := range map[string]any{
		"conditions.refName.includes.0":                       "refs/heads/release/*",
		"rules.update":                                        true, // only the bypass actors push
		"bypassActors.0.actorId":                              42.0,
		"bypassActors.0.actorType":                            "Team",
		"rules.requiredStatusChecks.requiredChecks.0.context": "lint",
	} {
		if got := release.MustInput(t, path); got != want {
			t.Errorf("release %s = %v, want %v", path, got, want)
		}
	}
	if _, ok := release.Input("rules.pullRequest"); ok {
		t.Error("release/* requires pull requests: the table asks only for passing checks")
	}
}

func TestClassicBranchProtection(t *testing.T) {
	args := baseArgs()
	args.Rules.Mode = "branch-protection"
	args.Rules.BypassActors = nil
	args.Rules.RequiredReviews = 2
	args.Rules.RequireCodeOwnerReview = true
	g := mustDeploy(t, args)
	if n := len(g.OfType(rulesetType)); n != 0 {
		t.Fatalf("%d rulesets in classic mode", n)
	}
	main := g.One(t, protectType, "greeter-main")
	for path, want := range map[string]any{
		"pattern": "main", "repositoryId": "R_greeter", "allowsForcePushes": false, "allowsDeletions": false,
		"requiredLinearHistory": true, "requireConversationResolution": true,
		"requiredPullRequestReviews.0.requiredApprovingReviewCount": 2.0,
		"requiredPullRequestReviews.0.dismissStaleReviews":          true,
		"requiredPullRequestReviews.0.requireCodeOwnerReviews":      true,
		"requiredStatusChecks.0.contexts.2":                         "e2e",
	} {
		if got := main.MustInput(t, path); got != want {
			t.Errorf("main %s = %v, want %v", path, got, want)
		}
	}
	release := g.One(t, protectType, "greeter-release")
	if got := release.MustInput(t, "restrictPushes.0.pushAllowances.0"); got != "acme/release-managers" {
		t.Errorf("release/* push allowance %v", got)
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
		{"empty status check", func(a *Args) { a.Rules.StatusChecks = []string{"lint", " "} }, `rules.statusChecks[1]: " ": must name a status check`},
		{"bad branch pattern", func(a *Args) { a.Environments[1].Branches = []string{"main..x"} }, `environments[1].deploymentPatterns[0]: "main..x": must be a branch or tag pattern`},
		{"secret name", func(a *Args) { a.Secrets["1TOKEN"] = "token" }, `secrets.1TOKEN: "1TOKEN": must match [A-Za-z_][A-Za-z0-9_]* and not start with GITHUB_`},
		{"GITHUB_ prefix", func(a *Args) { a.Secrets["GITHUB_TOKEN"] = "token" }, `secrets.GITHUB_TOKEN: "GITHUB_TOKEN": must match`},
		{"secret without its value", func(a *Args) { a.Secrets["OTHER"] = "otherToken" }, `secrets.OTHER: "otherToken": has no value`},
		{"secret key that is no config key", func(a *Args) { a.Secrets["REGISTRY_TOKEN"] = "Registry-Token" }, `secrets.REGISTRY_TOKEN: "Registry-Token": must name a secret config key`},
		{"ruleset actor without id", func(a *Args) { a.Rules.Releasers = []Actor{{Type: "Team"}} }, "rules.releasers[0].id: 0: is required with rulesets"},
		{"classic bypass", func(a *Args) { a.Rules.Mode = "branch-protection" }, "rules.bypassActors[0]: {…}: bypass actors need rulesets"},
		{"mode", func(a *Args) { a.Rules.Mode = "strict" }, `rules.mode: "strict": must be rulesets or branch-protection`},
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

// Config decoded over a profile writes into its slices: no two profiles may
// share one, or one stack's settings would become the next one's defaults.
func TestProfilesShareNoSlice(t *testing.T) {
	a := Profile("dev")
	a.Rules.StatusChecks[0], a.MergeStrategies[0] = "changed", "changed"
	b := Profile("dev")
	if b.Rules.StatusChecks[0] == "changed" || b.MergeStrategies[0] == "changed" || DefaultStatusChecks[0] == "changed" {
		t.Fatal("a profile's slice is shared")
	}
}
