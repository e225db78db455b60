package image

import (
	"os"
	"path/filepath"
	"slices"
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
	images := g.OfType(imageType)
	if len(images) != 2 {
		t.Fatalf("%d images, want one per tag (version, commit)", len(images))
	}
	component := g.One(t, TypeToken, "greeter")
	var names []string
	for _, img := range images {
		if img.Parent != component.URN || !strings.Contains(img.Provider, "pulumi:providers:docker::docker") {
			t.Errorf("%s: parent %q provider %q", img.Name, img.Parent, img.Provider)
		}
		name, _ := img.Input("imageName")
		names = append(names, name.(string))
		for path, want := range map[string]any{
			"build.platform":     "linux/amd64",
			"build.args.VERSION": "1.2.3",
			"buildOnPreview":     false,
			"registry.server":    "ghcr.io",
			"registry.username":  "acme-bot",
		} {
			if got, _ := img.Input(path); got != want {
				t.Errorf("%s %s = %v, want %v", img.Name, path, got, want)
			}
		}
		if got, _ := img.Input("build.dockerfile"); !strings.HasSuffix(got.(string), "app/Dockerfile") {
			t.Errorf("dockerfile %v", got)
		}
		if !img.Secret("registry.password") {
			t.Errorf("%s: the registry password is not a secret in what the provider receives", img.Name)
		}
	}
	slices.Sort(names) // the engine registers resources concurrently: any order
	if strings.Join(names, " ") != "ghcr.io/acme/greeter:1.2.3 ghcr.io/acme/greeter:sha-0123456789ab" {
		t.Errorf("tags %v", names)
	}
	d := g.One(t, "kubernetes:apps/v1:Deployment", "greeter")
	if got, _ := d.Input("spec.template.spec.containers.0.image"); got != "ghcr.io/acme/greeter@"+pulumitest.FakeDigest {
		t.Errorf("pod image %v, want the pushed digest", got)
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
		{"bad commit", func(a *Args) { a.Commit = "HEAD" }, `(GITHUB_SHA): "HEAD": must be a git commit id`},
		{"bad platform", func(a *Args) { a.Build.Platform = "amd64" }, `build.platform: "amd64": must be os/arch`},
		{"both", func(a *Args) { a.Prebuilt = "ghcr.io/acme/greeter@" + pulumitest.FakeDigest }, `image: "ghcr.io/acme/greeter@sha256:`},
		{"neither", func(a *Args) { a.Build = nil }, `image: "": is required unless build is given`},
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
