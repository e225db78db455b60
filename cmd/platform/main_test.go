package main

import (
	"bytes"
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
