// Package repository declares how a service repository is run on GitHub:
// its settings, the branch rules of the team's branch table (main, release/*,
// feature/*), Actions secrets and variables, and deployment environments.
package repository

import (
	"fmt"
	"maps"
	"slices"

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
		repo, err := github.NewRepository(ctx, name, repositoryArgs(args), append(child, pulumi.Protect(args.Protect))...)
		if err != nil {
			return err
		}
		// Everything else goes with the repository: deleting (archiving) it need
		// not remove each rule and secret first.
		child = append(child, pulumi.DeletedWith(repo))
		b := builder{ctx: ctx, name: name, args: args, repo: repo, opts: child}
		for _, step := range []func() error{b.rules, b.secrets, b.environments} {
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
		AutoInit:            pulumi.Bool(true),
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
}

// rules declares the branch table: main through reviewed pull requests with
// passing checks, linear history, no force push or deletion; release/* only
// for the releasers, with passing checks; feature/* open to contributors.
func (b builder) rules() error {
	if b.args.Rules.Mode == "branch-protection" {
		return b.branchProtection()
	}
	r := b.args.Rules
	main := &github.RepositoryRulesetRulesArgs{
		Deletion:              pulumi.Bool(true),
		NonFastForward:        pulumi.Bool(true),
		RequiredLinearHistory: pulumi.Bool(true),
		PullRequest: &github.RepositoryRulesetRulesPullRequestArgs{
			RequiredApprovingReviewCount:   pulumi.Int(r.RequiredReviews),
			DismissStaleReviewsOnPush:      pulumi.Bool(true),
			RequireCodeOwnerReview:         pulumi.Bool(r.RequireCodeOwnerReview),
			RequiredReviewThreadResolution: pulumi.Bool(true),
		},
		RequiredStatusChecks: b.statusChecks(),
	}
	if err := b.ruleset("main", "~DEFAULT_BRANCH", main, r.BypassActors); err != nil {
		return err
	}
	release := &github.RepositoryRulesetRulesArgs{
		Update:               pulumi.Bool(true), // only the bypass actors (the releasers) may push
		Deletion:             pulumi.Bool(true),
		NonFastForward:       pulumi.Bool(true),
		RequiredStatusChecks: b.statusChecks(),
	}
	// feature/* is deliberately left without a ruleset: contributors push,
	// force-push and delete their own branches; main's rules guard the merge.
	return b.ruleset("release", "refs/heads/release/*", release, r.Releasers)
}

func (b builder) statusChecks() *github.RepositoryRulesetRulesRequiredStatusChecksArgs {
	if len(b.args.Rules.StatusChecks) == 0 {
		return nil
	}
	var checks github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArray
	for _, c := range b.args.Rules.StatusChecks {
		checks = append(checks, &github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs{Context: pulumi.String(c)})
	}
	return &github.RepositoryRulesetRulesRequiredStatusChecksArgs{
		RequiredChecks:                   checks,
		StrictRequiredStatusChecksPolicy: pulumi.Bool(true),
	}
}

func (b builder) ruleset(suffix, ref string, rules *github.RepositoryRulesetRulesArgs, actors []Actor) error {
	var bypass github.RepositoryRulesetBypassActorArray
	for _, a := range actors {
		bypass = append(bypass, &github.RepositoryRulesetBypassActorArgs{
			ActorId: pulumi.Int(a.ID), ActorType: pulumi.String(a.Type), BypassMode: pulumi.String("always"),
		})
	}
	_, err := github.NewRepositoryRuleset(b.ctx, b.name+"-"+suffix, &github.RepositoryRulesetArgs{
		Name:         pulumi.String(suffix),
		Repository:   b.repo.Name,
		Target:       pulumi.String("branch"),
		Enforcement:  pulumi.String("active"),
		Conditions:   &github.RepositoryRulesetConditionsArgs{RefName: &github.RepositoryRulesetConditionsRefNameArgs{Includes: pulumi.ToStringArray([]string{ref}), Excludes: pulumi.StringArray{}}},
		Rules:        rules,
		BypassActors: bypass,
	}, b.opts...)
	return err
}

// branchProtection is the classic equivalent, for plans without rulesets on
// private repositories.
func (b builder) branchProtection() error {
	r := b.args.Rules
	checks := github.BranchProtectionRequiredStatusCheckArray{&github.BranchProtectionRequiredStatusCheckArgs{
		Strict: pulumi.Bool(true), Contexts: pulumi.ToStringArray(r.StatusChecks),
	}}
	if _, err := github.NewBranchProtection(b.ctx, b.name+"-main", &github.BranchProtectionArgs{
		RepositoryId:                  b.repo.NodeId,
		Pattern:                       pulumi.String("main"),
		EnforceAdmins:                 pulumi.Bool(true),
		AllowsDeletions:               pulumi.Bool(false),
		AllowsForcePushes:             pulumi.Bool(false),
		RequiredLinearHistory:         pulumi.Bool(true),
		RequireConversationResolution: pulumi.Bool(true),
		RequiredPullRequestReviews: github.BranchProtectionRequiredPullRequestReviewArray{&github.BranchProtectionRequiredPullRequestReviewArgs{
			RequiredApprovingReviewCount: pulumi.Int(r.RequiredReviews),
			DismissStaleReviews:          pulumi.Bool(true),
			RequireCodeOwnerReviews:      pulumi.Bool(r.RequireCodeOwnerReview),
		}},
		RequiredStatusChecks: checks,
	}, b.opts...); err != nil {
		return err
	}
	var pushers []string
	for _, a := range r.Releasers {
		pushers = append(pushers, a.Name)
	}
	_, err := github.NewBranchProtection(b.ctx, b.name+"-release", &github.BranchProtectionArgs{
		RepositoryId:         b.repo.NodeId,
		Pattern:              pulumi.String("release/*"),
		AllowsDeletions:      pulumi.Bool(false),
		AllowsForcePushes:    pulumi.Bool(false),
		RequiredStatusChecks: checks,
		RestrictPushes: github.BranchProtectionRestrictPushArray{&github.BranchProtectionRestrictPushArgs{
			PushAllowances: pulumi.ToStringArray(pushers),
		}},
	}, b.opts...)
	return err
}

// secrets declares the repository's Actions secrets (values stay Pulumi
// secrets) and variables.
func (b builder) secrets() error {
	for _, name := range slices.Sorted(maps.Keys(b.args.SecretValues)) {
		if _, err := github.NewActionsSecret(b.ctx, b.name+"-secret-"+name, &github.ActionsSecretArgs{
			Repository: b.repo.Name, SecretName: pulumi.String(name),
			PlaintextValue: pulumi.ToSecret(b.args.SecretValues[name]).(pulumi.StringOutput),
		}, b.opts...); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.args.EncryptedSecrets)) {
		if _, err := github.NewActionsSecret(b.ctx, b.name+"-secret-"+name, &github.ActionsSecretArgs{
			Repository: b.repo.Name, SecretName: pulumi.String(name),
			EncryptedValue: pulumi.String(b.args.EncryptedSecrets[name]),
		}, b.opts...); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.args.Variables)) {
		if _, err := github.NewActionsVariable(b.ctx, b.name+"-variable-"+name, &github.ActionsVariableArgs{
			Repository: b.repo.Name, VariableName: pulumi.String(name), Value: pulumi.String(b.args.Variables[name]),
		}, b.opts...); err != nil {
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
		environment, err := github.NewRepositoryEnvironment(b.ctx, prefix, env, b.opts...)
		if err != nil {
			return err
		}
		opts := append(slices.Clone(b.opts), pulumi.DependsOn([]pulumi.Resource{environment}))
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
			}, opts...); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(e.Variables)) {
			if _, err := github.NewActionsEnvironmentVariable(b.ctx, prefix+"-variable-"+name, &github.ActionsEnvironmentVariableArgs{
				Repository: b.repo.Name, Environment: environment.Environment, VariableName: pulumi.String(name),
				Value: pulumi.String(e.Variables[name]),
			}, opts...); err != nil {
				return err
			}
		}
	}
	return nil
}
