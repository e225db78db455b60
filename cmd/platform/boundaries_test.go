package main

import (
	"os/exec"
	"strings"
	"testing"
)

// imports lists the packages pkg imports directly.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestTheProgramBuildsWithoutThePackage: the plugin of the Pulumi package
// (provider/) is not part of the program's build, so serving the components
// to other languages never slows the program's rebuild.
func TestTheProgramBuildsWithoutThePackage(t *testing.T) {
	for _, program := range []string{"github.com/acme/platform", "github.com/acme/platform/cmd/platform"} {
		out, err := exec.Command("go", "list", "-deps", program).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", program, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "github.com/acme/platform/provider" || strings.HasPrefix(dep, "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider") {
				t.Errorf("%s builds %s: the package's plugin must stay out of the program", program, dep)
			}
		}
	}
}

// The import boundaries that keep a rebuild after an edit fast (README,
// Performance): the driver's main touches no component, whose argument types
// instantiate the SDK's generics anew in every package that uses them, and
// stacks imports no GitHub or Docker SDK (the components declare their
// providers).
func TestBuildSpeedBoundaries(t *testing.T) {
	for _, rule := range []struct {
		pkg, forbidden, why string
	}{
		{"github.com/acme/platform/cmd/platform", "github.com/acme/platform/components/", "the driver's main must not touch component types (5 s more per rebuild)"},
		{"github.com/acme/platform/cmd/platform", "github.com/pulumi/pulumi-kubernetes/", "the driver's main must not touch SDK types"},
		{"github.com/acme/platform/stacks", "github.com/pulumi/pulumi-github/", "stacks must not import the GitHub SDK"},
		{"github.com/acme/platform/stacks", "github.com/pulumi/pulumi-docker/", "stacks must not import the Docker SDK"},
	} {
		for _, imp := range imports(t, rule.pkg) {
			if strings.HasPrefix(imp, rule.forbidden) {
				t.Errorf("%s imports %s: %s", rule.pkg, imp, rule.why)
			}
		}
	}
}
