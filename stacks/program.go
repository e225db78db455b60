// Package stacks turns a stack's validated config into the platform's
// components: config in, components wired, outputs out.
package stacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

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
		cfg, err := Load(values, Environ{ProjectRoot: ctx.RootDirectory(), Commit: Commit(ctx.RootDirectory()), Stack: ctx.Stack()})
		if err != nil {
			return err
		}
		return Deploy(ctx, cfg)
	}
}

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
	cluster := cfg.Kubernetes
	if cluster.Kubeconfig != "" && !filepath.IsAbs(cluster.Kubeconfig) {
		cluster.Kubeconfig = filepath.Join(cfg.Root, cluster.Kubeconfig)
	}
	return kube.NewProvider(ctx, "kubernetes", cluster)
}

// ProgramForWorkspace is the platform program for config as an Automation
// API workspace reads it (cmd/platform and the end-to-end tests).
func ProgramForWorkspace(config auto.ConfigMap) pulumi.RunFunc {
	return NewProgram(workspaceValues(config))
}

// DriftPolicy is what the drift check of a stack may do and must report
// besides drift. Plain values: the command reading it never touches the
// component argument types, whose SDK generics cost seconds to compile.
type DriftPolicy struct {
	// Remediate is platform:drift.remediate: may the check run up --refresh.
	Remediate bool
	// Findings need an operator soon (a certificate due for renewal).
	Findings []string
}

// DriftPolicyOf reads the drift policy from a stack's config, validating the
// whole config first.
func DriftPolicyOf(config auto.ConfigMap, env Environ, now time.Time) (DriftPolicy, error) {
	cfg, err := Load(workspaceValues(config), env)
	if err != nil {
		return DriftPolicy{}, err
	}
	return DriftPolicy{Remediate: cfg.Drift.Remediate, Findings: cfg.Findings(now)}, nil
}

func workspaceValues(config auto.ConfigMap) map[string]Value {
	values := make(map[string]Value, len(config))
	for k, v := range config {
		values[k] = Value{Raw: v.Value, Secret: v.Secret}
	}
	return values
}

// Hints say what to do about the program's failures that the engine reports
// in its own words: a service namespace that does not exist.
func Hints(engineError string) []string {
	var out []string
	for _, m := range missingNamespace.FindAllStringSubmatch(engineError, -1) {
		out = append(out, fmt.Sprintf("service %s names a namespace that does not exist (its namespace setting in platform:services): "+
			"create it first, or leave the setting empty and the service gets a namespace of its own", m[1]))
	}
	return out
}

// missingNamespace matches the engine's error when the read of a service's
// existing namespace (components/workload) finds none.
var missingNamespace = regexp.MustCompile(`kubernetes:core/v1:Namespace \((\S+)-` + workload.NamespaceReadSuffix + `\)`)
