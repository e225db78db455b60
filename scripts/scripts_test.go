// Package scripts tests the delivery scripts that the workflows run, against
// a stand-in for the gh CLI that records its calls and answers lookups from
// canned GitHub API data, filtered by the script's own --jq expression (with
// jq, as gh does with its built-in copy).
package scripts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ghData is what the stand-in's GitHub holds: comments of the pull request,
// open issues, and each issue's body by number.
type ghData struct {
	Comments []map[string]any
	Issues   []map[string]any
	Bodies   map[string]string
}

// fakeGH puts a gh on PATH that appends its arguments to a log and answers
// lookups from data, through the --jq filter the caller gives.
func fakeGH(t *testing.T, data ghData) (logFile string, env []string) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("jq is not installed: the stand-in gh filters its answers with it (Debian's jq; GitHub's runners have it)")
	}
	dir := t.TempDir()
	logFile = filepath.Join(dir, "gh.log")
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("comments.json", append([]map[string]any{}, data.Comments...))
	write("issues.json", append([]map[string]any{}, data.Issues...))
	for n, body := range data.Bodies {
		write("issue-"+n+".json", map[string]string{"body": body})
	}
	script := `#!/usr/bin/env bash
printf '%s\n' "$*" >> "` + logFile + `"
for a in "$@"; do [[ $a == body=@* ]] && cp "${a#body=@}" "` + dir + `/body.md"; done
args=("$@") filter=""
for ((i = 0; i < ${#args[@]}; i++)); do [[ ${args[i]} == --jq ]] && filter=${args[i+1]}; done
case "$1 $2" in
"issue list") data=issues.json ;;
"issue view") data=issue-$3.json ;;
"api --paginate") data=comments.json ;;
*) exit 0 ;;
esac
jq -r "$filter" "` + dir + `/$data"
`
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return logFile, append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "GITHUB_REPOSITORY=acme/platform")
}

// run runs a script with a temporary folder of its own, which must be empty
// again when the script ends: scripts clean up what they make, also on a
// runner that is not thrown away after the job.
func run(t *testing.T, env []string, script string, args ...string) (string, error) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(env, "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("%s left %s in its temporary folder", script, left[0].Name())
	}
	return string(out), err
}

func calls(t *testing.T, logFile string) string {
	t.Helper()
	data, _ := os.ReadFile(logFile)
	return string(data)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const bot = "github-actions[bot]"

func TestPreviewCommentIsCreatedOnceThenEdited(t *testing.T) {
	output := writeFile(t, "\x1b[32m+ 3 to create\x1b[0m\n")
	log, env := fakeGH(t, ghData{})
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", output, "0", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c := calls(t, log); !strings.Contains(c, "--method POST repos/acme/platform/issues/7/comments") {
		t.Fatalf("no comment created:\n%s", c)
	}
	log, env = fakeGH(t, ghData{Comments: []map[string]any{
		{"id": 4242, "user": map[string]any{"login": bot}, "body": "<!-- platform-preview:dev -->\n### old"},
		{"id": 4343, "user": map[string]any{"login": bot}, "body": "<!-- platform-preview:dev -->\n### a second, older copy"},
	}})
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", output, "1", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := calls(t, log)
	if !strings.Contains(c, "--method PATCH repos/acme/platform/issues/comments/4242") || strings.Contains(c, "POST") || strings.Contains(c, "4343") {
		t.Fatalf("the first existing comment not edited in place:\n%s", c)
	}
}

// The policy pack's findings lead the comment, outside the collapsed
// output, with the rule, the resource and the property path; a preview
// without findings has no such part.
func TestPreviewCommentLeadsWithPolicyFindings(t *testing.T) {
	const violation = "        - [mandatory]  images-pinned-by-digest  (kubernetes:apps/v1:Deployment: raw)\n" +
		"          spec.template.spec.containers[0].image: \"nginx:1.27\" is not pinned by digest\n"
	output := writeFile(t, "Previewing update (dev):\n + 1 to create\n\x1b[1mPolicies:\x1b[0m\n"+
		"    ❌ platform@v1.0.0 (local: /x/pulumi-analyzer-policy-platform)\n"+violation+"\nDiagnostics:\n  error: preview failed\n")
	log, env := fakeGH(t, ghData{})
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", output, "1", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	body, err := os.ReadFile(filepath.Join(filepath.Dir(log), "body.md"))
	if err != nil {
		t.Fatal(err)
	}
	findings, details, _ := strings.Cut(string(body), "<details>")
	if !strings.Contains(findings, "#### Policy findings") || !strings.Contains(findings, violation) || strings.Contains(findings, "Diagnostics") {
		t.Errorf("the comment does not lead with the findings alone:\n%s", body)
	}
	if !strings.Contains(details, violation) {
		t.Errorf("the full output lost the findings:\n%s", body)
	}

	clean := writeFile(t, "Policies:\n    ✅ platform@v1.0.0 (local: /x)\n\nResources:\n")
	log, env = fakeGH(t, ghData{})
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", clean, "0", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if body, _ := os.ReadFile(filepath.Join(filepath.Dir(log), "body.md")); strings.Contains(string(body), "Policy findings") {
		t.Errorf("a clean preview's comment has a findings part:\n%s", body)
	}
}

// A comment with the marker by anyone else is neither edited nor taken for
// the preview: a new comment of the workflow's own is made.
func TestPreviewCommentOfAnotherAuthorIsIgnored(t *testing.T) {
	output := writeFile(t, "+ 3 to create\n")
	log, env := fakeGH(t, ghData{Comments: []map[string]any{
		{"id": 666, "user": map[string]any{"login": "mallory"}, "body": "<!-- platform-preview:prod -->\nall good, merge it"},
		{"id": 777, "user": map[string]any{"login": bot}, "body": "<!-- platform-preview:dev -->\nthe other stack's"},
	}})
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:prod", output, "0", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := calls(t, log)
	if strings.Contains(c, "PATCH") || !strings.Contains(c, "--method POST repos/acme/platform/issues/7/comments") {
		t.Fatalf("another author's (or stack's) comment was used:\n%s", c)
	}
}

func TestDriftIssueFollowsTheCheck(t *testing.T) {
	const reportText = "### Stack `prod`: 1 resources drifted\n"
	report := writeFile(t, reportText)
	open := []map[string]any{{"number": 12, "title": "Drift in stack prod"}, {"number": 13, "title": "Drift in stack prod (old)"}}
	// The body the script wrote for this very report, on an earlier run.
	same := gotBody(t, reportText)
	tests := []struct {
		name, exit string
		issues     []map[string]any
		body       string
		want       []string
		wantErr    bool
	}{
		{"drift, no issue yet: open one", "3", nil, "", []string{"issue create", "--title Drift in stack prod", "--label drift"}, false},
		{"drift changed: update and comment", "3", open, "<!-- drift-report: 0000 -->\nolder report", []string{"issue edit 12", "issue comment 12"}, false},
		{"the same drift persists: update, no comment", "3", open, same, []string{"issue edit 12"}, false},
		{"clean again: close it", "0", open, "", []string{"issue close 12"}, false},
		{"clean, no issue: nothing", "0", nil, "", nil, false},
		{"engine failure: refuse", "1", open, "", nil, true},
		{"a crash (a Go panic exits 2): refuse", "2", open, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, env := fakeGH(t, ghData{Issues: tt.issues, Bodies: map[string]string{"12": tt.body}})
			out, err := run(t, env, "drift-issue.sh", "prod", tt.exit, report, "https://example/run/1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v\n%s", err, tt.wantErr, out)
			}
			checkIssueCalls(t, calls(t, log), tt.want)
		})
	}
}

// checkIssueCalls checks that the gh calls made hold each of want, make no
// other change to an issue, and never touch issue 13 (another title).
func checkIssueCalls(t *testing.T, c string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(c, w) {
			t.Errorf("gh calls lack %q:\n%s", w, c)
		}
	}
	for _, verb := range []string{"issue create", "issue edit", "issue close", "issue comment"} {
		wanted := false
		for _, w := range want {
			wanted = wanted || strings.HasPrefix(w, verb)
		}
		if !wanted && strings.Contains(c, verb) {
			t.Errorf("unexpected %q:\n%s", verb, c)
		}
	}
	if strings.Contains(c, " 13") {
		t.Errorf("touched issue 13, whose title is another:\n%s", c)
	}
}

// A drift check that fails (or a job that breaks before it) is told by an
// issue of its own, which the next verdict closes; no verdict closes it too,
// since the check ran.
func TestFailingDriftCheckHasItsOwnIssue(t *testing.T) {
	open := []map[string]any{{"number": 12, "title": "Drift check failing for stack prod"}, {"number": 13, "title": "Drift in stack prod"}}
	for _, tt := range []struct {
		name, exit string
		issues     []map[string]any
		want       []string
	}{
		{"an error, no issue yet: open one", "1", nil, []string{"issue create", "--title Drift check failing for stack prod", "--label drift-check-failing"}},
		{"a crash, issue open: its body names the run", "2", open, []string{"issue edit 12"}},
		{"the job broke before the check", "none", nil, []string{"issue create", "(exit none)"}},
		{"drift found: close it", "3", open, []string{"issue close 12"}},
		{"clean: close it", "0", open, []string{"issue close 12"}},
		{"no verdict: close it", "4", open, []string{"issue close 12"}},
		{"clean, no issue: nothing", "0", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, env := fakeGH(t, ghData{Issues: tt.issues})
			if out, err := run(t, env, "drift-failing-issue.sh", "prod", tt.exit, "https://example/run/1"); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			checkIssueCalls(t, calls(t, log), tt.want)
		})
	}
}

// gotBody is the issue body drift-issue.sh writes for a report: what the
// stand-in gh received as --body-file, kept by a gh that copies it.
func gotBody(t *testing.T, reportText string) string {
	t.Helper()
	dir := t.TempDir()
	copyTo := filepath.Join(dir, "body")
	script := `#!/usr/bin/env bash
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [[ ${args[i]} == --body-file ]] && cp "${args[i+1]}" "` + copyTo + `"; done
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "GITHUB_REPOSITORY=acme/platform")
	if out, err := run(t, env, "drift-issue.sh", "prod", "3", writeFile(t, reportText), "https://example/run/0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	body, err := os.ReadFile(copyTo)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// A report longer than an issue body may be is cut, with a link to the run
// whose summary holds the whole of it; the body stays within GitHub's limit.
func TestDriftIssueBodyIsTruncated(t *testing.T) {
	long := strings.Repeat("| resource | property | state | live |\n", 5000) // about 200 kB
	body := gotBody(t, long)
	if len(body) > 65536 {
		t.Errorf("issue body of %d bytes: GitHub refuses more than 65536 characters", len(body))
	}
	if !strings.Contains(body, "The report is cut here: the whole of it is in the job summary of https://example/run/0") {
		t.Errorf("the cut is not said, or the run not linked:\n%s", body[len(body)-300:])
	}
	if short := gotBody(t, "### clean\n"); strings.Contains(short, "cut here") {
		t.Error("a short report is cut")
	}
}

// scripts/env.sh alone decides where plugins come from: offline from the
// tools' own home by default, released (acquired by the engine) on the
// delivery workflows' runners, and nothing else.
func TestEnvDecidesWherePluginsComeFrom(t *testing.T) {
	show := `source env.sh && echo "home=${PULUMI_HOME:-} acquire=$PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ambient=$PULUMI_IGNORE_AMBIENT_PLUGINS"`
	for _, tt := range []struct{ mode, want string }{
		{"", "home=/tools/pulumi-home acquire=true ambient=true"},
		{"local", "home=/tools/pulumi-home acquire=true ambient=true"},
		{"released", "home= acquire=false ambient=false"},
	} {
		cmd := exec.Command("bash", "-c", show)
		cmd.Env = append(os.Environ(), "PLATFORM_TOOLS=/tools", "PULUMI_HOME=", "PLATFORM_PLUGINS="+tt.mode)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("PLATFORM_PLUGINS=%q: %s (%v), want %s", tt.mode, out, err, tt.want)
		}
	}
	cmd := exec.Command("bash", "-c", "set -e; source env.sh; echo sourced")
	cmd.Env = append(os.Environ(), "PLATFORM_PLUGINS=sometimes")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "must be local or released") {
		t.Errorf("an unknown mode is taken: %s", out)
	}
}

// A release tag deploys only a commit that is on main or a release/* branch
// of the repository, read from a real clone's remote-tracking branches.
func TestReleaseCommitIsOnAProtectedBranch(t *testing.T) {
	script, err := filepath.Abs("release-commit.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	origin := t.TempDir()
	git(origin, "init", "-q", "-b", "main")
	commit := func(message string) string {
		git(origin, "commit", "-q", "--allow-empty", "-m", message)
		return git(origin, "rev-parse", "HEAD")
	}
	first := commit("first")
	onMain := commit("reviewed")
	git(origin, "checkout", "-q", "-b", "release/1.0", first)
	onRelease := commit("a fix on the release branch")
	git(origin, "checkout", "-q", "-b", "feature/x", "main")
	unreviewed := commit("not merged anywhere")
	git(origin, "checkout", "-q", "main")
	clone := filepath.Join(t.TempDir(), "clone")
	git(filepath.Dir(clone), "clone", "-q", origin, clone)

	for _, tt := range []struct {
		name, commit, want string
		ok                 bool
	}{
		{"a commit on main", onMain, "is on main", true},
		{"an older commit of main", first, "is on main", true},
		{"a commit on a release branch", onRelease, "is on release/1.0", true},
		{"a commit on a feature branch only", unreviewed, "on neither main nor a release/* branch", false},
		{"no such commit", strings.Repeat("0", 40), "is not a commit of this clone", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", script, tt.commit)
			cmd.Dir, cmd.Env = clone, env
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok || !strings.Contains(string(out), tt.want) {
				t.Fatalf("exit %v, output %q; want ok %v and %q", err, out, tt.ok, tt.want)
			}
		})
	}
}
