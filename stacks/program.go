// Package stacks turns a stack's validated config into the platform's
// components: config in, components wired, outputs out.
package stacks

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/kube"
)

// Program is the platform program for a stack's config values: main.go
// reads them as `pulumi up` hands them over (FromEnvironment), the platform
// command from its workspace. Config is validated before any resource is
// registered.
func Program(values map[string]Value) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := Load(values, EnvironAt(ctx.RootDirectory()))
		if err != nil {
			return err
		}
		return Deploy(ctx, cfg)
	}
}

// EnvironAt is where a program of the project at root runs: the root, the
// commit being deployed there, and the release being deployed (the
// environment variable ReleaseVariable).
func EnvironAt(root string) Environ {
	return Environ{ProjectRoot: root, Commit: Commit(root), Release: os.Getenv(ReleaseVariable)}
}

// ReleaseVariable names the environment variable that makes a run a release:
// the commit whose images stacks with imageFrom take (deploy.yml sets it to
// the release tag's commit). Without it they keep the images they run.
const ReleaseVariable = "PLATFORM_RELEASE"

// Commit is the git commit being deployed: GITHUB_SHA in CI, else the
// checkout's HEAD; "" outside a checkout (a build then says what it needs).
func Commit(root string) string {
	if sha := os.Getenv("GITHUB_SHA"); sha != "" {
		return sha
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Deploy declares the stack's resources from validated config.
func Deploy(ctx *pulumi.Context, cfg *Config) error {
	var provider pulumi.ProviderResource
	if !cfg.Governs() {
		var err error
		if provider, err = kubernetesProvider(ctx, cfg); err != nil {
			return err
		}
	}
	dockerProvider, err := dockerProvider(ctx, cfg)
	if err != nil {
		return err
	}
	telemetry, observed, err := declareObservability(ctx, cfg, provider)
	if err != nil {
		return err
	}
	services := pulumi.Map{}
	for _, s := range cfg.Services {
		img, err := image.NewImage(ctx, s.Name, cfg.imageArgs(s), dockerProvider)
		if err != nil {
			return err
		}
		args := cfg.workloadArgs(s, telemetry)
		args.Image = img.Reference
		w, err := workload.NewWorkload(ctx, s.Name, args, provider)
		if err != nil {
			return err
		}
		outputs, err := component.Outputs(w)
		if err != nil {
			return err
		}
		outputs["image"] = img.Reference
		if s.Build != nil {
			outputs["builds"] = img.Builds
		}
		services[s.Name] = outputs
	}
	repositories, err := declareGitHub(ctx, cfg)
	if err != nil {
		return err
	}
	ctx.Export("environment", pulumi.String(cfg.Environment))
	ctx.Export("services", services)
	if repositories != nil {
		ctx.Export("repositories", repositories)
	}
	if observed != nil {
		ctx.Export("observability", observed)
	}
	return nil
}

// dockerProvider is the explicit provider of image builds, declared only when
// a service builds its image: the local stack has no Docker engine or plugin.
func dockerProvider(ctx *pulumi.Context, cfg *Config) (pulumi.ProviderResource, error) {
	if !slices.ContainsFunc(cfg.Services, func(s Service) bool { return s.Build != nil }) {
		ctx.Log.Info("no image builds in this stack: every service runs a prebuilt image", nil)
		return nil, nil
	}
	return image.NewProvider(ctx, "docker")
}

// kubernetesProvider is the one explicit provider every Kubernetes object uses.
func kubernetesProvider(ctx *pulumi.Context, cfg *Config) (pulumi.ProviderResource, error) {
	cluster := cfg.Kubernetes
	if cluster.Kubeconfig != "" && !filepath.IsAbs(cluster.Kubeconfig) {
		cluster.Kubeconfig = filepath.Join(cfg.Root, cluster.Kubeconfig)
	}
	return kube.NewProvider(ctx, "kubernetes", cluster)
}

// KubernetesOnly says whether every resource the program declares for this
// config is a Kubernetes object (or the provider of them): no repositories,
// no image builds. Each such object has a name the program gives
// (TestEveryObjectIsNamedByTheProgram), so a run that repeats a killed one
// makes the same objects, which server-side apply adopts.
func (c *Config) KubernetesOnly() bool {
	return c.GitHub == nil && !slices.ContainsFunc(c.Services, func(s Service) bool { return s.Build != nil })
}
