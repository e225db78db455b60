package workload

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/validate"
	"github.com/acme/platform/policypack/shared"
)

// Args describe one service of the team. They are the schema of one entry of
// stack config platform:services: the JSON names are the keys, these doc
// comments their documentation. Profile gives an environment's defaults and
// a stack's config is decoded over them, so an unset key keeps its default
// and a set one is taken as it is, then checked by Validate. Fields without
// a JSON name are filled by the program.
type Args struct {
	// Name of the service: a DNS label, used for every object it owns.
	Name string `json:"name" package:",required"`
	// Namespace to deploy into; it must exist already. Empty: a namespace
	// named after the service is created, enforcing Pod Security
	// "restricted" and denying all traffic by default.
	Namespace string `json:"namespace,omitempty"`
	// Version being deployed, for labels and OTEL_RESOURCE_ATTRIBUTES.
	Version string `json:"version" package:",required"`
	// Replicas of the Deployment (dev and local 1, prod 3; with high
	// availability at least 2). A PodDisruptionBudget is added when > 1; with
	// autoscaling on, the minimum.
	Replicas int `json:"replicas"`
	// Port the service listens on (default 8080); the Service exposes it, the
	// probes ask it, and the process learns it as PORT.
	Port int `json:"port"`
	// Probes are the paths of the health endpoints on Port (default /healthz
	// for startup and liveness, /readyz for readiness).
	Probes kube.Probes `json:"probes"`
	// Resources of the container (dev requests 50m/64Mi, limits 250m/128Mi;
	// local 10m/32Mi, 250m/128Mi; prod 250m/256Mi, 1/512Mi).
	Resources kube.Resources `json:"resources"`
	// DrainSeconds is how long the service needs to finish in-flight requests
	// after SIGTERM (default 10); the grace period adds the preStop pause to it.
	DrainSeconds int `json:"drainSeconds"`
	// Env is plain configuration, injected as environment from a ConfigMap.
	Env map[string]string `json:"env,omitempty"`
	// Files are plain configuration files, mounted read-only at /etc/<name>.
	Files map[string]string `json:"files,omitempty"`
	// SecretEnv maps environment variables to secret config keys of the
	// project: {"API_KEY": "greeterApiKey"} reads platform:greeterApiKey, which
	// must be set with `pulumi config set --secret`. The values reach the pod
	// through a Secret and stay Pulumi secrets in state and previews.
	SecretEnv map[string]string `json:"secretEnv,omitempty"`
	// SecretFiles maps file names to secret config keys: each value is a
	// file at /run/secrets/<name>, read-only and readable by the service's
	// user alone. Prefer it to SecretEnv: a file is not inherited by child
	// processes, nor printed with the environment by a crash report or a
	// debugging tool.
	SecretFiles map[string]string `json:"secretFiles,omitempty"`
	// Autoscaling adds a HorizontalPodAutoscaler from Replicas up to
	// MaxReplicas (default on in prod, up to 10, at 70% CPU).
	Autoscaling Autoscaling `json:"autoscaling"`
	// Ingress, when set, exposes the service on a host name.
	Ingress *kube.Ingress `json:"ingress,omitempty"`
	// AllowFrom names the namespaces whose pods may reach the service port,
	// besides the service's own namespace.
	AllowFrom []string `json:"allowFrom,omitempty"`
	// Egress lists destinations the service may reach besides DNS and tracing.
	Egress []EgressRule `json:"egress,omitempty"`
	// Placement picks the nodes the pods run on (node selector, tolerations).
	Placement kube.Placement `json:"placement"`

	// Environment is dev, prod or local; it labels everything for the log pipeline.
	Environment string `json:"-"`
	// HighAvailability spreads pods over zones and hosts and never takes a pod
	// down before its replacement is ready (maxUnavailable 0). prod's profile sets it.
	HighAvailability bool `json:"-" package:"highAvailability"`
	// ProtectNamespace guards the created namespace against deletion (prod's
	// profile): deleting a namespace deletes everything in it.
	ProtectNamespace bool `json:"-" package:"protectNamespace"`
	// Image to run: a reference with a tag other than "latest", or pinned by
	// digest. The image component's digest output may be passed here directly.
	Image pulumi.StringInput `json:"-" package:"image,required"`
	// Secrets are the values of SecretEnv, by environment variable. The
	// component makes each a Pulumi secret.
	Secrets map[string]pulumi.StringInput `json:"-"`
	// SecretFileValues are the values of SecretFiles, by file name.
	SecretFileValues map[string]pulumi.StringInput `json:"-"`
	// Telemetry, when set, points the OpenTelemetry SDK at the tracing endpoint.
	Telemetry *Telemetry `json:"-" package:"telemetry"`
	// DNS is how the cluster's pods look names up (the stack's
	// platform:kubernetes.dns): the policies allow it, and ServiceDNS ends
	// with its domain.
	DNS kube.DNS `json:"-" package:"dns"`
}

// Autoscaling scales the Deployment on CPU utilisation.
type Autoscaling struct {
	Enabled     bool `json:"enabled"`
	MaxReplicas int  `json:"maxReplicas"`
	// TargetCPUUtilization is a percentage of the CPU request.
	TargetCPUUtilization int `json:"targetCPUUtilization"`
}

// EgressRule allows traffic to a CIDR block on the given TCP ports.
type EgressRule struct {
	CIDR  string `json:"cidr"`
	Ports []int  `json:"ports"`
}

// Telemetry is where the service sends its traces (OTLP).
type Telemetry struct {
	// Endpoint is the OTLP endpoint URL, e.g. http://jaeger-collector.observability:4318.
	Endpoint pulumi.StringInput
	// Namespace and Port of the collector, for the egress NetworkPolicy.
	Namespace string
	Port      int
}

// Profile returns the defaults of a service in an environment (dev, prod or
// local; any other gets dev's): the one table of them.
func Profile(environment string) Args {
	a := Args{
		Environment: environment,
		Replicas:    1,
		Port:        8080,
		Probes:      kube.Probes{Startup: "/healthz", Liveness: "/healthz", Readiness: "/readyz"},
		Resources: kube.Resources{
			Requests: kube.Quantities{CPU: "50m", Memory: "64Mi"},
			Limits:   kube.Quantities{CPU: "250m", Memory: "128Mi"},
		},
		DrainSeconds: 10,
		Autoscaling:  Autoscaling{MaxReplicas: 10, TargetCPUUtilization: 70},
	}
	switch environment {
	case component.Local:
		a.Resources.Requests = kube.Quantities{CPU: "10m", Memory: "32Mi"}
	case component.Prod:
		a.Replicas = 3
		a.Resources = kube.Resources{
			Requests: kube.Quantities{CPU: "250m", Memory: "256Mi"},
			Limits:   kube.Quantities{CPU: "1", Memory: "512Mi"},
		}
		a.HighAvailability, a.ProtectNamespace = true, true
		a.Autoscaling.Enabled = true
	}
	return a
}

// minHighlyAvailableReplicas keeps a highly available service serving
// through a node or zone failure.
const minHighlyAvailableReplicas = 2

// Defaults returns a copy with the fields that derive from others filled:
// the probes ask the service port.
func (a Args) Defaults() Args {
	a.Probes.Port = a.Port
	return a
}

// NeedsProvider is true: every object goes to the cluster the provider names.
func (Args) NeedsProvider() bool { return true }

// NamespaceName is where the service runs: Namespace, or the service's own.
func (a Args) NamespaceName() string {
	if a.Namespace != "" {
		return a.Namespace
	}
	return a.Name
}

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fileName  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	probePath = regexp.MustCompile(`^/[-._~/a-zA-Z0-9]*$`)
	// secretKey is a secret config key of the project (its name after "platform:").
	secretKey = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
)

// Validate reports every problem at once, at the paths of the config keys.
// It checks the program's inputs where they are set: a plain Image, and that
// Secrets holds exactly the variables SecretEnv names.
func (a Args) Validate() validate.Problems {
	var p validate.Problems
	p.Nest("dns", a.DNS.Validate())
	if !kube.IsDNSLabel(a.Name) {
		p.Add("name", a.Name, "must be a DNS label (lower-case letters, digits and '-', at most 63)")
	}
	if a.Namespace != "" && !kube.IsDNSLabel(a.Namespace) {
		p.Add("namespace", a.Namespace, "must be a DNS label, or empty for a namespace of the service's own")
	}
	if a.Version == "" {
		p.Add("version", a.Version, "is required: the version being deployed (labels, traces)")
	}
	if ref, ok := a.Image.(pulumi.String); ok {
		if err := kube.ValidateImageReference(string(ref)); err != nil {
			p.Add("image", string(ref), err.Error())
		}
	}
	switch {
	case a.HighAvailability && a.Replicas < minHighlyAvailableReplicas:
		p.Add("replicas", a.Replicas, fmt.Sprintf("must be at least %d in %s (highly available), to keep serving through a node or zone failure",
			minHighlyAvailableReplicas, a.Environment))
	case a.Replicas < 1:
		p.Add("replicas", a.Replicas, "must be at least 1")
	}
	if a.Port < 1 || a.Port > 65535 {
		p.Add("port", a.Port, "must be a port number from 1 to 65535")
	}
	for _, probe := range []struct{ key, path string }{
		{"probes.startup", a.Probes.Startup}, {"probes.liveness", a.Probes.Liveness}, {"probes.readiness", a.Probes.Readiness},
	} {
		if !probePath.MatchString(probe.path) {
			p.Add(probe.key, probe.path, "must be an absolute URL path")
		}
	}
	if shared.SameCheck(httpProbe(a.Probes.Liveness, a.Port), httpProbe(a.Probes.Readiness, a.Port)) {
		p.Add("probes.readiness", a.Probes.Readiness, "must differ from probes.liveness: readiness asks whether the service can serve, liveness only whether it answers (the policy pack's probes-distinct)")
	}
	validateResources(a.Resources, &p)
	if a.DrainSeconds < 1 || a.DrainSeconds > 300 {
		p.Add("drainSeconds", a.DrainSeconds, "must be from 1 to 300")
	}
	for _, name := range slices.Sorted(maps.Keys(a.Env)) {
		if !envName.MatchString(name) {
			p.Add("env."+name, name, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Files)) {
		if !fileName.MatchString(name) {
			p.Add("files."+name, name, "must be a file name (letters, digits, '-', '_' and '.')")
		}
	}
	validateSecretRefs(&p, "secretEnv", a.SecretEnv, a.Secrets, func(name string) string {
		switch {
		case !envName.MatchString(name):
			return "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
		case a.Env[name] != "":
			return "is also set in env; a variable has one source"
		}
		return ""
	})
	validateSecretRefs(&p, "secretFiles", a.SecretFiles, a.SecretFileValues, func(name string) string {
		if !fileName.MatchString(name) || name == "." || name == ".." {
			return "must be a file name (letters, digits, '-', '_' and '.')"
		}
		return ""
	})
	if as := a.Autoscaling; as.Enabled {
		if as.MaxReplicas < a.Replicas {
			p.Add("autoscaling.maxReplicas", as.MaxReplicas, fmt.Sprintf("must be at least replicas (%d)", a.Replicas))
		}
		if as.TargetCPUUtilization < 1 || as.TargetCPUUtilization > 100 {
			p.Add("autoscaling.targetCPUUtilization", as.TargetCPUUtilization, "must be a percentage from 1 to 100")
		}
	}
	if in := a.Ingress; in != nil {
		p.Nest("ingress", in.Validate())
	}
	p.Nest("placement", a.Placement.Validate())
	for i, ns := range a.AllowFrom {
		if !kube.IsDNSLabel(ns) {
			p.Add(fmt.Sprintf("allowFrom[%d]", i), ns, "must be a namespace name")
		}
	}
	for i, rule := range a.Egress {
		if prefix, err := netip.ParsePrefix(rule.CIDR); err != nil || !prefix.Addr().Is4() {
			p.Add(fmt.Sprintf("egress[%d].cidr", i), rule.CIDR, "must be an IPv4 CIDR block such as 10.0.0.0/8")
		}
		if len(rule.Ports) == 0 {
			p.Add(fmt.Sprintf("egress[%d].ports", i), validate.Verbatim("[]"), "must list at least one port")
		}
		for j, port := range rule.Ports {
			if port < 1 || port > 65535 {
				p.Add(fmt.Sprintf("egress[%d].ports[%d]", i, j), port, "must be a port number from 1 to 65535")
			}
		}
	}
	if t := a.Telemetry; t != nil {
		if t.Endpoint == nil {
			p.Add("telemetry.endpoint", "", "is required when telemetry is on")
		}
		if !kube.IsDNSLabel(t.Namespace) {
			p.Add("telemetry.namespace", t.Namespace, "must be the collector's namespace")
		}
		if t.Port < 1 || t.Port > 65535 {
			p.Add("telemetry.port", t.Port, "must be a port number from 1 to 65535")
		}
	}
	return p
}

// validateResources checks the container's CPU and memory with the policy
// pack's own check (resources-bounded; ephemeral storage is the platform's
// to set).
func validateResources(r kube.Resources, p *validate.Problems) {
	requests := map[string]any{"cpu": r.Requests.CPU, "memory": r.Requests.Memory}
	limits := map[string]any{"cpu": r.Limits.CPU, "memory": r.Limits.Memory}
	p.Nest("resources", shared.BoundedResources(requests, limits, "cpu", "memory"))
}

// httpProbe is a probe of path on port as the pod spec holds it.
func httpProbe(path string, port int) map[string]any {
	return map[string]any{"httpGet": map[string]any{"path": path, "port": port}}
}

// WithSecrets fills Secrets and SecretFileValues with the values of the
// keys SecretEnv and SecretFiles name.
func (a Args) WithSecrets(lookup component.SecretLookup) Args {
	a.Secrets = component.SecretValues(lookup, "secretEnv", a.SecretEnv)
	a.SecretFileValues = component.SecretValues(lookup, "secretFiles", a.SecretFiles)
	return a
}

// validateSecretRefs checks references to secret config keys under field
// (name → key; badName says what is wrong with a name, if anything) and
// that values, when the program filled them, hold exactly those names.
func validateSecretRefs(p *validate.Problems, field string, refs map[string]string, values map[string]pulumi.StringInput, badName func(string) string) {
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		key := refs[name]
		if problem := badName(name); problem != "" {
			p.Add(field+"."+name, name, problem)
		} else if !secretKey.MatchString(key) {
			p.Add(field+"."+name, key, "must name a secret config key of the project, in camelCase")
		}
		if _, ok := values[name]; values != nil && !ok {
			p.Add(field+"."+name, key, "has no value: the program did not fill it")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if _, ok := refs[name]; !ok {
			p.Add(field, name, "lacks the name that the program holds a value for")
		}
	}
}
