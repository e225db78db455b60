package scripts

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acme/platform/components/repository"
)

// Trust boundaries, enumerated. A writer of this repository who is not a
// maintainer or releaser controls code on any branch but main and release/*
// (the rulesets), so they control what a pull request's jobs and a manual
// dispatch run, workflow files included: such a run can ask for any
// environment and read any secret GitHub gives it. What GitHub gives it is
// decided by the environments' protection, which the governance stack declares:
// an environment is reachable when it has no required reviewers and its
// deployment policy admits a ref the writer can make. Repository-level
// secrets and variables are reachable by every run.
//
// untrustedMayHold is everything such a run may reach, declared once: a
// secret by the secret config key its value comes from (or, for a secret set
// by hand on the repository, its own name), a variable by its value. All of
// it reads dev alone or nothing: none of it changes prod or reads a prod
// secret value. Anything else reachable fails the test.
var untrustedMayHold = map[string]bool{
	"secret devReadOnlyKubeconfig": true, // dev's cluster, read-only
	"secret PULUMI_BACKEND_URL":    true, // where the state is; access needs a role
	"variable eu-central-1":        true, // AWS_REGION
	// Reads dev's state and decrypts dev's secrets (dev's KMS key) alone.
	"variable arn:aws:iam::123456789012:role/platform-preview-dev": true,
}

// untrustedTriggers are the events whose code a writer controls: a pull
// request from a branch of this repository, a dispatch on any branch.
var untrustedTriggers = []string{"pull_request", "pull_request_target", "workflow_dispatch", "issue_comment", "workflow_run"}

func TestWhatAnUntrustedRefReaches(t *testing.T) {
	platform := platformRepository(t)
	if reached := untrustedReach(platform, handSetSecrets(t)); len(reached) > 0 {
		t.Errorf("a pull request or a dispatch from a writer's branch reaches what it must not:\n%s", strings.Join(reached, "\n"))
	}
	for _, e := range platform.Environments {
		t.Logf("environment %-13s reviewers %v, branches %v, tags %v, reachable by a writer's ref: %v",
			e.Name, append(e.ReviewerTeams, e.ReviewerUsers...), e.Branches, e.Tags, reachable(e))
	}

	// Each mutation opens a way in, and the enumeration must find it.
	mutations := []struct {
		name   string
		mutate func(r *governedRepository)
		finds  string
	}{
		{"prod's preview without a reviewer", func(r *governedRepository) { environment(r, "preview-prod").ReviewerTeams = nil },
			"secret prodReadOnlyKubeconfig"},
		{"a prod secret in the preview environment", func(r *governedRepository) {
			environment(r, "preview").Secrets["KUBECONFIG_PROD"] = "prodKubeconfig"
		}, "secret prodKubeconfig"},
		{"governance's preview without a reviewer", func(r *governedRepository) { environment(r, "preview-governance").ReviewerTeams = nil },
			"variable arn:aws:iam::123456789012:role/platform-preview-governance"},
		{"the release plan open to every ref", func(r *governedRepository) { environment(r, "release-plan").Tags = nil },
			"secret prodReadOnlyKubeconfig"},
		{"governance deploying from any branch", func(r *governedRepository) { environment(r, "governance").Branches = nil },
			"variable arn:aws:iam::123456789012:role/platform-deploy-governance"},
		{"drift open to every branch", func(r *governedRepository) { environment(r, "drift").Branches = nil },
			"variable arn:aws:iam::123456789012:role/platform-drift"},
		{"production deploys from any branch", func(r *governedRepository) {
			e := environment(r, "production")
			e.ReviewerTeams, e.Tags, e.Branches = nil, nil, []string{"*"}
		}, "secret prodKubeconfig"},
		{"the prod deploy role on the repository", func(r *governedRepository) {
			r.Variables["PLATFORM_DEPLOY_ROLE_ARN"] = "arn:aws:iam::123456789012:role/platform-deploy-prod"
		}, "variable arn:aws:iam::123456789012:role/platform-deploy-prod"},
		{"the GitHub token as a repository secret", func(r *governedRepository) { r.Secrets = map[string]string{"GH_ADMIN": "githubToken"} },
			"secret githubToken"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			mutated := clone(platformRepository(t))
			m.mutate(&mutated)
			reached := untrustedReach(mutated, handSetSecrets(t))
			if !slices.ContainsFunc(reached, func(r string) bool { return strings.HasPrefix(r, m.finds+" ") }) {
				t.Errorf("the enumeration misses %s: it found %v", m.finds, reached)
			}
		})
	}
}

// A workflow that runs only for a writer's refs (preview.yml: pull requests)
// runs its jobs in environments without a deployment policy, the ones such a
// ref can run in: prod's preview behind reviewers, never in production,
// whose tag policy would refuse it (and whose credentials change prod).
func TestUntrustedJobsRunWhereTheirRefIsAdmitted(t *testing.T) {
	platform := platformRepository(t)
	check := func(files map[string]map[string]job) []string {
		var wrong []string
		for file, triggers := range workflowTriggers(t) {
			if slices.ContainsFunc(triggers, func(e string) bool { return !slices.Contains(untrustedTriggers, e) }) {
				continue
			}
			for name, j := range files[file] {
				for _, env := range j.environments() {
					if e := environment(&platform, env); e == nil || len(e.Branches)+len(e.Tags) > 0 {
						wrong = append(wrong, fmt.Sprintf("%s, job %s runs for a writer's ref in environment %s, which is undeclared or admits other refs alone", file, name, env))
					}
				}
			}
		}
		return wrong
	}
	files := workflows(t)
	if wrong := check(files); len(wrong) > 0 {
		t.Error(strings.Join(wrong, "\n"))
	}
	preview := files["preview.yml"]["preview"]
	preview.Strategy.Matrix.Include = []map[string]string{{"stack": "prod", "environment": "production"}}
	files["preview.yml"] = map[string]job{"preview": preview}
	if wrong := check(files); len(wrong) == 0 {
		t.Error("the mutation prod's preview in environment production is not found")
	}
}

// untrustedReach lists what a writer's ref reaches beyond untrustedMayHold,
// each line "<secret KEY|variable VALUE> (where)".
func untrustedReach(r governedRepository, handSet []string) []string {
	var out []string
	add := func(what, where string) {
		if !untrustedMayHold[what] {
			out = append(out, what+" ("+where+")")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Secrets)) {
		add("secret "+r.Secrets[name], "repository secret "+name)
	}
	for _, name := range handSet {
		add("secret "+name, "repository secret set by hand, read by a workflow")
	}
	for _, name := range slices.Sorted(maps.Keys(r.Variables)) {
		add("variable "+r.Variables[name], "repository variable "+name)
	}
	for _, e := range r.Environments {
		if !reachable(e) {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(e.Secrets)) {
			add("secret "+e.Secrets[name], "environment "+e.Name+" secret "+name)
		}
		for _, name := range slices.Sorted(maps.Keys(e.Variables)) {
			add("variable "+e.Variables[name], "environment "+e.Name+" variable "+name)
		}
	}
	return out
}

// reachable says whether a writer's ref can run in the environment without
// anyone's approval: no required reviewers, and a deployment policy that
// admits a ref the writer can make. The rulesets keep main (pull requests
// only), release/* branches and v* tags (the releasers alone) from them.
func reachable(e governedEnvironment) bool {
	if len(e.ReviewerTeams)+len(e.ReviewerUsers) > 0 {
		return false
	}
	if len(e.Branches) == 0 && len(e.Tags) == 0 {
		return true // every branch
	}
	for _, b := range e.Branches {
		if b != "main" && !strings.HasPrefix(b, "release/") {
			return true
		}
	}
	releaseTag := strings.TrimPrefix(strings.TrimSuffix(repository.ReleaseTags, "*"), "refs/tags/")
	for _, tag := range e.Tags {
		if !strings.HasPrefix(tag, releaseTag) {
			return true
		}
	}
	return false
}

// handSetSecrets are the repository secrets the workflows read that the
// governance stack does not declare (set by hand on the repository).
func handSetSecrets(t *testing.T) []string {
	t.Helper()
	declared := map[string]bool{}
	platform := platformRepository(t)
	for name := range platform.Secrets {
		declared[name] = true
	}
	for _, e := range platform.Environments {
		for name := range e.Secrets {
			declared[name] = true
		}
	}
	seen := map[string]bool{}
	files, _ := filepath.Glob("../.github/workflows/*.yml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`secrets\.(\w+)`).FindAllStringSubmatch(string(data), -1) {
			if !declared[m[1]] && m[1] != "GITHUB_TOKEN" {
				seen[m[1]] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// workflowTriggers are the events each workflow runs on.
func workflowTriggers(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	files, _ := filepath.Glob("../.github/workflows/*.yml")
	for _, f := range files {
		var w struct {
			On map[string]any `yaml:"on"`
		}
		read(t, f, &w)
		out[filepath.Base(f)] = slices.Sorted(maps.Keys(w.On))
	}
	return out
}

func environment(r *governedRepository, name string) *governedEnvironment {
	for i := range r.Environments {
		if r.Environments[i].Name == name {
			return &r.Environments[i]
		}
	}
	return nil
}

// clone copies the repository's maps and environments, so that a mutation
// changes the copy alone.
func clone(r governedRepository) governedRepository {
	r.Secrets, r.Variables = maps.Clone(r.Secrets), maps.Clone(r.Variables)
	if r.Variables == nil {
		r.Variables = map[string]string{}
	}
	r.Environments = slices.Clone(r.Environments)
	for i, e := range r.Environments {
		e.Secrets, e.Variables = maps.Clone(e.Secrets), maps.Clone(e.Variables)
		if e.Secrets == nil {
			e.Secrets = map[string]string{}
		}
		r.Environments[i] = e
	}
	return r
}
