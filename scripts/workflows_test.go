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

	"gopkg.in/yaml.v3"
)

type step struct {
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

type job struct {
	If          string            `yaml:"if"`
	Needs       any               `yaml:"needs"`
	Env         map[string]string `yaml:"env"`
	Environment jobEnvironment    `yaml:"environment"`
	Strategy    struct {
		Matrix struct {
			Include []map[string]string `yaml:"include"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress any    `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Steps []step `yaml:"steps"`
}

// workflows reads every workflow's jobs, and every local action's steps as
// a job named "action <dir>".
func workflows(t *testing.T) map[string]map[string]job {
	t.Helper()
	out := map[string]map[string]job{}
	files, _ := filepath.Glob("../.github/workflows/*.yml")
	for _, f := range files {
		var w struct {
			Jobs map[string]job `yaml:"jobs"`
		}
		read(t, f, &w)
		out[filepath.Base(f)] = w.Jobs
	}
	actions, _ := filepath.Glob("../.github/actions/*/action.yml")
	for _, f := range actions {
		var a struct {
			Runs struct {
				Steps []step `yaml:"steps"`
			} `yaml:"runs"`
		}
		read(t, f, &a)
		out["action "+filepath.Base(filepath.Dir(f))] = map[string]job{"steps": {Steps: a.Runs.Steps}}
	}
	if len(files) < 4 || len(actions) < 2 {
		t.Fatalf("found %d workflows and %d local actions", len(files), len(actions))
	}
	return out
}

// environments are the environments a job may run in: its environment,
// the quoted names of an expression choosing one, or the values a matrix
// gives ${{ matrix.environment }}.
// updates says whether the job changes a stack (runs platform up).
func (j job) updates() bool {
	return slices.ContainsFunc(j.Steps, func(s step) bool { return strings.Contains(s.Run, "platform up ") })
}

func (j job) environments() []string {
	if j.Environment.Name == "${{ matrix.environment }}" {
		var names []string
		for _, entry := range j.Strategy.Matrix.Include {
			names = append(names, entry["environment"])
		}
		return names
	}
	return valuesOf(j.Environment.Name)
}

// jobEnvironment is a job's environment: a name, or a name and whether the
// job is a deployment (deployment: false runs behind the environment's
// protection with its secrets, and records no GitHub deployment).
type jobEnvironment struct {
	Name       string
	Deployment bool
}

func (e *jobEnvironment) UnmarshalYAML(n *yaml.Node) error {
	e.Deployment = true
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&e.Name)
	}
	var m struct {
		Name       string `yaml:"name"`
		Deployment *bool  `yaml:"deployment"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	e.Name = m.Name
	if m.Deployment != nil {
		e.Deployment = *m.Deployment
	}
	return nil
}

// Only an update is a deployment: a preview or a drift check in an
// environment (for its secrets and protection) records none, or every pull
// request and hourly check would list a deployment of prod.
func TestOnlyUpdatesAreDeployments(t *testing.T) {
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			if j.Environment.Name == "" {
				continue
			}
			if j.Environment.Deployment != j.updates() {
				t.Errorf("%s, job %s: environment %s with deployment %v, but it updates a stack: %v", file, name, j.Environment.Name, j.Environment.Deployment, j.updates())
			}
		}
	}
}

func read(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// No expression is expanded inside a script (template injection): values
// reach scripts through env.
func TestNoExpressionInsideRun(t *testing.T) {
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			for _, s := range j.Steps {
				if strings.Contains(s.Run, "${{") {
					t.Errorf("%s, job %s, step %q expands an expression inside run: pass it through env", file, name, s.Name)
				}
			}
		}
	}
}

var pinnedAction = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// Every action from elsewhere is pinned by commit.
func TestActionsArePinnedByCommit(t *testing.T) {
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			for _, s := range j.Steps {
				if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") && !pinnedAction.MatchString(s.Uses) {
					t.Errorf("%s, job %s: %s is not pinned by commit", file, name, s.Uses)
				}
			}
		}
	}
}

// Only the end-to-end job builds the local cluster's toolchain; the jobs that
// run Pulumi against dev and prod use the released CLI and plugins.
func TestOnlyEndToEndBuildsTheToolchain(t *testing.T) {
	w := workflows(t)
	uses := func(j job, action string) bool {
		for _, s := range j.Steps {
			if s.Uses == action {
				return true
			}
		}
		return false
	}
	for file, jobs := range w {
		for name, j := range jobs {
			builds := uses(j, "./.github/actions/cluster-tools")
			if builds != (file == "ci.yml" && name == "e2e") {
				t.Errorf("%s, job %s: builds the toolchain %v", file, name, builds)
			}
			for _, s := range j.Steps {
				if strings.Contains(s.Run, "make tools") && file != "action cluster-tools" {
					t.Errorf("%s, job %s: runs make tools", file, name)
				}
			}
		}
	}
	for _, wanted := range []struct{ file, job string }{{"preview.yml", "preview"}, {"deploy.yml", "deploy"}, {"drift.yml", "drift"}} {
		if !uses(w[wanted.file][wanted.job], "./.github/actions/pulumi") {
			t.Errorf("%s, job %s: does not set up the released Pulumi", wanted.file, wanted.job)
		}
	}
	var released, cli bool
	for _, s := range w["action pulumi"]["steps"].Steps {
		released = released || strings.Contains(s.Run, "PLATFORM_PLUGINS=released")
		cli = cli || strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["pulumi-version"] == "${{ steps.versions.outputs.pulumi }}"
	}
	if !released || !cli {
		t.Errorf("the pulumi action: plugins released %v, CLI at the version env.sh reads %v", released, cli)
	}
	// The end-to-end job saves its tool builds whatever the tests did.
	e2e := w["ci.yml"]["e2e"].Steps
	if last := e2e[len(e2e)-1]; !strings.HasPrefix(last.Uses, "actions/cache/save@") || !strings.Contains(last.If, "always()") {
		t.Errorf("the e2e job's last step is %q (if %q), not the save of its tool builds whatever the tests did", last.Name, last.If)
	}
}

// No deployment is ever dropped. GitHub keeps one running and one pending
// run per concurrency group, and a newly queued run cancels the pending one
// ("Control the concurrency of workflows and jobs", GitHub Docs): a queued
// run of anything else in a deployment's group would drop a pending
// deployment. So a deployment's group is its stack's alone (a pending one may
// be superseded only by a newer deployment of the same stack), and a running
// one is never cancelled.
func TestNoDeploymentIsDropped(t *testing.T) {
	w := workflows(t)
	if dropped := droppedDeployments(w); len(dropped) > 0 {
		t.Error(strings.Join(dropped, "\n"))
	}
	// The mutation: drift in the deployments' groups, as it once was.
	drift := w["drift.yml"]["drift"]
	drift.Concurrency.Group = strings.Replace(drift.Concurrency.Group, "drift-", "stack-", 1)
	w["drift.yml"]["drift"] = drift
	if dropped := droppedDeployments(w); len(dropped) == 0 {
		t.Error("drift in the stack's group is not found to drop deployments")
	}
}

// droppedDeployments lists the ways a pending deployment can be cancelled by
// something other than a newer deployment of its stack.
func droppedDeployments(w map[string]map[string]job) []string {
	var dropped []string
	for name, deploy := range w["deploy.yml"] {
		if !deploy.updates() {
			continue // a preview: it deploys nothing and joins no group
		}
		if deploy.Concurrency.CancelInProgress != false {
			dropped = append(dropped, fmt.Sprintf("deploy.yml, job %s: cancel-in-progress %v cancels a running deployment", name, deploy.Concurrency.CancelInProgress))
		}
		groups := valuesOf(deploy.Concurrency.Group)
		if len(groups) == 0 {
			dropped = append(dropped, fmt.Sprintf("deploy.yml, job %s has no concurrency group: two deployments of a stack could run at once", name))
		}
		for file, jobs := range w {
			for other, j := range jobs {
				if file == "deploy.yml" && other == name {
					continue
				}
				for _, g := range valuesOf(j.Concurrency.Group) {
					if slices.Contains(groups, g) {
						dropped = append(dropped, fmt.Sprintf("%s, job %s shares group %s with deploy.yml's %s: queued, it cancels a pending deployment", file, other, g, name))
					}
				}
			}
		}
	}
	return dropped
}

// valuesOf lists the values a workflow field can take (an environment, a
// concurrency group): its text, with an expression replaced by each of its
// literal results, those after && or || (the literals after == are what it
// compares).
func valuesOf(field string) []string {
	start := strings.Index(field, "${{")
	if start < 0 {
		if field == "" {
			return nil
		}
		return []string{field}
	}
	end := strings.Index(field, "}}")
	var out []string
	for _, m := range regexp.MustCompile(`(?:&&|\|\|)\s*'([\w-]+)'`).FindAllStringSubmatch(field[start:end], -1) {
		out = append(out, field[:start]+m[1]+field[end+2:])
	}
	return out
}

// Dependabot's pull requests get no secrets: their previews are skipped with
// a note, not run red.
func TestDependabotPreviewsAreSkipped(t *testing.T) {
	jobs := workflows(t)["preview.yml"]
	if !strings.Contains(jobs["preview"].If, "github.actor != 'dependabot[bot]'") {
		t.Errorf("the preview runs for Dependabot: if %q", jobs["preview"].If)
	}
	skipped, ok := jobs["preview-skipped"]
	if !ok || !strings.Contains(skipped.If, "github.actor == 'dependabot[bot]'") || len(skipped.Steps) == 0 || !strings.Contains(skipped.Steps[0].Run, "::notice::") {
		t.Error("no job says the previews were skipped for Dependabot")
	}
}

// A job that reads cluster credentials runs in an environment that the
// governing stack declares on this repository, with those credentials as
// that environment's secrets: GitHub creates an undeclared environment
// unprotected on first use, and a repository secret would be open to every
// branch. prod's deploying credentials sit behind the reviewers alone.
func TestClusterCredentialsAreEnvironmentSecrets(t *testing.T) {
	platform := platformRepository(t)
	declared := map[string]map[string]bool{} // environment -> its secrets
	for _, e := range platform.Environments {
		declared[e.Name] = map[string]bool{}
		for name := range e.Secrets {
			declared[e.Name][name] = true
		}
		if e.Name == "production" && (len(e.ReviewerTeams) == 0 || !slices.Equal(e.Tags, []string{releaseTagPolicy})) {
			t.Errorf("production: reviewers %v, tags %v: prod deploys unreviewed or from other refs", e.ReviewerTeams, e.Tags)
		}
	}
	if len(declared) == 0 {
		t.Fatal("the governance stack declares no environment on this repository (platform)")
	}
	secretRef := regexp.MustCompile(`secrets\.(KUBECONFIG\w*)`)
	checked := 0
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			for _, s := range j.Steps {
				// A secret reaches a step as a variable, or as an input of an
				// action (./.github/actions/kubeconfig).
				for _, value := range slices.Concat(slices.Collect(maps.Values(s.Env)), slices.Collect(maps.Values(s.With))) {
					for _, m := range secretRef.FindAllStringSubmatch(value, -1) {
						checked++
						names := j.environments()
						if len(names) == 0 {
							t.Errorf("%s, job %s reads %s without an environment", file, name, m[1])
						}
						for _, env := range names {
							if skippedIn(s.If, env) {
								continue
							}
							if !declared[env][m[1]] {
								t.Errorf("%s, job %s reads %s in environment %s, which the governance stack does not declare with that secret", file, name, m[1], env)
							}
						}
					}
				}
			}
		}
	}
	if checked < 3 {
		t.Errorf("%d reads of cluster credentials found: the deploy, preview and drift jobs each read some", checked)
	}
}

// The checks the governance stack requires on this repository are jobs of its CI
// workflow that run on pull requests: a required check no job reports would
// block every pull request.
func TestRequiredChecksAreCIJobs(t *testing.T) {
	var ci struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Name string `yaml:"name"`
		} `yaml:"jobs"`
	}
	read(t, "../.github/workflows/ci.yml", &ci)
	if _, ok := ci.On["pull_request"]; !ok {
		t.Fatal("ci.yml does not run on pull requests")
	}
	checks := platformRepository(t).StatusChecks
	for _, check := range checks {
		found := false
		for id, j := range ci.Jobs {
			found = found || check == id && j.Name == "" || check == j.Name
		}
		if !found {
			t.Errorf("the governance stack requires check %q on this repository; ci.yml has no job of that name", check)
		}
	}
	if len(checks) == 0 {
		t.Error("the governance stack requires no check on this repository")
	}
}

// governedRepository is an entry of platform:github.repositories in a stack
// file, as far as the workflows depend on it.
type governedRepository struct {
	Name         string                `yaml:"name"`
	StatusChecks []string              `yaml:"statusChecks"`
	Secrets      map[string]string     `yaml:"secrets"`
	Variables    map[string]string     `yaml:"variables"`
	Environments []governedEnvironment `yaml:"environments"`
}

// governedEnvironment is a deployment environment as the governance stack declares it.
type governedEnvironment struct {
	Name          string            `yaml:"name"`
	ReviewerTeams []int             `yaml:"reviewerTeams"`
	ReviewerUsers []int             `yaml:"reviewerUsers"`
	Branches      []string          `yaml:"branches"`
	Tags          []string          `yaml:"tags"`
	Secrets       map[string]string `yaml:"secrets"`
	Variables     map[string]string `yaml:"variables"`
}

// skippedIn says whether a step's condition skips it in an environment: a
// condition "… != 'S'" skips it for stack S, whose environments are named S
// or <purpose>-S (governance, preview-governance).
func skippedIn(condition, environment string) bool {
	for _, m := range regexp.MustCompile(`!= '([\w-]+)'`).FindAllStringSubmatch(condition, -1) {
		if environment == m[1] || strings.HasSuffix(environment, "-"+m[1]) {
			return true
		}
	}
	return false
}

// platformRepository is this repository as the governance stack, which
// governs it, declares it.
func platformRepository(t *testing.T) governedRepository {
	t.Helper()
	var stack struct {
		Config struct {
			GitHub struct {
				Repositories []governedRepository `yaml:"repositories"`
			} `yaml:"platform:github"`
		} `yaml:"config"`
	}
	read(t, "../Pulumi.governance.yaml", &stack)
	for _, r := range stack.Config.GitHub.Repositories {
		if r.Name == "platform" {
			return r
		}
	}
	t.Fatal("the governance stack does not govern this repository (platform)")
	return governedRepository{}
}

// A drift check that fails, or a job that breaks before it, is told: the
// step keeping the failing-check issue runs whatever happened before it.
func TestAFailingDriftCheckIsTold(t *testing.T) {
	for _, s := range workflows(t)["drift.yml"]["drift"].Steps {
		if strings.Contains(s.Run, "drift-failing-issue.sh") {
			if !strings.Contains(s.If, "always()") {
				t.Errorf("the failing-check issue step runs if %q: a failed step before it would skip it", s.If)
			}
			return
		}
	}
	t.Error("drift.yml keeps no issue for a failing check")
}

// The drift issue is written only for the drift command's clean (0) and
// drift (3) exits; any other exit (1 an error, 2 a Go panic, 128+n a
// signal) fails the job loudly and never touches the issue.
func TestOnlyAFindingWritesTheDriftIssue(t *testing.T) {
	exits := regexp.MustCompile(`steps\.drift\.outputs\.exit == '(\d+)'`)
	found := false
	for _, s := range workflows(t)["drift.yml"]["drift"].Steps {
		if !strings.Contains(s.Run, "drift-issue.sh") {
			continue
		}
		found = true
		var codes []string
		for _, m := range exits.FindAllStringSubmatch(s.If, -1) {
			codes = append(codes, m[1])
		}
		if slices.Sort(codes); !slices.Equal(codes, []string{"0", "3"}) || strings.Contains(s.If, "!=") {
			t.Errorf("the drift issue step runs if %q: want it for exits 0 and 3 alone", s.If)
		}
	}
	if !found {
		t.Fatal("drift.yml has no step that runs scripts/drift-issue.sh")
	}
}

// releaseTagPolicy is the production environment's tag policy (fnmatch, as
// GitHub's deployment policies read it), and releaseTagTrigger the deploy
// workflow's tag filter (Actions' pattern syntax): both a version, never a
// bare "v*" that "very-bad" matches.
const (
	releaseTagPolicy  = "v[0-9]*.[0-9]*.[0-9]*"
	releaseTagTrigger = "v[0-9]+.[0-9]+.[0-9]+"
)

// A release tag deploys prod only as a version tag whose commit is on main
// or release/*: the trigger is strict, and before anything gets a credential
// the job checks the commit against a full clone's branches.
func TestReleaseTagsDeployReviewedCommits(t *testing.T) {
	var deploy struct {
		On struct {
			Push struct {
				Tags []string `yaml:"tags"`
			} `yaml:"push"`
		} `yaml:"on"`
	}
	read(t, "../.github/workflows/deploy.yml", &deploy)
	if !slices.Equal(deploy.On.Push.Tags, []string{releaseTagTrigger}) {
		t.Errorf("deploy.yml runs for tags %q, want %q alone", deploy.On.Push.Tags, releaseTagTrigger)
	}
	steps := workflows(t)["deploy.yml"]["deploy"].Steps
	check := slices.IndexFunc(steps, func(s step) bool { return strings.Contains(s.Run, "scripts/release-commit.sh") })
	if check < 0 {
		t.Fatal("deploy.yml never checks that a release tag's commit is on main or release/*")
	}
	if !strings.Contains(steps[check].If, "refs/tags/") {
		t.Errorf("the release commit check runs if %q: want it for every tag", steps[check].If)
	}
	for i, s := range steps[:check] {
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			if s.With["fetch-depth"] != "0" {
				t.Errorf("deploy.yml checks out with fetch-depth %q: the check needs every branch (0)", s.With["fetch-depth"])
			}
			continue
		}
		t.Errorf("step %d (%q) runs before the release commit check: nothing may come before it but the checkout", i, s.Name)
	}
}

// Every cloud role a job assumes is a variable of that job's environment,
// declared by the governance stack, never of the repository: a merge to main
// (environment dev) cannot assume prod's deploying role, and each role's
// trust policy can admit one environment's jobs alone. prod's role is
// another than dev's.
func TestEachEnvironmentHasItsOwnRole(t *testing.T) {
	platform := platformRepository(t)
	roles := map[string]map[string]string{} // environment -> variable -> role
	for _, e := range platform.Environments {
		roles[e.Name] = e.Variables
	}
	roleRef := regexp.MustCompile(`vars\.(\w*ROLE\w*)`)
	assumed := map[string]string{} // environment -> role
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			for _, s := range j.Steps {
				for _, m := range roleRef.FindAllStringSubmatch(s.With["role-to-assume"], -1) {
					if _, ok := platform.Variables[m[1]]; ok {
						t.Errorf("%s: the repository declares %s: every job could assume it", file, m[1])
					}
					for _, env := range j.environments() {
						role := roles[env][m[1]]
						if role == "" {
							t.Errorf("%s, job %s assumes vars.%s in environment %q, which does not declare it", file, name, m[1], env)
						}
						assumed[env] = role
					}
				}
			}
		}
	}
	for _, own := range []string{"production", "governance"} {
		for env := range assumed {
			if env != own && (assumed[own] == "" || assumed[own] == assumed[env]) {
				t.Errorf("roles assumed per environment %v: %s's must be its own", assumed, own)
			}
		}
	}
}

// The governance stack requires a code owner's review on this repository's main:
// GitHub then needs a CODEOWNERS file that owns every path, or no pull
// request could ever be approved.
func TestCodeOwnersOwnEveryPath(t *testing.T) {
	var stack struct {
		Config struct {
			GitHub struct {
				Rules struct {
					RequireCodeOwnerReview bool `yaml:"requireCodeOwnerReview"`
				} `yaml:"rules"`
			} `yaml:"platform:github"`
		} `yaml:"config"`
	}
	read(t, "../Pulumi.governance.yaml", &stack)
	if !stack.Config.GitHub.Rules.RequireCodeOwnerReview {
		t.Skip("the governance stack does not require code owners' reviews")
	}
	data, err := os.ReadFile("../.github/CODEOWNERS")
	if err != nil {
		t.Fatalf("the governance stack requires code owners' reviews on this repository, which has no CODEOWNERS: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "*" && strings.HasPrefix(fields[1], "@") {
			return
		}
	}
	t.Error(".github/CODEOWNERS has no rule \"* @owner\": a path without an owner blocks its pull requests")
}

// A release is approved on what it will do and does only that: the plan
// job previews prod before the gated job, in an environment only release
// tags reach that holds prod's read-only credentials alone, and saves the
// changes; the gated job runs after it alone and updates with --approved.
func TestReleaseRunsWhatWasApproved(t *testing.T) {
	jobs := workflows(t)["deploy.yml"]
	plan, deploy := jobs["plan"], jobs["deploy"]
	if plan.Environment.Name != "release-plan" || plan.updates() || !strings.Contains(plan.If, "refs/tags/v") {
		t.Errorf("plan job: environment %q, updates %v, if %q: want a preview of release tags in release-plan", plan.Environment.Name, plan.updates(), plan.If)
	}
	var saves, approved bool
	for _, s := range plan.Steps {
		saves = saves || strings.Contains(s.Run, "platform preview") && strings.Contains(s.Run, "--save-changes") && strings.Contains(s.Run, "GITHUB_STEP_SUMMARY") &&
			(!strings.Contains(s.Run, "|") || strings.Contains(s.Run, "set -o pipefail")) // a piped preview's failure must fail the job
	}
	for _, s := range deploy.Steps {
		approved = approved || strings.Contains(s.Run, "platform up") && strings.Contains(s.Run, "--approved")
	}
	if !saves || !approved {
		t.Errorf("the plan job saves and shows its changes: %v; the gated up runs with --approved: %v", saves, approved)
	}
	// Both run as the release of the tag's commit (prod takes dev's build of it).
	if plan.Env["PLATFORM_RELEASE"] != "${{ github.sha }}" || !strings.Contains(deploy.Env["PLATFORM_RELEASE"], "refs/tags/v') && github.sha") {
		t.Errorf("PLATFORM_RELEASE: plan %q, deploy %q: want the tag's commit in both", plan.Env["PLATFORM_RELEASE"], deploy.Env["PLATFORM_RELEASE"])
	}
	if deploy.Needs != "plan" || !strings.Contains(deploy.If, "needs.plan.result == 'success'") || !strings.Contains(deploy.If, "!startsWith(github.ref, 'refs/tags/')") {
		t.Errorf("the deploy job needs %v if %q: a release must run after its plan succeeded alone", deploy.Needs, deploy.If)
	}
	e := environment(new(platformRepository(t)), "release-plan")
	if e == nil {
		t.Fatal("the governance stack declares no environment release-plan")
	}
	if len(e.Branches) > 0 || !slices.Equal(e.Tags, []string{"v[0-9]*.[0-9]*.[0-9]*"}) || !slices.Equal(slices.Collect(maps.Values(e.Secrets)), []string{"prodReadOnlyKubeconfig"}) {
		t.Errorf("release-plan: branches %v, tags %v, secrets %v: want release tags alone, prod's read-only kubeconfig alone", e.Branches, e.Tags, e.Secrets)
	}
}

// A job that updates a stack releases the lock its own run leaves when the
// job is cancelled, times out or fails: the next deploy would fail on it.
// It releases only what is provably its own (platform cancel without
// --force: a dead process's lock of this runner).
func TestAKilledDeployReleasesItsLock(t *testing.T) {
	for file, jobs := range workflows(t) {
		for name, j := range jobs {
			if !j.updates() {
				continue
			}
			up := slices.IndexFunc(j.Steps, func(s step) bool { return strings.Contains(s.Run, "platform up ") })
			release := slices.IndexFunc(j.Steps, func(s step) bool { return strings.Contains(s.Run, "platform cancel --stack") })
			if release < up || !strings.Contains(j.Steps[release].If, "cancelled()") || !strings.Contains(j.Steps[release].If, "failure()") ||
				strings.Contains(j.Steps[release].Run, "--force") {
				t.Errorf("%s, job %s: no step after the update releases its lock when the job is cancelled or fails, without --force", file, name)
			}
		}
	}
}
