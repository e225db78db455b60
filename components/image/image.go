// Package image builds a service's container image and pushes it to a
// registry, or takes one that CI built already, and hands its digest to the
// workload component, so that Deployments pin the exact image they run.
package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/validate"
	"github.com/acme/platform/policypack/shared"
)

// TypeToken is the Pulumi type of the component.
const TypeToken = "platform:image:Image"

// Args say which image to build and where to push it, or which prebuilt image
// to use. Source is the config schema (keys image and build of a service);
// the other fields the program fills.
type Args struct {
	Source
	// Service is the service's name: the key of the promoting stack's
	// services output (PromoteFrom).
	Service string `json:"-" package:"service,required"`
	// Version is passed as the VERSION build argument and begins the tag.
	Version string `json:"-" package:"version,required"`
	// Commit is the git commit the image is built from. The image's one tag
	// is <version>-<first 12 of the commit>: immutable, as each commit builds
	// once and a tag is never pushed twice.
	Commit string `json:"-" package:"commit"`
	// Release is the commit a promoting stack deploys (a release tag's): its
	// image is the build PromoteFrom recorded for that commit. Empty, the
	// stack keeps the image it runs (its own services output), so that a
	// preview or drift check outside a release changes no image.
	Release string `json:"-" package:"release"`
	// BaseDir is where relative paths start: the project root.
	BaseDir string `json:"-" package:"baseDir"`
	// Password logs in to the registry with Build.Username: the value of the
	// secret config key Build.PasswordSecret. It stays a Pulumi secret.
	Password pulumi.StringInput `json:"-"`
}

// Source is where a service's image comes from: exactly one of a prebuilt
// image, a build, and another stack's image.
type Source struct {
	// Prebuilt is an image that CI built and pushed already, pinned by digest
	// (repository@sha256:...). When set, nothing is built or pushed.
	Prebuilt string `json:"image,omitempty"`
	// Build builds and pushes the image from the project.
	Build *Build `json:"build,omitempty"`
	// PromoteFrom is the stack (of this project) whose build of the release
	// the stack runs: the image that stack recorded for Release in its
	// services output (<service>.builds), read through a stack reference.
	// prod promotes what dev built and ran for the release tag's commit, and
	// never builds; a commit dev never deployed is refused.
	PromoteFrom string `json:"imageFrom,omitempty"`
}

// Build says how to build and push an image.
type Build struct {
	// Context is the build context folder (default "app"), relative to the project root.
	Context string `json:"context,omitempty"`
	// Dockerfile, relative to the project root (default <context>/Dockerfile).
	Dockerfile string `json:"dockerfile,omitempty"`
	// Platform to build for (default linux/amd64).
	Platform string `json:"platform,omitempty"`
	// Repository to push to, without tag: ghcr.io/acme/greeter.
	Repository string `json:"repository"`
	// Registry is the server to log in to (default: the repository's host).
	Registry string `json:"registry,omitempty"`
	// Username logs in to the registry, with the password or token held by
	// the secret config key PasswordSecret.
	Username       string `json:"username"`
	PasswordSecret string `json:"passwordSecret"`
	// BuildOnPreview builds during previews too (default false: previews on
	// pull requests stay fast and never push).
	BuildOnPreview bool `json:"buildOnPreview,omitempty"`
}

// Image is a built and pushed image, or a prebuilt one.
type Image struct {
	pulumi.ResourceState

	// Reference is the image pinned by digest, for the workload's pod spec.
	Reference pulumi.StringOutput `pulumi:"reference"`
	// Builds is the record of a building stack's images, newest first: this
	// run's build and the KeptBuilds-1 before it ([]Record), which promoting
	// stacks look their commit up in. Empty when the stack builds nothing.
	Builds pulumi.ArrayOutput `pulumi:"builds"`
}

// Record is one image a stack built and ran: its commit, its tag
// (<version>-<commit>) and the image pinned by digest.
type Record struct {
	Commit string `json:"commit"`
	Tag    string `json:"tag"`
	Image  string `json:"image"`
}

// KeptBuilds is how many builds a stack's record keeps: a release tag on a
// commit more than this many deploys of dev ago is refused (deploy it to dev
// again, which rebuilds nothing when its image exists).
const KeptBuilds = 50

// WithSecrets fills Password with the value of Build.PasswordSecret.
func (a Args) WithSecrets(lookup component.SecretLookup) Args {
	if a.Build != nil && a.Build.PasswordSecret != "" {
		a.Password, _ = lookup("build.passwordSecret", a.Build.PasswordSecret)
	}
	return a
}

// Defaults returns a copy with the build's derived settings filled: the
// Dockerfile in the context, the registry of the repository's host.
func (a Args) Defaults() Args {
	if a.Build == nil {
		return a
	}
	b := *a.Build
	if b.Context == "" {
		b.Context = "app"
	}
	if b.Dockerfile == "" {
		b.Dockerfile = filepath.Join(b.Context, "Dockerfile")
	}
	if b.Platform == "" {
		b.Platform = "linux/amd64"
	}
	if b.Registry == "" {
		if host, _, found := strings.Cut(b.Repository, "/"); found {
			b.Registry = host
		}
	}
	a.Build = &b
	return a
}

// NeedsProvider is true for a build: the Docker provider builds and pushes.
func (a Args) NeedsProvider() bool { return a.Build != nil }

var (
	repositoryPattern = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	tagPattern        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	commitPattern     = regexp.MustCompile(`^[0-9a-f]{12,40}$`)
	platformPattern   = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+(/v[0-9])?$`)
)

var stackName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// Validate reports every problem at once, at the paths of the config keys.
func (a Args) Validate() validate.Problems {
	var p validate.Problems
	given := 0
	for _, set := range []bool{a.Prebuilt != "", a.Build != nil, a.PromoteFrom != ""} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		p.Add("image", a.Prebuilt, "give one of image, build and imageFrom")
		return p
	case given == 0:
		p.Add("image", a.Prebuilt, "is required unless build or imageFrom is given: an image CI pushed, pinned by digest")
		return p
	case a.PromoteFrom != "":
		if !stackName.MatchString(a.PromoteFrom) {
			p.Add("imageFrom", a.PromoteFrom, "must be the name of a stack of this project, such as dev")
		}
		if a.Release != "" {
			p = append(p, a.validateTag("(release)", a.Release)...)
		}
		return p
	case a.Prebuilt != "":
		if err := kube.ValidateImageReference(a.Prebuilt); err != nil {
			p.Add("image", a.Prebuilt, err.Error())
		} else if !shared.PinnedByDigest(a.Prebuilt) {
			p.Add("image", a.Prebuilt, "must be pinned by digest (…@sha256:<64 hex digits>), as CI pushed it")
		}
		return p
	}
	b := a.Build
	if info, err := os.Stat(filepath.Join(a.BaseDir, b.Context)); err != nil || !info.IsDir() {
		p.Add("build.context", b.Context, "must be a folder of the project (the build context)")
	}
	if info, err := os.Stat(filepath.Join(a.BaseDir, b.Dockerfile)); err != nil || info.IsDir() {
		p.Add("build.dockerfile", b.Dockerfile, "must be a Dockerfile of the project")
	}
	if !platformPattern.MatchString(b.Platform) {
		p.Add("build.platform", b.Platform, "must be os/arch such as linux/amd64")
	}
	if !repositoryPattern.MatchString(b.Repository) {
		p.Add("build.repository", b.Repository, "must be registry/path without tag, such as ghcr.io/acme/greeter")
	}
	p = append(p, a.validateTag("(commit)", a.Commit)...)
	if b.Username == "" {
		p.Add("build.username", b.Username, "is required: the registry user")
	}
	if b.PasswordSecret == "" {
		p.Add("build.passwordSecret", b.PasswordSecret, "is required: the secret config key of the registry password or token")
	}
	return p
}

// validateTag checks what the image's tag is made of: the version and the
// commit (at the given path: the build's or the release's).
func (a Args) validateTag(path, commit string) validate.Problems {
	var p validate.Problems
	switch {
	case a.Version == "latest":
		p.Add("version", a.Version, `must not be "latest": tag a version`)
	case !tagPattern.MatchString(a.Version):
		p.Add("version", a.Version, "must be a valid image tag, such as 1.2.3")
	}
	if !commitPattern.MatchString(commit) {
		p.Add(path, commit, "must be a git commit id (12 to 40 lower-case hex digits): GITHUB_SHA, or the checkout's HEAD; the image's tag is <version>-<commit>")
	}
	return p
}

// NewImage builds and pushes the image with the given Docker provider, or
// takes the prebuilt one (then the provider may be nil).
func NewImage(ctx *pulumi.Context, name string, args Args, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*Image, error) {
	img := &Image{}
	err := component.New(ctx, TypeToken, name, img, args, provider, func(args Args, children []pulumi.ResourceOption) error {
		img.Builds = pulumi.Array{}.ToArrayOutput()
		if args.Prebuilt != "" {
			img.Reference = pulumi.String(args.Prebuilt).ToStringOutput()
			return nil
		}
		if args.PromoteFrom != "" {
			ref, err := promoted(ctx, name, args, children)
			img.Reference = ref
			return err
		}
		if args.Password == nil {
			return errors.New("build.passwordSecret: the program passed no password")
		}
		built, err := build(ctx, name, args, children)
		if err != nil {
			return err
		}
		img.Reference = built.RepoDigest
		img.Builds, err = RecordBuild(ctx, name, args, built.RepoDigest, children...)
		return err
	}, opts...)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// tag is the image's one tag: the version and the commit, so that it names
// one build and is never pushed twice.
func (a Args) tag() string { return tagOf(a.Version, a.Commit) }

func tagOf(version, commit string) string { return version + "-" + commit[:12] }

// build builds and pushes the image. The build inputs are relative to the
// project root, where the engine runs the provider, so that the same commit
// from another checkout folder changes no input and builds nothing.
func build(ctx *pulumi.Context, name string, args Args, children []pulumi.ResourceOption) (*docker.Image, error) {
	b := args.Build
	return docker.NewImage(ctx, name, &docker.ImageArgs{
		ImageName: pulumi.String(b.Repository + ":" + args.tag()),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(filepath.ToSlash(filepath.Clean(b.Context))),
			Dockerfile: pulumi.String(filepath.ToSlash(filepath.Clean(b.Dockerfile))),
			Platform:   pulumi.String(b.Platform),
			Args:       pulumi.StringMap{"VERSION": pulumi.String(args.Version)},
		},
		BuildOnPreview: pulumi.Bool(b.BuildOnPreview),
		Registry: &docker.RegistryArgs{
			Server:   pulumi.String(b.Registry),
			Username: pulumi.String(b.Username),
			Password: pulumi.ToSecret(args.Password).(pulumi.StringOutput),
		},
	}, append(children, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name + "-0")}}))...)
}

// RecordBuild is the stack's record of builds of args' service with this
// run's image (built from args.Commit, pinned by digest) first: the record
// the stack's last run exported (services output <service>.builds), read
// through a stack reference to itself (the engine reads the last
// checkpoint's outputs), with this commit's entry replaced, kept to
// KeptBuilds. NewImage records what it builds with it.
func RecordBuild(ctx *pulumi.Context, name string, args Args, image pulumi.StringOutput, opts ...pulumi.ResourceOption) (pulumi.ArrayOutput, error) {
	last, err := serviceOutputs(ctx, name+"-builds", component.StackName(ctx, ctx.Stack()), args.Service, opts)
	if err != nil {
		return pulumi.ArrayOutput{}, err
	}
	return pulumi.All(last, image).ApplyT(func(v []any) []any {
		builds := []any{map[string]any{"commit": args.Commit, "tag": args.tag(), "image": v[1]}}
		for _, r := range recordOf(v[0]) {
			if len(builds) < KeptBuilds && !sameCommit(r.Commit, args.Commit) {
				builds = append(builds, map[string]any{"commit": r.Commit, "tag": r.Tag, "image": r.Image})
			}
		}
		return builds
	}).(pulumi.ArrayOutput), nil
}

// serviceOutputs is a service's entry of a stack's services output (its
// image, and a building stack's record of builds), read through a stack
// reference named refName; nil when the stack has none.
func serviceOutputs(ctx *pulumi.Context, refName, stack, service string, opts []pulumi.ResourceOption) (pulumi.AnyOutput, error) {
	ref, err := pulumi.NewStackReference(ctx, refName, &pulumi.StackReferenceArgs{Name: pulumi.String(stack)}, opts...)
	if err != nil {
		return pulumi.AnyOutput{}, err
	}
	return ref.GetOutput(pulumi.String("services")).ApplyT(func(v any) any {
		services, _ := v.(map[string]any)
		entry, _ := services[service].(map[string]any)
		return entry
	}).(pulumi.AnyOutput), nil
}

// recordOf reads the record of builds from a service's entry of a stack's
// services output.
func recordOf(service any) []Record {
	entry, _ := service.(map[string]any)
	list, _ := entry["builds"].([]any)
	var out []Record
	for _, item := range list {
		m, _ := item.(map[string]any)
		r := Record{}
		r.Commit, _ = m["commit"].(string)
		r.Tag, _ = m["tag"].(string)
		r.Image, _ = m["image"].(string)
		out = append(out, r)
	}
	return out
}

// sameCommit says whether two commit ids (12 to 40 hex digits) name one commit.
func sameCommit(a, b string) bool {
	n := min(len(a), len(b))
	return n >= 12 && a[:n] == b[:n]
}

// promoted is, for a release, the image stack PromoteFrom built and ran for
// the release's commit (promotedImage); outside a release, the image this
// stack runs already (its own services output <service>.image).
func promoted(ctx *pulumi.Context, name string, args Args, children []pulumi.ResourceOption) (pulumi.StringOutput, error) {
	from := component.StackName(ctx, args.PromoteFrom)
	if args.Release == "" {
		return running(ctx, name, args, children)
	}
	built, err := serviceOutputs(ctx, name+"-from-"+args.PromoteFrom, from, args.Service, children)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return built.ApplyT(func(v any) (string, error) {
		return promotedImage(args, from, recordOf(v))
	}).(pulumi.StringOutput), nil
}

// running is the image this stack runs for the service, read through a
// stack reference to itself; a stack that runs none yet needs a release.
func running(ctx *pulumi.Context, name string, args Args, children []pulumi.ResourceOption) (pulumi.StringOutput, error) {
	self := component.StackName(ctx, ctx.Stack())
	runs, err := serviceOutputs(ctx, name+"-running", self, args.Service, children)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return runs.ApplyT(func(v any) (string, error) {
		entry, _ := v.(map[string]any)
		image, _ := entry["image"].(string)
		if !shared.PinnedByDigest(image) {
			return "", fmt.Errorf("imageFrom %s: stack %s runs no image of service %q yet, and this is no release: deploy a release (PLATFORM_RELEASE=<commit>, which deploy.yml sets for a release tag), which takes %s's build of that commit",
				args.PromoteFrom, self, args.Service, args.PromoteFrom)
		}
		return image, nil
	}).(pulumi.StringOutput), nil
}

// promotedImage picks the release's image out of the other stack's record.
func promotedImage(args Args, from string, builds []Record) (string, error) {
	want := tagOf(args.Version, args.Release)
	for _, r := range builds {
		if !sameCommit(r.Commit, args.Release) {
			continue
		}
		switch {
		case r.Tag != want:
			return "", fmt.Errorf("imageFrom %s: stack %s built commit %s of service %q as tag %s, this stack expects tag %s: set the service's version to what %s built, or release the commit %s built",
				args.PromoteFrom, from, args.Release, args.Service, r.Tag, want, args.PromoteFrom, args.PromoteFrom)
		case !shared.PinnedByDigest(r.Image):
			return "", fmt.Errorf("imageFrom %s: stack %s recorded image %q for commit %s of service %q, which is not pinned by digest",
				args.PromoteFrom, from, r.Image, args.Release, args.Service)
		}
		return r.Image, nil
	}
	var recent []string
	for _, r := range builds[:min(len(builds), 3)] {
		recent = append(recent, r.Commit[:min(len(r.Commit), 12)])
	}
	return "", fmt.Errorf("imageFrom %s: stack %s has no build of commit %s of service %q (its latest: %s): deploy this commit to %s first; a release runs only what %s built and ran",
		args.PromoteFrom, from, args.Release, args.Service, orNone(recent), args.PromoteFrom, args.PromoteFrom)
}

func orNone(commits []string) string {
	if len(commits) == 0 {
		return "none"
	}
	return strings.Join(commits, ", ")
}
