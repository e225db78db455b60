// Package image builds a service's container image and pushes it to a
// registry, or takes one that CI built already, and hands its digest to the
// workload component, so that Deployments pin the exact image they run.
package image

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/internal/validate"
)

// TypeToken is the Pulumi type of the component.
const TypeToken = "platform:image:Image"

// Args say which image to build and where to push it, or which prebuilt image
// to use. Zero values take the defaults that Defaults documents.
type Args struct {
	// Prebuilt is an image that CI built and pushed already, pinned by digest
	// (repository@sha256:...). When set, nothing is built or pushed.
	Prebuilt string

	// Context is the build context folder (default "app"), relative to BaseDir.
	Context string
	// Dockerfile, relative to BaseDir (default Context/Dockerfile).
	Dockerfile string
	// BaseDir is where relative paths start: the project root.
	BaseDir string
	// Platform to build for (default linux/amd64).
	Platform string
	// Repository to push to, without tag: ghcr.io/acme/greeter.
	Repository string
	// Version tags the image and is passed as the VERSION build argument.
	Version string
	// Commit is the git commit; the image is also tagged sha-<first 12>.
	Commit string
	// Registry is the server to log in to (default: the repository's host).
	Registry string
	// Username and Password log in to the registry; Password must be a secret.
	Username string
	Password pulumi.StringInput
	// BuildOnPreview builds during previews too (default false: previews on
	// pull requests stay fast and never push).
	BuildOnPreview bool
}

// Image is a built and pushed image, or a prebuilt one.
type Image struct {
	pulumi.ResourceState

	// Reference is the image pinned by digest, for the workload's pod spec.
	Reference pulumi.StringOutput `pulumi:"reference"`
}

// Defaults returns a copy with every zero value replaced by its default.
func (a Args) Defaults() Args {
	if a.Prebuilt != "" {
		return a
	}
	if a.Context == "" {
		a.Context = "app"
	}
	if a.Dockerfile == "" {
		a.Dockerfile = filepath.Join(a.Context, "Dockerfile")
	}
	if a.Platform == "" {
		a.Platform = "linux/amd64"
	}
	if a.Registry == "" {
		if host, _, found := strings.Cut(a.Repository, "/"); found {
			a.Registry = host
		}
	}
	return a
}

var (
	repositoryPattern = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	tagPattern        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	commitPattern     = regexp.MustCompile(`^[0-9a-f]{12,40}$`)
	digestPinned      = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)
	platformPattern   = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+(/v[0-9])?$`)
)

// Validate reports every problem with defaulted arguments at once.
func (a Args) Validate() error {
	var p validate.Problems
	if a.Prebuilt != "" {
		if err := kube.ValidateImageReference(a.Prebuilt); err != nil {
			p.Add("prebuilt", a.Prebuilt, err.Error())
		} else if !digestPinned.MatchString(a.Prebuilt) {
			p.Add("prebuilt", a.Prebuilt, "must be pinned by digest (…@sha256:<64 hex digits>), as CI pushed it")
		}
		return p.Err()
	}
	if info, err := os.Stat(filepath.Join(a.BaseDir, a.Context)); err != nil || !info.IsDir() {
		p.Add("context", a.Context, "must be a folder of the project (the build context)")
	}
	if info, err := os.Stat(filepath.Join(a.BaseDir, a.Dockerfile)); err != nil || info.IsDir() {
		p.Add("dockerfile", a.Dockerfile, "must be a Dockerfile of the project")
	}
	if !platformPattern.MatchString(a.Platform) {
		p.Add("platform", a.Platform, "must be os/arch such as linux/amd64")
	}
	if !repositoryPattern.MatchString(a.Repository) {
		p.Add("repository", a.Repository, "must be registry/path without tag, such as ghcr.io/acme/greeter")
	}
	switch {
	case a.Version == "latest":
		p.Add("version", a.Version, `must not be "latest": tag a version`)
	case !tagPattern.MatchString(a.Version):
		p.Add("version", a.Version, "must be a valid image tag, such as 1.2.3")
	}
	if a.Commit != "" && !commitPattern.MatchString(a.Commit) {
		p.Add("commit", a.Commit, "must be a git commit id (12 to 40 lower-case hex digits)")
	}
	if a.Username == "" || a.Password == nil {
		p.Add("registry", a.Registry, "needs credentials: a username and a secret password or token")
	} else if _, isOutput := a.Password.(pulumi.Output); !isOutput {
		p.Add("password", validate.Verbatim("(plain value)"), "must be a Pulumi secret, e.g. from secret config")
	}
	return p.Err()
}

// NewImage builds and pushes the image with the given Docker provider, or
// takes the prebuilt one (then the provider may be nil).
func NewImage(ctx *pulumi.Context, name string, args Args, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*Image, error) {
	args = args.Defaults()
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("image %q: %w", name, err)
	}
	if args.Prebuilt == "" && provider == nil {
		return nil, fmt.Errorf("image %q: a Docker provider is required to build", name)
	}
	img := &Image{}
	err := component.Register(ctx, TypeToken, name, img, provider, func(children []pulumi.ResourceOption) error {
		if args.Prebuilt != "" {
			img.Reference = pulumi.String(args.Prebuilt).ToStringOutput()
			return nil
		}
		built, err := build(ctx, name, args, children)
		if err != nil {
			return err
		}
		img.Reference = built.RepoDigest
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// build builds and pushes one docker.Image per tag and returns the first.
func build(ctx *pulumi.Context, name string, args Args, children []pulumi.ResourceOption) (*docker.Image, error) {
	tags := []string{args.Version}
	if args.Commit != "" {
		tags = append(tags, "sha-"+args.Commit[:12])
	}
	var built *docker.Image
	for i, tag := range tags {
		// One resource per tag (docker.Image pushes one name); the second build
		// is all cache hits and yields the same digest.
		image, err := docker.NewImage(ctx, fmt.Sprintf("%s-%d", name, i), &docker.ImageArgs{
			ImageName: pulumi.String(args.Repository + ":" + tag),
			Build: &docker.DockerBuildArgs{
				Context:    pulumi.String(filepath.Join(args.BaseDir, args.Context)),
				Dockerfile: pulumi.String(filepath.Join(args.BaseDir, args.Dockerfile)),
				Platform:   pulumi.String(args.Platform),
				Args:       pulumi.StringMap{"VERSION": pulumi.String(args.Version)},
			},
			BuildOnPreview: pulumi.Bool(args.BuildOnPreview),
			Registry: &docker.RegistryArgs{
				Server:   pulumi.String(args.Registry),
				Username: pulumi.String(args.Username),
				Password: pulumi.ToSecret(args.Password).(pulumi.StringOutput),
			},
		}, children...)
		if err != nil {
			return nil, err
		}
		if built == nil {
			built = image
		}
	}
	return built, nil
}
