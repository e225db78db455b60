package stacks

import (
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// workloadArgs are one service's workload arguments with what the program
// fills: the secrets' values and where traces go. Deploy adds the image.
func (c *Config) workloadArgs(s Service, telemetry *workload.Telemetry) workload.Args {
	args := s.Args.WithSecrets(c.lookup)
	args.Telemetry = telemetry
	args.DNS = c.Kubernetes.DNS
	return args
}

// imageArgs are one service's image arguments with what the program fills.
func (c *Config) imageArgs(s Service) image.Args {
	return image.Args{Source: s.Source, Service: s.Name, Version: s.Version, Commit: c.Commit, Release: c.Release, BaseDir: c.Root}.WithSecrets(c.lookup)
}

// secret is the secret config key ref as a Pulumi secret: the one way a
// secret value leaves Config.
func (c *Config) secret(ref string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(c.Secrets[ref].Reveal())).(pulumi.StringOutput)
}

// lookup finds a secret config key among the config's secrets (Load has
// reported every key the config names and lacks).
func (c *Config) lookup(_, key string) (pulumi.StringInput, bool) {
	if _, ok := c.Secrets[key]; !ok {
		return nil, false
	}
	return c.secret(key), true
}

// checkList reports a list of things that is empty, and every item whose
// name an earlier item has.
func checkList[T any](list, thing string, items []T, name func(T) string, problems *validate.Problems) {
	if len(items) == 0 {
		problems.Add(key(list), validate.Verbatim("[]"), "must list at least one "+thing)
	}
	seen := map[string]int{}
	for i, item := range items {
		n := name(item)
		if j, dup := seen[n]; dup {
			problems.Add(fmt.Sprintf("%s[%d].name", key(list), i), n, fmt.Sprintf("is already the name of %s[%d]; names must be unique", list, j))
			continue
		}
		seen[n] = i
	}
}

func validateKubernetes(c *Config, problems *validate.Problems) {
	if c.Governs() {
		return // nothing of it runs on a cluster
	}
	problems.Nest(key("kubernetes"), c.Kubernetes.Validate())
	if c.Environment == Local && c.Kubernetes.Kubeconfig == "" {
		problems.Add(key("kubernetes.kubeconfig"), "", "is required for the local stack: the local cluster's kubeconfig (.cluster/kubeconfig)")
	}
	if k := c.Kubernetes.Kubeconfig; k != "" && (filepath.IsAbs(k) && c.Environment == Local) {
		problems.Add(key("kubernetes.kubeconfig"), k, "must be relative to the project root, so that every clone finds it")
	}
}

// validateServices checks each service as its components will see it, plus
// the rules that span services or depend on the stack.
func validateServices(c *Config, problems *validate.Problems) {
	if c.Governs() {
		return
	}
	checkList("services", "service", c.Services, func(s Service) string { return s.Name }, problems)
	for i, s := range c.Services {
		path := fmt.Sprintf("%s[%d]", key("services"), i)
		problems.Nest(path, s.Args.Validate())
		if s.Build != nil && c.Environment == Local {
			problems.Add(path+".build", validate.Verbatim("{…}"), "is not available to the local stack (no Docker engine or plugin here): give a prebuilt image")
			continue
		}
		imageArgs := c.imageArgs(s).Defaults()
		problems.Nest(path, imageArgs.Validate())
	}
}
