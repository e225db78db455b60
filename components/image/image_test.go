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

// A stack that promotes another's image (prod from dev) runs, in a release,
// exactly the image that stack recorded for the release's commit, whatever
// it runs now, and builds nothing; a commit it never built, another
// version's tag and an image not pinned by digest are refused, naming what
// differs. Outside a release it keeps the image it runs.
func TestPromotionRunsTheCommitsRecordedBuild(t *testing.T) {
	release, later := "0123456789abcdef0123456789abcdef01234567", "fedcba9876543210fedcba9876543210fedcba98"
	releaseImage := "ghcr.io/acme/greeter@sha256:" + strings.Repeat("a", 64)
	laterImage := "ghcr.io/acme/greeter@sha256:" + strings.Repeat("b", 64)
	record := func(builds ...map[string]any) map[string]any {
		list := []any{}
		for _, b := range builds {
			list = append(list, b)
		}
		// What dev runs now (image) is the later commit: prod must not take it.
		return map[string]any{"services": map[string]any{
			"greeter": map[string]any{"image": laterImage, "builds": list},
			"other":   map[string]any{"image": "ghcr.io/acme/other@sha256:" + strings.Repeat("f", 64)},
		}}
	}
	build := func(commit, tag, image string) map[string]any {
		return map[string]any{"commit": commit, "tag": tag, "image": image}
	}
	tests := []struct {
		name    string
		outputs map[string]any
		release string
		want    string // the pod's image, or the error's words
	}{
		// Outside a release (a pull request's preview, a drift check) the
		// stack keeps what it runs (here: its own output, the later image).
		{"no release: the image it runs", record(build(release, "1.2.3-0123456789ab", releaseImage)), "", laterImage},
		{"no release, nothing running yet", map[string]any{}, "", `runs no image of service "greeter" yet, and this is no release: deploy a release (PLATFORM_RELEASE=<commit>`},
		{"the release commit's build, dev ran later ones since", record(build(later, "1.2.3-fedcba987654", laterImage), build(release, "1.2.3-0123456789ab", releaseImage)), release, releaseImage},
		{"a short commit id names the same commit", record(build(release, "1.2.3-0123456789ab", releaseImage)), release[:12], releaseImage},
		{"a commit dev never built", record(build(later, "1.2.3-fedcba987654", laterImage)), release,
			"stack organization/platform/dev has no build of commit " + release + ` of service "greeter" (its latest: fedcba987654): deploy this commit to dev first`},
		{"dev before it recorded builds", map[string]any{"services": map[string]any{"greeter": map[string]any{"image": laterImage}}}, release, "(its latest: none)"},
		{"dev not deployed at all", map[string]any{}, release, "has no build of commit"},
		{"another version", record(build(release, "1.2.2-0123456789ab", releaseImage)), release,
			"built commit " + release + ` of service "greeter" as tag 1.2.2-0123456789ab, this stack expects tag 1.2.3-0123456789ab`},
		{"not pinned", record(build(release, "1.2.3-0123456789ab", "ghcr.io/acme/greeter:1.2.3-0123456789ab")), release, "which is not pinned by digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", tt.outputs))
			g, err := deploy(t, Args{Source: Source{PromoteFrom: "dev"}, Service: "greeter", Version: "1.2.3", Release: tt.release})
			if !strings.HasPrefix(tt.want, "ghcr.io/") {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("want the promotion refused with %q, got %v", tt.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(g.OfType(imageType)); n != 0 {
				t.Fatalf("%d images built for a promoted one", n)
			}
			ref := "greeter-from-dev"
			if tt.release == "" {
				ref = "greeter-running" // the stack's own: the mocks' stack is named dev too
			}
			if from := g.One(t, "pulumi:pulumi:StackReference", ref); from.ReadID != "organization/platform/dev" {
				t.Errorf("the stack reference %s reads %q", ref, from.ReadID)
			}
			if got, _ := g.One(t, "kubernetes:apps/v1:Deployment", "greeter").Input("spec.template.spec.containers.0.image"); got != tt.want {
				t.Errorf("pod image %v, want %s", got, tt.want)
			}
		})
	}
}

// A building stack records its builds, newest first: this run's on top of
// what its last run recorded (read through a stack reference to itself), a
// rebuild of the same commit replacing that commit's entry, KeptBuilds kept.
func TestBuildsAreRecorded(t *testing.T) {
	args := buildArgs(project(t))
	older := func(i int) map[string]any {
		commit := fmt.Sprintf("%040x", i+1)
		return map[string]any{"commit": commit, "tag": "1.2.3-" + commit[:12], "image": "ghcr.io/acme/greeter@sha256:" + strings.Repeat("c", 64)}
	}
	var previous []any
	previous = append(previous, map[string]any{"commit": args.Commit, "tag": "1.2.3-0123456789ab", "image": "ghcr.io/acme/greeter@sha256:" + strings.Repeat("e", 64)})
	for i := range KeptBuilds + 5 {
		previous = append(previous, older(i))
	}
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"builds": previous}},
	}))
	var builds []any
	_, err := pulumitest.Run(t, "platform", "dev", func(ctx *pulumi.Context) error {
		p, err := docker.NewProvider(ctx, "docker", &docker.ProviderArgs{})
		if err != nil {
			return err
		}
		args.Service = "greeter"
		img, err := NewImage(ctx, "greeter", args, p)
		if err != nil {
			return err
		}
		img.Builds.ApplyT(func(v []any) []any { builds = v; return v })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != KeptBuilds {
		t.Fatalf("%d builds recorded, want %d", len(builds), KeptBuilds)
	}
	want := map[string]any{"commit": args.Commit, "tag": "1.2.3-0123456789ab", "image": "ghcr.io/acme/greeter@" + pulumitest.FakeDigest}
	if fmt.Sprint(builds[0]) != fmt.Sprint(want) {
		t.Errorf("newest build %v, want this run's %v", builds[0], want)
	}
	if fmt.Sprint(builds[1]) != fmt.Sprint(older(0)) || fmt.Sprint(builds[KeptBuilds-1]) != fmt.Sprint(older(KeptBuilds-2)) {
		t.Errorf("the record after this run's build: %v … %v, want the last run's in order, this commit's old entry dropped", builds[1], builds[KeptBuilds-1])
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
		{"imageFrom a bad name", func(a *Args) { a.Build, a.PromoteFrom = nil, "dev stack" }, `imageFrom: "dev stack": must be the name of a stack`},
		{"imageFrom a release that is no commit", func(a *Args) { a.Build, a.PromoteFrom, a.Release = nil, "dev", "v1.2.3" }, `(release): "v1.2.3": must be a git commit id`},
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
