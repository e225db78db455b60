package stacks

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// workloadArgs turns one service's config into the workload component's
// arguments, with the environment's defaults filled in, except the image:
// Deploy takes it from the image component.
func (c *Config) workloadArgs(s Service) workload.Args {
	env := environments[c.Environment]
	res := env.resources
	if s.Resources != nil {
		res = mergeResources(res, *s.Resources)
	}
	args := workload.Args{
		Name:             s.Name,
		Namespace:        s.Namespace,
		Environment:      string(c.Environment),
		Version:          s.Version,
		Replicas:         orInt(s.Replicas, env.replicas),
		Port:             s.Port,
		DrainSeconds:     s.DrainSeconds,
		Env:              s.Env,
		Files:            s.Files,
		HighAvailability: env.highAvailability,
		AllowFrom:        s.AllowFrom,
		ProtectNamespace: env.protect,
		Resources: kube.Resources{
			RequestCPU: res.Requests.CPU, RequestMemory: res.Requests.Memory,
			LimitCPU: res.Limits.CPU, LimitMemory: res.Limits.Memory,
		},
	}
	if s.Probes != nil {
		args.Probes = kube.Probes{Startup: s.Probes.Startup, Liveness: s.Probes.Liveness, Readiness: s.Probes.Readiness}
	}
	args.SecretEnv = c.secretInputs(s.SecretEnv)
	autoscale := env.autoscaling
	if s.Autoscaling != nil && s.Autoscaling.Enabled != nil {
		autoscale = *s.Autoscaling.Enabled
	}
	if autoscale {
		as := &workload.Autoscaling{MaxReplicas: env.maxReplicas}
		if s.Autoscaling != nil {
			as.MaxReplicas = orInt(s.Autoscaling.MaxReplicas, as.MaxReplicas)
			as.TargetCPUUtilization = s.Autoscaling.TargetCPUUtilization
		}
		args.Autoscaling = as
	}
	if s.Ingress != nil {
		args.Ingress = &workload.Ingress{
			Host: s.Ingress.Host, ClassName: s.Ingress.ClassName, ControllerNamespace: s.Ingress.ControllerNamespace,
		}
	}
	for _, e := range s.Egress {
		args.Egress = append(args.Egress, workload.EgressRule{CIDR: e.CIDR, Ports: e.Ports})
	}
	return args.Defaults()
}

// imageArgs turns one service's image config into the image component's
// arguments: a prebuilt image, or a build from the project.
func (c *Config) imageArgs(s Service) image.Args {
	if s.Build == nil {
		return image.Args{Prebuilt: s.Image}
	}
	b := s.Build
	args := image.Args{
		BaseDir: c.Root, Context: b.Context, Dockerfile: b.Dockerfile, Platform: b.Platform,
		Repository: b.Repository, Version: s.Version, Commit: c.Commit,
		Registry: b.Registry, Username: b.Username, BuildOnPreview: b.BuildOnPreview,
	}
	if _, ok := c.Secrets[b.PasswordSecret]; ok {
		args.Password = c.secret(b.PasswordSecret)
	}
	return args.Defaults()
}

// imageKeys maps the image component's argument names to config keys.
var imageKeys = map[string]string{
	"prebuilt": "image", "version": "version", "commit": "(GITHUB_SHA)", "password": "build.passwordSecret",
}

// checkUniqueNames reports every item of a list whose name an earlier item has.
func checkUniqueNames(list string, names []string, problems *validate.Problems) {
	seen := map[string]int{}
	for i, name := range names {
		if j, dup := seen[name]; dup {
			problems.Add(fmt.Sprintf("%s[%d].name", key(list), i), name, fmt.Sprintf("is already the name of %s[%d]; names must be unique", list, j))
			continue
		}
		seen[name] = i
	}
}

// checkSecretRef checks that ref names a secret key of the project that is
// set (Load has checked already that a set one is encrypted).
func checkSecretRef(path, ref string, raw map[string]Value, problems *validate.Problems) {
	if _, known := keys[ref]; known || !secretKeyPattern.MatchString(ref) {
		problems.Add(path, ref, "must name a secret key of this project, in camelCase, that is not a platform setting")
		return
	}
	if _, ok := raw[ref]; !ok {
		problems.Add(path, ref, fmt.Sprintf("names no config key: set %s with `pulumi config set --secret %s <value>`", key(ref), key(ref)))
	}
}

func validateImage(c *Config, s Service, path string, problems *validate.Problems) {
	switch {
	case s.Image != "" && s.Build != nil:
		problems.Add(path+".image", s.Image, "is given with build: give one of them")
		return
	case s.Image == "" && s.Build == nil:
		problems.Add(path+".image", s.Image, "is required unless build is given: an image CI pushed, pinned by digest")
		return
	case s.Build != nil && c.Environment == Local:
		problems.Add(path+".build", validate.Verbatim("{…}"), "is not available to the local stack (no Docker engine or plugin here): give a prebuilt image")
		return
	}
	err := c.imageArgs(s).Validate()
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		name, rest, _ := strings.Cut(line, ":")
		configKey, ok := imageKeys[name]
		if !ok {
			configKey = "build." + name
		}
		*problems = append(*problems, path+"."+configKey+":"+rest)
	}
}

func mergeResources(base, override Resources) Resources {
	pick := func(o, b string) string {
		if o != "" {
			return o
		}
		return b
	}
	return Resources{
		Requests: Quantities{CPU: pick(override.Requests.CPU, base.Requests.CPU), Memory: pick(override.Requests.Memory, base.Requests.Memory)},
		Limits:   Quantities{CPU: pick(override.Limits.CPU, base.Limits.CPU), Memory: pick(override.Limits.Memory, base.Limits.Memory)},
	}
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func validateKubernetes(c *Config, problems *validate.Problems) {
	if c.Environment == Local && c.Kubernetes.Kubeconfig == "" {
		problems.Add(key("kubernetes.kubeconfig"), "", "is required for the local stack: the local cluster's kubeconfig (.cluster/kubeconfig)")
	}
	if k := c.Kubernetes.Kubeconfig; k != "" && (filepath.IsAbs(k) && c.Environment == Local) {
		problems.Add(key("kubernetes.kubeconfig"), k, "must be relative to the project root, so that every clone finds it")
	}
}

// validateServices checks each service as the workload component will see it,
// plus the rules that span services or depend on the environment.
func validateServices(c *Config, raw map[string]Value, problems *validate.Problems) {
	if len(c.Services) == 0 {
		problems.Add(key("services"), validate.Verbatim("[]"), "must list at least one service")
	}
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	checkUniqueNames("services", names, problems)
	for i, s := range c.Services {
		path := fmt.Sprintf("%s[%d]", key("services"), i)
		if s.Version == "" {
			problems.Add(path+".version", s.Version, "is required: the version being deployed (labels, traces)")
		}
		if c.Environment == Prod && s.Replicas != 0 && s.Replicas < minProdReplicas {
			problems.Add(path+".replicas", s.Replicas, fmt.Sprintf("must be at least %d in prod, to survive a node or zone failure", minProdReplicas))
		}
		for _, env := range slices.Sorted(maps.Keys(s.SecretEnv)) {
			checkSecretRef(path+".secretEnv."+env, s.SecretEnv[env], raw, problems)
		}
		if s.Build != nil {
			checkSecretRef(path+".build.passwordSecret", s.Build.PasswordSecret, raw, problems)
		}
		validateImage(c, s, path, problems)
		args := c.workloadArgs(s)
		args.Image = pulumi.StringOutput{} // validated above, as the image component sees it
		problems.AddAll(path+".", args.Validate())
	}
}

// serviceNamespace is where a service runs: its own namespace unless config names one.
func serviceNamespace(s Service) string {
	if s.Namespace != "" {
		return s.Namespace
	}
	return s.Name
}
