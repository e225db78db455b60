// Package scripts tests the delivery scripts that the workflows run, against
// a stand-in for the gh CLI that records its calls and answers lookups.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGH puts a gh on PATH that appends its arguments to a log and prints
// the canned answer for lookups ("comments" or "issues").
func fakeGH(t *testing.T, answer string) (logFile string, env []string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "gh.log")
	script := `#!/usr/bin/env bash
printf '%s\n' "$*" >> "` + logFile + `"
case "$*" in
*"issue list"*|*"/comments --jq"*|*"comments --jq"*) printf '%s' "$GH_ANSWER" ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return logFile, append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "GH_ANSWER="+answer, "GITHUB_REPOSITORY=acme/platform")
}

func run(t *testing.T, env []string, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
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

func TestPreviewCommentIsCreatedOnceThenEdited(t *testing.T) {
	output := writeFile(t, "\x1b[32m+ 3 to create\x1b[0m\n")
	log, env := fakeGH(t, "")
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", output, "0", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c := calls(t, log); !strings.Contains(c, "--method POST repos/acme/platform/issues/7/comments") {
		t.Fatalf("no comment created:\n%s", c)
	}
	log, env = fakeGH(t, "4242")
	if out, err := run(t, env, "pr-comment.sh", "7", "platform-preview:dev", output, "1", "0123456789abcdef"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := calls(t, log)
	if !strings.Contains(c, "--method PATCH repos/acme/platform/issues/comments/4242") || strings.Contains(c, "POST") {
		t.Fatalf("existing comment not edited in place:\n%s", c)
	}
}

func TestDriftIssueFollowsTheCheck(t *testing.T) {
	report := writeFile(t, "### Stack `prod`: 1 resources drifted\n")
	tests := []struct {
		name, exit, existing string
		want                 []string
		wantErr              bool
	}{
		{"drift, no issue yet: open one", "2", "", []string{"issue create", "--title Drift in stack prod", "--label drift"}, false},
		{"drift persists: update it", "2", "12", []string{"issue edit 12", "issue comment 12"}, false},
		{"clean again: close it", "0", "12", []string{"issue close 12"}, false},
		{"clean, no issue: nothing", "0", "", nil, false},
		{"engine failure: refuse", "1", "12", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, env := fakeGH(t, tt.existing)
			out, err := run(t, env, "drift-issue.sh", "prod", tt.exit, report, "https://example/run/1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v\n%s", err, tt.wantErr, out)
			}
			c := calls(t, log)
			for _, w := range tt.want {
				if !strings.Contains(c, w) {
					t.Errorf("gh calls lack %q:\n%s", w, c)
				}
			}
			for _, verb := range []string{"issue create", "issue edit", "issue close"} {
				wanted := false
				for _, w := range tt.want {
					wanted = wanted || strings.HasPrefix(w, verb)
				}
				if !wanted && strings.Contains(c, verb) {
					t.Errorf("unexpected %q:\n%s", verb, c)
				}
			}
		})
	}
}
