package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Mistakes in the command line fail before any stack is opened or created.
func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage: platform"},
		{[]string{"--stack", "local"}, "usage: platform"},
		{[]string{"prevew", "--stack", "local"}, `unknown command "prevew"`},
		{[]string{"preview"}, "--stack is required"},
		{[]string{"preview", "--stack", "local", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"drift", "--stack", "local", "--cwd", "/nonexistent-project"}, "no Pulumi.yaml in /nonexistent-project"},
		// Another command's flag is refused, with this command's usage.
		{[]string{"up", "--stack", "local", "--days", "3"}, "flag provided but not defined: -days"},
		{[]string{"drift", "--stack", "local", "--renew"}, "flag provided but not defined: -renew"},
		{[]string{"outputs", "--stack", "local", "--refresh"}, "Usage of platform outputs"},
		{[]string{"preview", "--stack", "local", "--unprotect"}, "-expect-no-changes"},
		{[]string{"up", "--stack", "local", "--cwd", "../..", "--checkpoints", "sometimes"}, `--checkpoints "sometimes": want auto, at-end or every-step`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), nil, tt.args, &stdout, &stderr); code != exitError {
			t.Errorf("%v: exit %d, want %d", tt.args, code, exitError)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: stderr %q lacks %q", tt.args, stderr.String(), tt.want)
		}
	}
}

// Each command's usage lists its own flags and no other command's.
func TestEachCommandItsOwnFlags(t *testing.T) {
	for command, own := range commandFlags {
		var stderr bytes.Buffer
		if code := run(t.Context(), nil, []string{command, "-h"}, &bytes.Buffer{}, &stderr); code != exitError {
			t.Errorf("%s -h: exit %d", command, code)
		}
		for other, theirs := range commandFlags {
			for _, flag := range theirs {
				listed := strings.Contains(stderr.String(), "  -"+flag+" ") || strings.Contains(stderr.String(), "  -"+flag+"\n")
				if mine := slices.Contains(own, flag); listed != mine {
					t.Errorf("%s -h lists -%s (a flag of %s): %v, want %v\n%s", command, flag, other, listed, mine, stderr.String())
				}
			}
		}
	}
}

// In CI a stack other than local never falls back to the checkout's .state:
// an unset backend secret is refused by name before any stack is opened.
func TestCIRefusesTheCheckoutsState(t *testing.T) {
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte("name: platform\nruntime: go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ci, backend, stack string
		refused            bool
	}{
		{"true", "", "dev", true},
		{"true", "", "prod", true},
		{"", "", "prod", false},      // a developer's machine: the project's .state
		{"true", "", "local", false}, // the local stack lives in .state everywhere
		{"true", "s3://state", "prod", false},
	} {
		t.Setenv("CI", tt.ci)
		t.Setenv("GITHUB_ACTIONS", "")
		t.Setenv("PULUMI_BACKEND_URL", tt.backend)
		err := requireSharedBackend(tt.stack)
		if (err != nil) != tt.refused {
			t.Errorf("CI=%q PULUMI_BACKEND_URL=%q stack %s: %v, want refused %v", tt.ci, tt.backend, tt.stack, err, tt.refused)
		}
	}
	t.Setenv("CI", "")
	t.Setenv("GITHUB_ACTIONS", "true")
	t.Setenv("PULUMI_BACKEND_URL", "")
	var stderr bytes.Buffer
	if code := run(t.Context(), nil, []string{"drift", "--stack", "prod", "--cwd", project}, &bytes.Buffer{}, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "set the repository secret PULUMI_BACKEND_URL") {
		t.Errorf("drift of prod on a runner without a backend: exit %d, %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(project, ".state")); !os.IsNotExist(err) {
		t.Errorf("the refused run made the checkout's .state: %v", err)
	}
}

// Every preview and update runs the platform's policy pack from beside the
// command, with the stack's pack config when it has one; --policy-pack adds
// others (with their defaults); a missing pack is refused, saying what
// builds it.
func TestPolicyPacks(t *testing.T) {
	bin, project := t.TempDir(), t.TempDir()
	if _, _, err := policyPacks(bin, project, "dev", nil); err == nil || !strings.Contains(err.Error(), "make platform builds it") {
		t.Fatalf("a missing pack: got %v", err)
	}
	own := filepath.Join(bin, analyzerName)
	if err := os.WriteFile(own, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	packs, configs, err := policyPacks(bin, project, "organization/dev", []string{"other-pack"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := filepath.Abs("other-pack")
	if !slices.Equal(packs, []string{own, other}) || !slices.Equal(configs, []string{"", ""}) {
		t.Errorf("without a config file: packs %v, configs %q", packs, configs)
	}
	config := filepath.Join(project, "policypack", "config", "dev.json")
	if err := os.MkdirAll(filepath.Dir(config), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte(`{"version": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, configs, _ = policyPacks(bin, project, "organization/dev", nil); !slices.Equal(configs, []string{config}) {
		t.Errorf("with dev's config: configs %q, want %s", configs, config)
	}
}
