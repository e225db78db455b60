package stacks

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// workloadArgs turns one service's config into the workload component's
// arguments, with the environment's defaults filled in. Secret values are
// wrapped as Pulumi secrets here, the one place they leave Config.
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
	if s.Image != "" {
		args.Image = pulumi.String(s.Image)
	}
	if s.Probes != nil {
		args.Probes = kube.Probes{Startup: s.Probes.Startup, Liveness: s.Probes.Liveness, Readiness: s.Probes.Readiness}
	}
	if len(s.SecretEnv) > 0 {
		args.SecretEnv = map[string]pulumi.StringInput{}
		for name, ref := range s.SecretEnv {
			args.SecretEnv[name] = pulumi.ToSecret(pulumi.String(c.Secrets[ref].Reveal())).(pulumi.StringOutput)
		}
	}
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
	seen := map[string]int{}
	for i, s := range c.Services {
		path := fmt.Sprintf("%s[%d]", key("services"), i)
		if j, dup := seen[s.Name]; dup {
			problems.Add(path+".name", s.Name, fmt.Sprintf("is already the name of services[%d]; names must be unique", j))
		}
		seen[s.Name] = i
		if s.Version == "" {
			problems.Add(path+".version", s.Version, "is required: the version being deployed (labels, traces)")
		}
		if c.Environment == Prod && s.Replicas != 0 && s.Replicas < minProdReplicas {
			problems.Add(path+".replicas", s.Replicas, fmt.Sprintf("must be at least %d in prod, to survive a node or zone failure", minProdReplicas))
		}
		for _, env := range slices.Sorted(maps.Keys(s.SecretEnv)) {
			ref := s.SecretEnv[env]
			if _, ok := raw[ref]; !ok {
				problems.Add(path+".secretEnv."+env, ref, fmt.Sprintf("names no config key: set %s with `pulumi config set --secret %s <value>`", key(ref), key(ref)))
			}
			if _, known := keys[ref]; known || !secretKeyPattern.MatchString(ref) {
				problems.Add(path+".secretEnv."+env, ref, "must name a secret key of this project, in camelCase, that is not a platform setting")
			}
		}
		problems.AddAll(path+".", c.workloadArgs(s).Validate())
	}
}
