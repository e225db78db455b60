package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/pulumitest"
)

const imageType = "docker:index/image:Image"

// project lays out a build context with a Dockerfile, as the repo's app/ is.
func project(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func buildArgs(dir string) Args {
	return Args{
		Source:   Source{Build: &Build{Repository: "ghcr.io/acme/greeter", Username: "acme-bot", PasswordSecret: "registryToken"}},
		BaseDir:  dir,
		Version:  "1.2.3",
		Commit:   "0123456789abcdef0123456789abcdef01234567",
		Password: pulumi.String("registry-token"),
	}
}

// deploy builds the image and runs the workload on its digest, as the stacks do.
func deploy(t *testing.T, args Args) (*pulumitest.Graph, error) {
	t.Helper()
	return pulumitest.Run(t, "platform", "dev", func(ctx *pulumi.Context) error {
		dockerProvider, err := docker.NewProvider(ctx, "docker", &docker.ProviderArgs{})
		if err != nil {
			return err
		}
		img, err := NewImage(ctx, "greeter", args, dockerProvider)
		if err != nil {
			return err
		}
		k8s, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		service := workload.Profile("dev")
		service.Name, service.Version, service.Image = "greeter", "1.2.3", img.Reference
		_, err = workload.NewWorkload(ctx, "greeter", service, k8s)
		return err
	})
}

func TestBuildsPushesAndPinsTheDigest(t *testing.T) {
	g, err := deploy(t, buildArgs(project(t)))
	if err != nil {
		t.Fatal(err)
	}
	component := g.One(t, TypeToken, "greeter")
	img := g.One(t, imageType, "greeter")
	if img.Parent != component.URN || !strings.Contains(img.Provider, "pulumi:providers:docker::docker") {
		t.Errorf("%s: parent %q provider %q", img.Name, img.Parent, img.Provider)
	}
	for path, want := range map[string]any{
		// One immutable tag: the version and the commit.
		"imageName":          "ghcr.io/acme/greeter:1.2.3-0123456789ab",
		"build.platform":     "linux/amd64",
		"build.args.VERSION": "1.2.3",
		"build.context":      "app",
		"build.dockerfile":   "app/Dockerfile",
		"buildOnPreview":     false,
		"registry.server":    "ghcr.io",
		"registry.username":  "acme-bot",
	} {
		if got, _ := img.Input(path); got != want {
			t.Errorf("%s %s = %v, want %v", img.Name, path, got, want)
		}
	}
	if !img.Secret("registry.password") {
		t.Errorf("%s: the registry password is not a secret in what the provider receives", img.Name)
	}
	d := g.One(t, "kubernetes:apps/v1:Deployment", "greeter")
	if got, _ := d.Input("spec.template.spec.containers.0.image"); got != "ghcr.io/acme/greeter@"+pulumitest.FakeDigest {
		t.Errorf("pod image %v, want the pushed digest", got)
	}
}

// The same commit from another checkout folder gives the build the very same
// inputs: nothing in them names where the project is.
func TestMovingTheCheckoutChangesNothing(t *testing.T) {
	inputs := func(dir string) string {
		g, err := deploy(t, buildArgs(dir))
		if err != nil {
			t.Fatal(err)
		}
		inputs := g.One(t, imageType, "greeter").Inputs.Mappable()
		delete(inputs["registry"].(map[string]any), "password") // a secret: prints as a pointer
		return fmt.Sprint(inputs)
	}
	one, two := project(t), project(t)
	if a, b := inputs(one), inputs(two); a != b || strings.Contains(a, one) {
		t.Errorf("the build's inputs depend on the checkout folder:\n%s\n%s", a, b)
	}
}

// A stack that promotes another's image (prod from dev) runs exactly the
// digest that stack's services output pins, and builds nothing.
func TestPromotedImageIsTheOtherStacksDigest(t *testing.T) {
	ref := "ghcr.io/acme/greeter@" + pulumitest.FakeDigest
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": ref}, "other": map[string]any{"image": "ghcr.io/acme/other@sha256:" + strings.Repeat("f", 64)}},
	}))
	g, err := deploy(t, Args{Source: Source{PromoteFrom: "dev"}, Service: "greeter"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.OfType(imageType)); n != 0 {
		t.Fatalf("%d images built for a promoted one", n)
	}
	from := g.One(t, "pulumi:pulumi:StackReference", "greeter-from-dev")
	if from.ReadID != "organization/platform/dev" {
		t.Errorf("the stack reference reads %q", from.ReadID)
	}
	if got, _ := g.One(t, "kubernetes:apps/v1:Deployment", "greeter").Input("spec.template.spec.containers.0.image"); got != ref {
		t.Errorf("pod image %v, want dev's %s", got, ref)
	}
}

// A stack that runs no pinned image of the service (not deployed yet, or a
// tag instead of a digest) is refused, saying what to do.
func TestPromotingWhatIsNotPinnedFails(t *testing.T) {
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": "ghcr.io/acme/greeter:1.2.3"}},
	}))
	_, err := deploy(t, Args{Source: Source{PromoteFrom: "dev"}, Service: "greeter"})
	if err == nil || !strings.Contains(err.Error(), `runs no image of service "greeter" pinned by digest`) || !strings.Contains(err.Error(), "deploy dev first") {
		t.Fatalf("want the promotion refused, got %v", err)
	}
}

func TestPrebuiltBuildsNothing(t *testing.T) {
	ref := "ghcr.io/acme/greeter@" + pulumitest.FakeDigest
	g, err := deploy(t, Args{Source: Source{Prebuilt: ref}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.OfType(imageType)); n != 0 {
		t.Fatalf("%d images built for a prebuilt reference", n)
	}
	if got, _ := g.One(t, "kubernetes:apps/v1:Deployment", "greeter").Input("spec.template.spec.containers.0.image"); got != ref {
		t.Errorf("pod image %v, want %s", got, ref)
	}
}

func TestValidation(t *testing.T) {
	dir := project(t)
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"missing context", func(a *Args) { a.Build.Context = "nope" }, `build.context: "nope": must be a folder of the project`},
		{"missing dockerfile", func(a *Args) { a.Build.Dockerfile = "app/Nope" }, `build.dockerfile: "app/Nope": must be a Dockerfile of the project`},
		{"no username", func(a *Args) { a.Build.Username = "" }, `build.username: "": is required`},
		{"no password from the program", func(a *Args) { a.Password = nil }, "build.passwordSecret: the program passed no password"},
		{"latest", func(a *Args) { a.Version = "latest" }, `version: "latest": must not be "latest"`},
		{"bad repository", func(a *Args) { a.Build.Repository = "greeter:1" }, `build.repository: "greeter:1": must be registry/path without tag`},
		{"bad commit", func(a *Args) { a.Commit = "HEAD" }, `(commit): "HEAD": must be a git commit id`},
		{"no commit", func(a *Args) { a.Commit = "" }, `(commit): "": must be a git commit id`},
		{"build and imageFrom", func(a *Args) { a.PromoteFrom = "dev" }, `image: "": give one of image, build and imageFrom`},
		{"imageFrom a bad name", func(a *Args) { *a = Args{Source: Source{PromoteFrom: "dev stack"}} }, `imageFrom: "dev stack": must be the name of a stack`},
		{"bad platform", func(a *Args) { a.Build.Platform = "amd64" }, `build.platform: "amd64": must be os/arch`},
		{"both", func(a *Args) { a.Prebuilt = "ghcr.io/acme/greeter@" + pulumitest.FakeDigest }, `image: "ghcr.io/acme/greeter@sha256:`},
		{"neither", func(a *Args) { a.Build = nil }, `image: "": is required unless build or imageFrom is given`},
		{"prebuilt malformed", func(a *Args) { *a = Args{Source: Source{Prebuilt: "not an image"}} }, `image: "not an image": must be an image reference`},
		{"prebuilt by tag", func(a *Args) { *a = Args{Source: Source{Prebuilt: "ghcr.io/acme/greeter:1.2.3"}} }, `image: "ghcr.io/acme/greeter:1.2.3": must be pinned by digest`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := buildArgs(dir)
			tt.mutate(&args)
			_, err := deploy(t, args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}
