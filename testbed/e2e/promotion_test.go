//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/components/image"
)

// TestPromotionRunsTheReleasedCommitsBuild promotes an image on the real
// engine, on a file backend and on an S3 bucket shared by both stacks as in
// CI, as prod promotes dev's: a stack "dev" of a project
// named platform records two builds, one deploy each (through the stack
// reference to itself that image.RecordBuild reads its last record with); a
// stack "prod" declares the image component with imageFrom: dev for the
// first commit as its release, and must run that commit's image though dev
// runs the second, refuse a commit dev never built, and keep its image in a
// run that is no release. No resource plugin is needed.
func TestPromotionRunsTheReleasedCommitsBuild(t *testing.T) {
	backends(t, testPromotion)
}

func testPromotion(t *testing.T) {
	dir := trivialProject(t, "dev", "prod")
	released, later, never := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	digest := func(commit string) string { return "ghcr.io/acme/greeter@sha256:" + strings.Repeat(commit[:1], 64) }

	run := func(stack string, program func(ctx *pulumi.Context) error) (map[string]any, error) {
		t.Helper()
		s, err := driver.Open(t.Context(), driver.Options{ProjectDir: dir, Stack: stack, Create: true,
			Program: func(auto.ConfigMap) pulumi.RunFunc { return program }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Up(t.Context(), false); err != nil {
			return nil, err
		}
		return s.Outputs(t.Context())
	}
	args := func(commit string) image.Args {
		return image.Args{Service: "greeter", Version: "1.2.3", Commit: commit}
	}
	deployDev := func(commit string) map[string]any {
		outputs, err := run("dev", func(ctx *pulumi.Context) error {
			builds, err := image.RecordBuild(ctx, "greeter", args(commit), pulumi.String(digest(commit)).ToStringOutput())
			if err != nil {
				return err
			}
			ctx.Export("services", pulumi.Map{"greeter": pulumi.Map{"image": pulumi.String(digest(commit)), "builds": builds}})
			return nil
		})
		if err != nil {
			t.Fatalf("up of dev at %s: %v", commit[:12], err)
		}
		return outputs
	}
	deployProd := func(release string) (map[string]any, error) {
		return run("prod", func(ctx *pulumi.Context) error {
			a := image.Args{Source: image.Source{PromoteFrom: "dev"}, Service: "greeter", Version: "1.2.3", Release: release}
			img, err := image.NewImage(ctx, "greeter", a, nil)
			if err != nil {
				return err
			}
			ctx.Export("image", img.Reference)
			ctx.Export("services", pulumi.Map{"greeter": pulumi.Map{"image": img.Reference}})
			return nil
		})
	}

	deployDev(released)
	outputs := deployDev(later)
	builds := outputs["services"].(map[string]any)["greeter"].(map[string]any)["builds"].([]any)
	var commits []string
	for _, b := range builds {
		commits = append(commits, b.(map[string]any)["commit"].(string)[:1])
	}
	if strings.Join(commits, ",") != "b,a" {
		t.Fatalf("dev's record of builds names commits %v, want the later then the released one", commits)
	}
	outputs, err := deployProd(released)
	if err != nil {
		t.Fatalf("up of prod: %v", err)
	}
	if outputs["image"] != digest(released) {
		t.Fatalf("prod's promoted image %v, want the released commit's %s (dev runs %s)", outputs["image"], digest(released), digest(later))
	}
	if _, err := deployProd(never); err == nil || !strings.Contains(err.Error(), "has no build of commit "+never) {
		t.Fatalf("prod at a commit dev never built: want it refused, got %v", err)
	}
	// Outside a release (a drift check, a pull request's preview) prod keeps
	// what it runs, read from its own state.
	if outputs, err := deployProd(""); err != nil || outputs["image"] != digest(released) {
		t.Fatalf("prod outside a release runs %v (%v), want the released image it ran, %s", outputs["image"], err, digest(released))
	}
}
