package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The layout's three parts: the product (this module: main.go, stacks,
// components, the package's plugin and SDKs), the operator's command (cli/),
// and the proving ground (testbed/, a module of its own: the local cluster,
// its real node and images, the image contracts, the benchmarks, the tool
// builds and the end-to-end suite). The product never builds the proving
// ground, not even in its tests.
func TestTheProductBuildsWithoutTheProvingGround(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-tags", "e2e", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/acme/platform/stacks") {
		t.Fatalf("go list -deps lists no stacks package: the check is broken\n%s", out)
	}
	for _, dep := range deps {
		for _, forbidden := range provingGround {
			if strings.HasPrefix(dep, forbidden) {
				t.Errorf("the product module builds %s (the proving ground's %s)", dep, forbidden)
			}
		}
	}
	goMod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, forbidden := range provingGround {
		if strings.Contains(string(goMod), forbidden) {
			t.Errorf("go.mod requires %s: it belongs to testbed/go.mod", forbidden)
		}
	}
}

// provingGround are the proving ground's packages and the modules only it needs.
var provingGround = []string{
	"github.com/acme/platform/testbed",
	"k8s.io/kubernetes", "k8s.io/cri-api", "sigs.k8s.io/kwok", "github.com/coredns/", "github.com/jaegertracing/",
	"go.etcd.io/etcd/server", "github.com/google/go-containerregistry",
}

// stacks loads config and wires components, nothing else: the engine's
// Automation API, the other stacks' files and the engine's error text are
// the platform command's (cli/).
func TestStacksOnlyLoadsAndWires(t *testing.T) {
	for _, imp := range imports(t, "github.com/acme/platform/stacks") {
		if strings.HasPrefix(imp, "github.com/pulumi/pulumi/sdk/v3/go/auto") || imp == "regexp" || imp == "gopkg.in/yaml.v3" {
			t.Errorf("stacks imports %s", imp)
		}
	}
	files, err := filepath.Glob("stacks/*.go")
	if err != nil {
		t.Fatal(err)
	}
	reads := []string{"os.ReadFile", "os.Open", "os.OpenFile", "os.ReadDir", "filepath.Glob", "filepath.WalkDir", "filepath.Walk"}
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && slices.Contains(reads, x.Name+"."+sel.Sel.Name) {
					t.Errorf("%s calls %s.%s: stacks reads no files; its config comes from the engine", file, x.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no stacks source found: the check is broken")
	}
}

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
// (plugin/) is not part of the program's build, so serving the components
// to other languages never slows the program's rebuild.
func TestTheProgramBuildsWithoutThePackage(t *testing.T) {
	for _, program := range []string{"github.com/acme/platform", "github.com/acme/platform/cli/platform"} {
		out, err := exec.Command("go", "list", "-deps", program).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", program, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "github.com/acme/platform/plugin" || strings.HasPrefix(dep, "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider") {
				t.Errorf("%s builds %s: the package's plugin must stay out of the program", program, dep)
			}
		}
	}
}

// The policy pack's rules (policypack: Kubernetes' API types, upstream's
// Pod Security checks) are the analyzer's alone: the program, the platform
// command and the package's plugin share only policypack/shared with them.
func TestTheProgramBuildsWithoutThePolicyPack(t *testing.T) {
	for _, program := range []string{"github.com/acme/platform", "github.com/acme/platform/cli/platform", "github.com/acme/platform/plugin"} {
		out, err := exec.Command("go", "list", "-deps", program).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", program, err)
		}
		deps := strings.Fields(string(out))
		if !slices.Contains(deps, "github.com/acme/platform/policypack/shared") {
			t.Errorf("%s does not build policypack/shared: the check is broken, or the components no longer share the pack's checks", program)
		}
		for _, dep := range deps {
			if dep == "github.com/acme/platform/policypack" || strings.HasPrefix(dep, "k8s.io/pod-security-admission") {
				t.Errorf("%s builds %s: the pack's rules stay in its analyzer", program, dep)
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
		{"github.com/acme/platform/cli/platform", "github.com/acme/platform/components/", "the driver's main must not touch component types (5 s more per rebuild)"},
		{"github.com/acme/platform/cli/platform", "github.com/pulumi/pulumi-kubernetes/", "the driver's main must not touch SDK types"},
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

// The README is a manual, not a notebook: short, onboarding first, and every
// path it or docs/ names exists.
func TestTheREADMEIsAManual(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) > 600 {
		t.Errorf("README.md has %d lines; a manual fits in 600 (depth goes to docs/)", len(lines))
	}
	onboarding := slices.Index(lines, "## Onboarding a service")
	if onboarding < 0 || onboarding > len(lines)/3 {
		t.Errorf("onboarding a service starts at line %d of %d: it belongs in the first third", onboarding+1, len(lines))
	}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range append(docs, "README.md") {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repoPath.FindAllStringSubmatch(string(text), -1) {
			path := strings.TrimRight(m[1], ".,:;)")
			if strings.ContainsAny(path, "*<>$") {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s names %s, which does not exist", file, path)
			}
		}
	}
}

// repoPath matches a path of this repository written in backquotes.
var repoPath = regexp.MustCompile("`((?:app|cli|cmd|components|internal|plugin|policypack|sdk|stacks|testbed|scripts|examples|docs|\\.github)/[^` ]*)`")

// make lint vets with the e2e tag alone, which sees every file as long as
// no file is built only without it: e2e is the one build constraint.
func TestE2EIsTheOnlyBuildConstraint(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "*.go").Output()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range strings.Fields(string(out)) {
		if strings.HasPrefix(file, "sdk/") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for line := range strings.SplitSeq(string(data), "\n") {
			if strings.HasPrefix(line, "//go:build") && line != "//go:build e2e" {
				t.Errorf("%s: %q: make lint's go vet -tags e2e would not see this file", file, line)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d Go files listed: the check is broken", checked)
	}
}
