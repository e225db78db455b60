// Package stacks turns a stack's validated config into the platform's
// components: config in, components wired, outputs out.
package stacks

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/components/workload"
)

// Program is the platform program as `pulumi up` runs it: the config comes
// from the environment the Go language host sets.
func Program(ctx *pulumi.Context) error {
	values, err := FromEnvironment()
	if err != nil {
		return err
	}
	return NewProgram(values)(ctx)
}

// NewProgram returns the platform program for config values read elsewhere,
// as the driver reads them from the workspace. Config is validated before any
// resource is registered.
func NewProgram(values map[string]Value) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := Load(values, Environ{ProjectRoot: ctx.RootDirectory(), Commit: os.Getenv("GITHUB_SHA")})
		if err != nil {
			return err
		}
		return Deploy(ctx, cfg)
	}
}

// Deploy declares the stack's resources from validated config.
func Deploy(ctx *pulumi.Context, cfg *Config) error {
	provider, err := kubernetesProvider(ctx, cfg)
	if err != nil {
		return err
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
	kubeconfig := cfg.Kubernetes.Kubeconfig
	if kubeconfig != "" && !filepath.IsAbs(kubeconfig) {
		kubeconfig = filepath.Join(cfg.Root, kubeconfig)
	}
	return kube.NewProvider(ctx, "kubernetes", kubeconfig, cfg.Kubernetes.Context)
}

// ProgramForWorkspace is the platform program for config as an Automation
// API workspace reads it (cmd/platform and the end-to-end tests).
func ProgramForWorkspace(config auto.ConfigMap) (pulumi.RunFunc, error) {
	return NewProgram(workspaceValues(config)), nil
}

// RemediationAllowed says whether the stack's config lets the drift check
// remediate (platform:drift.remediate), validating the whole config first.
// It answers with a plain bool so that the command calling it never touches
// the component argument types, whose SDK generics cost seconds to compile.
func RemediationAllowed(config auto.ConfigMap, env Environ) (bool, error) {
	cfg, err := Load(workspaceValues(config), env)
	if err != nil {
		return false, err
	}
	return cfg.Drift.Remediate, nil
}

func workspaceValues(config auto.ConfigMap) map[string]Value {
	values := make(map[string]Value, len(config))
	for k, v := range config {
		values[k] = Value{Raw: v.Value, Secret: v.Secret}
	}
	return values
}
