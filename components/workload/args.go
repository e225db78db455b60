package workload

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/internal/validate"
)

// Args describes one service of the team. Zero values take the defaults that
// Defaults documents; Validate says what is wrong with the rest.
type Args struct {
	// Name of the service: a DNS label, used for every object it owns.
	Name string
	// Namespace to deploy into. Empty: a namespace named after the service is
	// created, enforcing Pod Security "restricted" and denying all traffic by default.
	Namespace string
	// ProtectNamespace guards the created namespace against deletion (prod):
	// deleting a namespace deletes everything in it.
	ProtectNamespace bool
	// Environment is dev, prod or local; it labels everything for the log pipeline.
	Environment string
	// Version of the service, for labels and OTEL_RESOURCE_ATTRIBUTES.
	Version string
	// Image to run: a reference with a tag other than "latest", or pinned by
	// digest. The image component's digest output may be passed here directly.
	Image pulumi.StringInput

	// Replicas of the Deployment (default 1). A PodDisruptionBudget is added when > 1.
	Replicas int
	// Port the service listens on (default 8080); the Service exposes it too.
	Port int
	// Probes are the health endpoints (default /healthz for startup and liveness,
	// /readyz for readiness, on Port).
	Probes kube.Probes
	// Resources for the container (default requests 50m/64Mi, limits 500m/128Mi).
	Resources kube.Resources
	// DrainSeconds is how long the service needs to finish in-flight requests
	// after SIGTERM (default 10); the grace period adds the preStop pause to it.
	DrainSeconds int

	// Env is plain configuration, injected as environment from a ConfigMap.
	Env map[string]string
	// Files are plain configuration files, mounted read-only at /etc/<name>.
	Files map[string]string
	// SecretEnv is secret configuration, injected as environment from a Secret.
	// Values must be Pulumi secrets; they stay secrets in state and previews.
	SecretEnv map[string]pulumi.StringInput

	// HighAvailability spreads pods over zones and hosts and never takes a pod
	// down before its replacement is ready (maxUnavailable 0). prod sets it.
	HighAvailability bool
	// Autoscaling adds a HorizontalPodAutoscaler from Replicas up to MaxReplicas.
	Autoscaling *Autoscaling
	// Ingress, when set, exposes the service on a host name.
	Ingress *Ingress

	// AllowFrom names the namespaces whose pods may reach the service port,
	// besides the service's own namespace.
	AllowFrom []string
	// Egress lists destinations the service may reach besides DNS and tracing.
	Egress []EgressRule
	// Telemetry, when set, points the OpenTelemetry SDK at the tracing endpoint.
	Telemetry *Telemetry
}

// Autoscaling scales the Deployment on CPU utilisation.
type Autoscaling struct {
	MaxReplicas          int
	TargetCPUUtilization int // percent of the CPU request (default 70)
}

// Ingress exposes the service on Host through the given ingress class.
type Ingress struct {
	Host      string
	ClassName string
	// ControllerNamespace is where the ingress controller runs; its pods are
	// allowed to reach the service port.
	ControllerNamespace string
}

// EgressRule allows traffic to a CIDR block on the given TCP ports.
type EgressRule struct {
	CIDR  string
	Ports []int
}

// Telemetry is where the service sends its traces (OTLP).
type Telemetry struct {
	// Endpoint is the OTLP endpoint URL, e.g. http://jaeger-collector.observability:4318.
	Endpoint pulumi.StringInput
	// Namespace and Port of the collector, for the egress NetworkPolicy.
	Namespace string
	Port      int
}

// Defaults returns a copy of the arguments with every zero value replaced by
// its default.
func (a Args) Defaults() Args {
	if a.Replicas == 0 {
		a.Replicas = 1
	}
	if a.Port == 0 {
		a.Port = 8080
	}
	if a.Probes.Port == 0 {
		a.Probes.Port = a.Port
	}
	if a.Probes.Startup == "" {
		a.Probes.Startup = "/healthz"
	}
	if a.Probes.Liveness == "" {
		a.Probes.Liveness = "/healthz"
	}
	if a.Probes.Readiness == "" {
		a.Probes.Readiness = "/readyz"
	}
	r := &a.Resources
	r.RequestCPU = orDefault(r.RequestCPU, "50m")
	r.RequestMemory = orDefault(r.RequestMemory, "64Mi")
	r.LimitCPU = orDefault(r.LimitCPU, "500m")
	r.LimitMemory = orDefault(r.LimitMemory, "128Mi")
	if a.DrainSeconds == 0 {
		a.DrainSeconds = 10
	}
	if a.Autoscaling != nil && a.Autoscaling.TargetCPUUtilization == 0 {
		as := *a.Autoscaling
		as.TargetCPUUtilization = 70
		a.Autoscaling = &as
	}
	return a
}

func orDefault(value, def string) string {
	if value == "" {
		return def
	}
	return value
}

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fileName  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	probePath = regexp.MustCompile(`^/[-._~/a-zA-Z0-9]*$`)
)

// Validate reports every problem with defaulted arguments at once, one per
// line: the field (as key), the value given and what is allowed.
func (a Args) Validate() error {
	var p validate.Problems
	if !kube.IsDNSLabel(a.Name) {
		p.Add("name", a.Name, "must be a DNS label (lower-case letters, digits and '-', at most 63)")
	}
	if a.Namespace != "" && !kube.IsDNSLabel(a.Namespace) {
		p.Add("namespace", a.Namespace, "must be a DNS label")
	}
	if a.Image == nil {
		p.Add("image", "", "is required: an image reference with a version tag or a digest")
	} else if ref, ok := a.Image.(pulumi.String); ok {
		if err := kube.ValidateImageReference(string(ref)); err != nil {
			p.Add("image", string(ref), err.Error())
		}
	}
	if a.Replicas < 1 {
		p.Add("replicas", a.Replicas, "must be at least 1")
	}
	if a.Port < 1 || a.Port > 65535 {
		p.Add("port", a.Port, "must be a port number from 1 to 65535")
	}
	if a.Probes.Port != a.Port {
		p.Add("probes.port", a.Probes.Port, fmt.Sprintf("must be the container port %d", a.Port))
	}
	for key, path := range map[string]string{"probes.startup": a.Probes.Startup, "probes.liveness": a.Probes.Liveness, "probes.readiness": a.Probes.Readiness} {
		if !probePath.MatchString(path) {
			p.Add(key, path, "must be an absolute URL path")
		}
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
	for _, name := range slices.Sorted(maps.Keys(a.SecretEnv)) {
		if !envName.MatchString(name) {
			p.Add("secretEnv."+name, name, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
		}
		if _, isOutput := a.SecretEnv[name].(pulumi.Output); !isOutput {
			p.Add("secretEnv."+name, validate.Verbatim("(plain value)"), "must be a Pulumi secret, e.g. from secret config")
		}
		if _, clash := a.Env[name]; clash {
			p.Add("secretEnv."+name, name, "is also set in env; a variable has one source")
		}
	}
	if as := a.Autoscaling; as != nil {
		if as.MaxReplicas < a.Replicas {
			p.Add("autoscaling.maxReplicas", as.MaxReplicas, fmt.Sprintf("must be at least replicas (%d)", a.Replicas))
		}
		if as.TargetCPUUtilization < 1 || as.TargetCPUUtilization > 100 {
			p.Add("autoscaling.targetCPUUtilization", as.TargetCPUUtilization, "must be a percentage from 1 to 100")
		}
	}
	if in := a.Ingress; in != nil && !kube.IsHostName(in.Host) {
		p.Add("ingress.host", in.Host, "must be a DNS name")
	}
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
	return p.Err()
}

func validateResources(r kube.Resources, p *validate.Problems) {
	quantities := map[string]string{
		"resources.requests.cpu": r.RequestCPU, "resources.requests.memory": r.RequestMemory,
		"resources.limits.cpu": r.LimitCPU, "resources.limits.memory": r.LimitMemory,
	}
	parsed := map[string]resource.Quantity{}
	for _, key := range slices.Sorted(maps.Keys(quantities)) {
		q, err := resource.ParseQuantity(quantities[key])
		if err != nil || q.Sign() <= 0 {
			p.Add(key, quantities[key], "must be a positive Kubernetes quantity such as 250m or 128Mi")
			continue
		}
		parsed[key] = q
	}
	for _, kind := range []string{"cpu", "memory"} {
		req, okReq := parsed["resources.requests."+kind]
		lim, okLim := parsed["resources.limits."+kind]
		if okReq && okLim && lim.Cmp(req) < 0 {
			p.Add("resources.limits."+kind, lim.String(), fmt.Sprintf("must be at least the request %q", req.String()))
		}
	}
}
