// Package repository declares how a repository is run on GitHub: its
// settings, the branch rules of the team's branch table (main, release/*,
// feature/*), its teams' access, Actions secrets and variables, and
// deployment environments.
package repository

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/acme/platform/components/component"
	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the Pulumi type of the component.
const TypeToken = "platform:repository:Repository"

// Repository is one service repository on GitHub.
type Repository struct {
	pulumi.ResourceState

	// FullName is owner/name.
	FullName pulumi.StringOutput `pulumi:"fullName"`
	// URL is the repository's web address.
	URL pulumi.StringOutput `pulumi:"url"`
}

// NewRepository declares the repository and everything that governs it, with
// the given GitHub provider (owner and token).
func NewRepository(ctx *pulumi.Context, name string, args Args, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*Repository, error) {
	r := &Repository{}
	err := component.New(ctx, TypeToken, name, r, args, provider, func(args Args, child []pulumi.ResourceOption) error {
		repoOpts := append(slices.Clone(child), pulumi.Protect(args.Protect))
		if args.Import {
			repoOpts = append(repoOpts, pulumi.Import(pulumi.ID(args.Name)))
		}
		repo, err := github.NewRepository(ctx, name, repositoryArgs(args), repoOpts...)
		if err != nil {
			return err
		}
		// Everything else goes with the repository: deleting (archiving) it need
		// not remove each rule and secret first.
		child = append(child, pulumi.DeletedWith(repo))
		existing, err := lookUpAdopted(ctx, args, provider)
		if err != nil {
			return err
		}
		b := &builder{ctx: ctx, name: name, args: args, repo: repo, opts: child, grants: map[int]pulumi.Resource{}, adopted: existing}
		for _, step := range []func() error{b.rules, b.teams, b.secrets, b.environments} {
			if err := step(); err != nil {
				return err
			}
		}
		r.FullName = repo.FullName
		r.URL = repo.HtmlUrl
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func repositoryArgs(a Args) *github.RepositoryArgs {
	allowed := func(s string) pulumi.Bool { return pulumi.Bool(slices.Contains(a.MergeStrategies, s)) }
	args := &github.RepositoryArgs{
		Name:                pulumi.String(a.Name),
		Description:         pulumi.String(a.Description),
		Topics:              pulumi.ToStringArray(a.Topics),
		Visibility:          pulumi.String(a.Visibility),
		AllowSquashMerge:    allowed("squash"),
		AllowMergeCommit:    allowed("merge"),
		AllowRebaseMerge:    allowed("rebase"),
		AllowAutoMerge:      pulumi.Bool(true),
		AllowUpdateBranch:   pulumi.Bool(true),
		DeleteBranchOnMerge: pulumi.Bool(true),
		VulnerabilityAlerts: pulumi.Bool(true),
		HasIssues:           pulumi.Bool(true),
		HasWiki:             pulumi.Bool(false),
		ArchiveOnDestroy:    pulumi.Bool(true),
	}
	if !a.Import {
		// A first commit, so that main exists for its ruleset; an adopted
		// repository has its history.
		args.AutoInit = pulumi.Bool(true)
	}
	if a.Homepage != "" {
		args.HomepageUrl = pulumi.String(a.Homepage)
	}
	if a.Visibility == "public" || a.AdvancedSecurity {
		enabled := pulumi.String("enabled")
		analysis := &github.RepositorySecurityAndAnalysisArgs{
			SecretScanning:               &github.RepositorySecurityAndAnalysisSecretScanningArgs{Status: enabled},
			SecretScanningPushProtection: &github.RepositorySecurityAndAnalysisSecretScanningPushProtectionArgs{Status: enabled},
		}
		if a.AdvancedSecurity && a.Visibility != "public" {
			analysis.AdvancedSecurity = &github.RepositorySecurityAndAnalysisAdvancedSecurityArgs{Status: enabled}
		}
		args.SecurityAndAnalysis = analysis
	}
	return args
}

type builder struct {
	ctx  *pulumi.Context
	name string
	args Args
	repo *github.Repository
	opts []pulumi.ResourceOption
	// grants are the teams' access to the repository, by team ID.
	grants map[int]pulumi.Resource
	// adopted is what an adopted repository holds already.
	adopted adopted
}

// rulesetNames are the rulesets every repository gets.
var rulesetNames = []string{"main", "release", "release-checks", "release-tags"}

// ReleaseTags are the tags only the releasers create, move or delete: every
// v* tag, so that none can be made to look like a release (a tag a deploy
// workflow matches is a stricter v<major>.<minor>.<patch>).
const ReleaseTags = "refs/tags/v*"

// rules declares the branch table as rulesets: main through reviewed pull
// requests with passing checks, linear history, no force push or deletion,
// and the last push approved by someone other than its pusher (who could
// otherwise push into an approved pull request and merge it unreviewed);
// release/* created, pushed to and deleted by the releasers alone (the only
// bypass), and, in a ruleset of its own that nobody bypasses, only with
// passing checks; v* tags (what deploys prod) created, moved and deleted by
// the releasers alone; feature/* open to contributors.
func (b builder) rules() error {
	r := b.args.Rules
	main := &github.RepositoryRulesetRulesArgs{
		Deletion:              pulumi.Bool(true),
		NonFastForward:        pulumi.Bool(true),
		RequiredLinearHistory: pulumi.Bool(true),
		PullRequest: &github.RepositoryRulesetRulesPullRequestArgs{
			RequiredApprovingReviewCount:   pulumi.Int(r.RequiredReviews),
			DismissStaleReviewsOnPush:      pulumi.Bool(true),
			RequireCodeOwnerReview:         pulumi.Bool(r.RequireCodeOwnerReview),
			RequireLastPushApproval:        pulumi.Bool(true),
			RequiredReviewThreadResolution: pulumi.Bool(true),
		},
		RequiredStatusChecks: b.statusChecks(),
	}
	if err := b.ruleset("main", "branch", "~DEFAULT_BRANCH", main, r.BypassActors); err != nil {
		return err
	}
	release := &github.RepositoryRulesetRulesArgs{
		Creation:       pulumi.Bool(true),
		Update:         pulumi.Bool(true),
		Deletion:       pulumi.Bool(true),
		NonFastForward: pulumi.Bool(true),
	}
	if err := b.ruleset("release", "branch", "refs/heads/release/*", release, r.Releasers); err != nil {
		return err
	}
	tags := &github.RepositoryRulesetRulesArgs{Creation: pulumi.Bool(true), Update: pulumi.Bool(true), Deletion: pulumi.Bool(true)}
	if err := b.ruleset("release-tags", "tag", ReleaseTags, tags, r.Releasers); err != nil {
		return err
	}
	// feature/* is deliberately left without a ruleset: contributors push,
	// force-push and delete their own branches; main's rules guard the merge.
	if checks := b.statusChecks(); checks != nil {
		return b.ruleset("release-checks", "branch", "refs/heads/release/*", &github.RepositoryRulesetRulesArgs{RequiredStatusChecks: checks}, nil)
	}
	return nil
}

// statusChecks are the repository's required checks, each bound to GitHub
// Actions, or nil.
func (b builder) statusChecks() *github.RepositoryRulesetRulesRequiredStatusChecksArgs {
	if len(b.args.StatusChecks) == 0 {
		return nil
	}
	var checks github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArray
	for _, c := range b.args.StatusChecks {
		checks = append(checks, &github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs{
			Context: pulumi.String(c), IntegrationId: pulumi.Int(GitHubActionsAppID),
		})
	}
	return &github.RepositoryRulesetRulesRequiredStatusChecksArgs{
		RequiredChecks:                   checks,
		StrictRequiredStatusChecksPolicy: pulumi.Bool(true),
	}
}

func (b builder) ruleset(suffix, target, ref string, rules *github.RepositoryRulesetRulesArgs, actors []Actor) error {
	var bypass github.RepositoryRulesetBypassActorArray
	for _, a := range actors {
		actor := &github.RepositoryRulesetBypassActorArgs{ActorType: pulumi.String(a.Type), BypassMode: pulumi.String("always")}
		if a.ID != 0 { // none for the ID-less types (idlessActors)
			actor.ActorId = pulumi.Int(a.ID)
		}
		bypass = append(bypass, actor)
	}
	opts := b.opts
	if id, ok := b.args.ImportRulesets[suffix]; ok {
		opts = append(slices.Clone(opts), pulumi.Import(pulumi.ID(fmt.Sprintf("%s:%d", b.args.Name, id))))
	}
	_, err := github.NewRepositoryRuleset(b.ctx, b.name+"-"+suffix, &github.RepositoryRulesetArgs{
		Name:         pulumi.String(suffix),
		Repository:   b.repo.Name,
		Target:       pulumi.String(target),
		Enforcement:  pulumi.String("active"),
		Conditions:   &github.RepositoryRulesetConditionsArgs{RefName: &github.RepositoryRulesetConditionsRefNameArgs{Includes: pulumi.ToStringArray([]string{ref}), Excludes: pulumi.StringArray{}}},
		Rules:        rules,
		BypassActors: bypass,
	}, opts...)
	return err
}

// teams gives the teams the rules and environments name their access: push
// for the releasers (they push release/* branches), read for the teams that
// review deployments.
func (b builder) teams() error {
	permission := map[int]string{}
	for _, e := range b.args.Environments {
		for _, id := range e.ReviewerTeams {
			permission[id] = "pull"
		}
	}
	for _, a := range b.args.Rules.Releasers {
		if a.Type == "Team" {
			permission[a.ID] = "push"
		}
	}
	for _, id := range slices.Sorted(maps.Keys(permission)) {
		grant, err := github.NewTeamRepository(b.ctx, fmt.Sprintf("%s-team-%d", b.name, id), &github.TeamRepositoryArgs{
			TeamId: pulumi.String(strconv.Itoa(id)), Repository: b.repo.Name, Permission: pulumi.String(permission[id]),
		}, b.opts...)
		if err != nil {
			return err
		}
		b.grants[id] = grant
	}
	return nil
}

// secretOpts replace a secret by deleting it first. The provider has no
// update for a secret's value: a new value replaces the resource, and
// Pulumi's default order (create the replacement, then delete the old one)
// would write the new value and then delete the secret of that same name.
func (b builder) secretOpts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(append(slices.Clone(b.opts), extra...), pulumi.DeleteBeforeReplace(true))
}

// secrets declares the repository's Actions secrets (values stay Pulumi
// secrets) and variables.
func (b builder) secrets() error {
	for _, name := range slices.Sorted(maps.Keys(b.args.SecretValues)) {
		if _, err := github.NewActionsSecret(b.ctx, b.name+"-secret-"+name, &github.ActionsSecretArgs{
			Repository: b.repo.Name, SecretName: pulumi.String(name),
			PlaintextValue: pulumi.ToSecret(b.args.SecretValues[name]).(pulumi.StringOutput),
		}, b.secretOpts()...); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.args.EncryptedSecrets)) {
		if _, err := github.NewActionsSecret(b.ctx, b.name+"-secret-"+name, &github.ActionsSecretArgs{
			Repository: b.repo.Name, SecretName: pulumi.String(name),
			EncryptedValue: pulumi.String(b.args.EncryptedSecrets[name]),
		}, b.secretOpts()...); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.args.Variables)) {
		if _, err := github.NewActionsVariable(b.ctx, b.name+"-variable-"+name, &github.ActionsVariableArgs{
			Repository: b.repo.Name, VariableName: pulumi.String(name), Value: pulumi.String(b.args.Variables[name]),
		}, append(slices.Clone(b.opts), b.adopted.variable(b.args.Name, name)...)...); err != nil {
			return err
		}
	}
	return nil
}

// environments declares each deployment environment, its reviewers, wait
// timer and deployment branch policy, and its own secrets and variables.
func (b builder) environments() error {
	for _, e := range b.args.Environments {
		prefix := b.name + "-" + e.Name
		env := &github.RepositoryEnvironmentArgs{
			Repository:        b.repo.Name,
			Environment:       pulumi.String(e.Name),
			WaitTimer:         pulumi.Int(e.WaitTimerMinutes),
			PreventSelfReview: pulumi.Bool(len(e.ReviewerTeams)+len(e.ReviewerUsers) > 0),
			CanAdminsBypass:   pulumi.Bool(false),
		}
		if len(e.ReviewerTeams)+len(e.ReviewerUsers) > 0 {
			env.Reviewers = github.RepositoryEnvironmentReviewerArray{&github.RepositoryEnvironmentReviewerArgs{
				Teams: pulumi.ToIntArray(e.ReviewerTeams), Users: pulumi.ToIntArray(e.ReviewerUsers),
			}}
		}
		if len(e.Branches)+len(e.Tags) > 0 {
			env.DeploymentBranchPolicy = &github.RepositoryEnvironmentDeploymentBranchPolicyArgs{
				ProtectedBranches: pulumi.Bool(false), CustomBranchPolicies: pulumi.Bool(true),
			}
		}
		// A reviewer team needs access to the repository first: GitHub
		// refuses (422) or silently drops a reviewer without it.
		var grants []pulumi.Resource
		for _, id := range e.ReviewerTeams {
			if grant, ok := b.grants[id]; ok {
				grants = append(grants, grant)
			}
		}
		envOpts := append(slices.Clone(b.opts), pulumi.DependsOn(grants))
		environment, err := github.NewRepositoryEnvironment(b.ctx, prefix, env, envOpts...)
		if err != nil {
			return err
		}
		dependsOnEnv := pulumi.DependsOn([]pulumi.Resource{environment})
		opts := append(slices.Clone(b.opts), dependsOnEnv)
		for i, pattern := range e.Branches {
			if _, err := github.NewRepositoryEnvironmentDeploymentPolicy(b.ctx, fmt.Sprintf("%s-branch-%d", prefix, i), &github.RepositoryEnvironmentDeploymentPolicyArgs{
				Repository: b.repo.Name, Environment: environment.Environment, BranchPattern: pulumi.String(pattern),
			}, opts...); err != nil {
				return err
			}
		}
		for i, pattern := range e.Tags {
			if _, err := github.NewRepositoryEnvironmentDeploymentPolicy(b.ctx, fmt.Sprintf("%s-tag-%d", prefix, i), &github.RepositoryEnvironmentDeploymentPolicyArgs{
				Repository: b.repo.Name, Environment: environment.Environment, TagPattern: pulumi.String(pattern),
			}, opts...); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(e.SecretValues)) {
			if _, err := github.NewActionsEnvironmentSecret(b.ctx, prefix+"-secret-"+name, &github.ActionsEnvironmentSecretArgs{
				Repository: b.repo.Name, Environment: environment.Environment, SecretName: pulumi.String(name),
				PlaintextValue: pulumi.ToSecret(e.SecretValues[name]).(pulumi.StringOutput),
			}, b.secretOpts(dependsOnEnv)...); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(e.Variables)) {
			if _, err := github.NewActionsEnvironmentVariable(b.ctx, prefix+"-variable-"+name, &github.ActionsEnvironmentVariableArgs{
				Repository: b.repo.Name, Environment: environment.Environment, VariableName: pulumi.String(name),
				Value: pulumi.String(e.Variables[name]),
			}, append(slices.Clone(opts), b.adopted.envVariable(b.args.Name, e.Name, name)...)...); err != nil {
				return err
			}
		}
	}
	return nil
}
