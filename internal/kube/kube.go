// Package kube holds the Kubernetes building blocks every component shares:
// the label set, the restricted security contexts, probes and resources. Each
// lives here once so that all workloads of the platform look alike.
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NonRootUID is the fixed user and group every platform container runs as. It
// matches distroless's "nonroot" user, which the sample service's image uses.
const NonRootUID = 65532

// Identity names one part of the platform for its labels.
type Identity struct {
	Name        string // app.kubernetes.io/name, e.g. "greeter" or "kafka"
	Instance    string // app.kubernetes.io/instance: unique within the namespace
	Version     string // app.kubernetes.io/version
	Component   string // app.kubernetes.io/component, e.g. "server", "broker"
	PartOf      string // app.kubernetes.io/part-of, e.g. "greeter" or "observability"
	Environment string // dev, prod or local
}

// Labels returns the Kubernetes recommended labels plus the short app, version
// and environment labels that the log pipeline indexes.
func (id Identity) Labels() pulumi.StringMap {
	labels := pulumi.StringMap{
		"app.kubernetes.io/name":       pulumi.String(id.Name),
		"app.kubernetes.io/instance":   pulumi.String(id.Instance),
		"app.kubernetes.io/managed-by": pulumi.String("pulumi"),
		"app":                          pulumi.String(id.Name),
		"environment":                  pulumi.String(id.Environment),
	}
	if id.Version != "" {
		labels["app.kubernetes.io/version"] = pulumi.String(id.Version)
		labels["version"] = pulumi.String(id.Version)
	}
	if id.Component != "" {
		labels["app.kubernetes.io/component"] = pulumi.String(id.Component)
	}
	if id.PartOf != "" {
		labels["app.kubernetes.io/part-of"] = pulumi.String(id.PartOf)
	}
	return labels
}

// SelectorLabels returns the labels that select this part's pods. They never
// change over the life of a workload (a Deployment's selector is immutable),
// so they exclude version and environment.
func (id Identity) SelectorLabels() pulumi.StringMap {
	return pulumi.StringMap{
		"app.kubernetes.io/name":     pulumi.String(id.Name),
		"app.kubernetes.io/instance": pulumi.String(id.Instance),
	}
}

// Metadata returns the metadata of an object the platform owns: the
// identity's labels and the owner annotations.
func (id Identity) Metadata(name, namespace string) *metav1.ObjectMetaArgs {
	meta := &metav1.ObjectMetaArgs{
		Namespace:   pulumi.String(namespace),
		Labels:      id.Labels(),
		Annotations: OwnerAnnotations(),
	}
	if name != "" {
		meta.Name = pulumi.String(name)
	}
	return meta
}

// ContentMetadata is Metadata for an object that is replaced, never changed
// in place, when its content changes (a ConfigMap or Secret that pods mount,
// a Job's run): its name is ContentName(prefix, content).
func (id Identity) ContentMetadata(prefix, namespace string, content pulumi.Input) *metav1.ObjectMetaArgs {
	meta := id.Metadata("", namespace)
	meta.Name = ContentName(prefix, content)
	return meta
}

// ContentName is prefix, a dash and 8 hex digits of the SHA-256 of content
// as JSON (map keys sorted): the length of the provider's generated names,
// but the same content always gets the same name. So a change of content
// gets a new object, which rolls the pods that use it while the old one
// serves the old pods; and a run killed before it recorded a create makes,
// when repeated, the same object again, which server-side apply adopts
// instead of leaving the first behind (the driver writes the state once per
// run, see cli/driver's Options.Checkpoints). The name of a Secret is a
// hash of its values: not a Pulumi secret (names are IDs, kept in the clear),
// the same exposure as kustomize's secretGenerator; 32 bits of a hash tell
// nothing of a random credential.
func ContentName(prefix string, content pulumi.Input) pulumi.StringOutput {
	name := pulumi.ToOutput(content).ApplyT(func(v any) (string, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		return prefix + "-" + hex.EncodeToString(sum[:4]), nil
	})
	return pulumi.Unsecret(name).(pulumi.StringOutput)
}

// OwnerAnnotations mark an object as owned by the program: on an update the
// provider's server-side apply takes back every field the program declares,
// even from another field manager (kubectl scale, edit, set image), so that
// `up --refresh` remediates drift instead of failing on a conflict.
func OwnerAnnotations() pulumi.StringMap {
	return pulumi.StringMap{"pulumi.com/patchForce": pulumi.String("true")}
}

// RestrictedPodSecurityContext satisfies Pod Security "restricted" at pod level:
// a fixed non-root user and group (the image's own, e.g. NonRootUID for ours,
// 1000 for the Elastic and Kafka images) and the runtime's default seccomp
// profile. Volumes are group-owned by it, so the user can write its data.
func RestrictedPodSecurityContext(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:        pulumi.Bool(true),
		RunAsUser:           pulumi.Int(uid),
		RunAsGroup:          pulumi.Int(uid),
		FsGroup:             pulumi.Int(uid),
		FsGroupChangePolicy: pulumi.String("OnRootMismatch"),
		SeccompProfile: &corev1.SeccompProfileArgs{
			Type: pulumi.String("RuntimeDefault"),
		},
	}
}

// RestrictedContainerSecurityContext satisfies Pod Security "restricted" at
// container level and adds a read-only root filesystem.
func RestrictedContainerSecurityContext() *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		RunAsNonRoot:             pulumi.Bool(true),
		Capabilities: &corev1.CapabilitiesArgs{
			Drop: pulumi.StringArray{pulumi.String("ALL")},
		},
		SeccompProfile: &corev1.SeccompProfileArgs{
			Type: pulumi.String("RuntimeDefault"),
		},
	}
}

// Resources are a container's requests and limits (config keys
// resources.requests and resources.limits).
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
}

// Quantities are CPU and memory as Kubernetes quantities ("250m", "128Mi").
type Quantities struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Args returns the container resource requirements.
func (r Resources) Args() *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{
			"cpu":    pulumi.String(r.Requests.CPU),
			"memory": pulumi.String(r.Requests.Memory),
		},
		Limits: pulumi.StringMap{
			"cpu":    pulumi.String(r.Limits.CPU),
			"memory": pulumi.String(r.Limits.Memory),
		},
	}
}

// Probes are a container's health checks: HTTP paths on Port, or, where a
// path is empty, a TCP connection to Port (for servers without an HTTP health
// endpoint, or whose endpoints need credentials). The paths are config keys
// (probes.startup, ...); the rest the program sets.
type Probes struct {
	Port      int    `json:"-"`
	Startup   string `json:"startup"`   // path answered once the process has started
	Liveness  string `json:"liveness"`  // path answered while the process is alive
	Readiness string `json:"readiness"` // path answered while the process takes traffic
	// LivenessPort, when set, is where a TCP liveness check connects instead
	// of Port (a second listener of the same process).
	LivenessPort int `json:"-"`
	// ReadinessCommand, when set, runs in the container instead of the
	// readiness path: for a health endpoint that needs credentials, which a
	// pod spec must not carry.
	ReadinessCommand []string `json:"-"`
	// StartupCommand, when set, runs in the container instead of the
	// startup path: for a server that must do more than start before it
	// counts as ready once (a broker catching up with its peers). It may
	// start a program (a JVM tool), so it runs every 10 s with 30 s to finish.
	StartupCommand []string `json:"-"`
	// StartupSeconds is how long the process may take to start before the
	// kubelet restarts it (default 60; JVM servers need minutes).
	StartupSeconds int `json:"-"`
}

// Ingress exposes a Service on Host through an ingress class (config key
// ingress of a service or a UI), always over TLS.
type Ingress struct {
	Host      string `json:"host"`
	ClassName string `json:"className,omitempty"`
	// ControllerNamespace is where the ingress controller runs; its pods are
	// allowed to reach the exposed port.
	ControllerNamespace string `json:"controllerNamespace,omitempty"`
	// ClusterIssuer is the cert-manager ClusterIssuer that issues the
	// host's certificate into TLSSecret; empty: TLSSecret is provided by
	// other means.
	ClusterIssuer string `json:"clusterIssuer,omitempty"`
	// TLSSecret is the Secret of the host's certificate (default
	// <service>-tls, in the Service's namespace).
	TLSSecret string `json:"tlsSecret,omitempty"`
}

// defaultStartupSeconds is the startup budget of a Go service; liveness only
// begins once startup has succeeded, so a slow start is never killed by the
// liveness probe.
const defaultStartupSeconds = 60

// StartupProbe returns the startup probe: frequent, with a generous failure budget.
func (p Probes) StartupProbe() *corev1.ProbeArgs {
	budget := p.StartupSeconds
	if budget == 0 {
		budget = defaultStartupSeconds
	}
	if len(p.StartupCommand) > 0 {
		probe := p.probe("", 10, 30, (budget+9)/10)
		probe.TcpSocket = nil
		probe.Exec = &corev1.ExecActionArgs{Command: pulumi.ToStringArray(p.StartupCommand)}
		return probe
	}
	return p.probe(p.Startup, 2, 1, (budget+1)/2)
}

// LivenessProbe returns the liveness probe: restarts a process that stays unhealthy
// for 30 s.
func (p Probes) LivenessProbe() *corev1.ProbeArgs {
	probe := p.probe(p.Liveness, 10, 2, 3)
	if p.Liveness == "" && p.LivenessPort != 0 {
		probe.TcpSocket = &corev1.TCPSocketActionArgs{Port: pulumi.Int(p.LivenessPort)}
	}
	return probe
}

// ReadinessProbe returns the readiness probe: takes a pod out of its Service within
// 10 s of it reporting not ready. A command may make more than one request
// (Elasticsearch's: two of at most ExecRequestSeconds each), so it has the
// whole period; a slower one counts as a failure.
func (p Probes) ReadinessProbe() *corev1.ProbeArgs {
	probe := p.probe(p.Readiness, 5, 2, 2)
	if len(p.ReadinessCommand) > 0 {
		probe.TcpSocket, probe.HttpGet = nil, nil
		probe.Exec = &corev1.ExecActionArgs{Command: pulumi.ToStringArray(p.ReadinessCommand)}
		probe.TimeoutSeconds = pulumi.Int(5)
	}
	return probe
}

// ExecRequestSeconds bounds one request of a readiness command: two fit in
// its probe's timeout.
const ExecRequestSeconds = 2

func (p Probes) probe(path string, period, timeout, failures int) *corev1.ProbeArgs {
	probe := &corev1.ProbeArgs{
		PeriodSeconds:    pulumi.Int(period),
		TimeoutSeconds:   pulumi.Int(timeout),
		FailureThreshold: pulumi.Int(failures),
	}
	if path == "" {
		probe.TcpSocket = &corev1.TCPSocketActionArgs{Port: pulumi.Int(p.Port)}
	} else {
		probe.HttpGet = &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.Int(p.Port)}
	}
	return probe
}

// PodSecurityLabels are the namespace labels that make the API server enforce,
// audit and warn about the given Pod Security level.
func PodSecurityLabels(level string) pulumi.StringMap {
	return pulumi.StringMap{
		"pod-security.kubernetes.io/enforce":         pulumi.String(level),
		"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
		"pod-security.kubernetes.io/audit":           pulumi.String(level),
		"pod-security.kubernetes.io/warn":            pulumi.String(level),
	}
}

// SpreadOverZonesAndHosts keeps the selected pods on different zones, then
// on different hosts: a highly available part survives losing either.
func SpreadOverZonesAndHosts(selector pulumi.StringMap) corev1.TopologySpreadConstraintArray {
	var constraints corev1.TopologySpreadConstraintArray
	for _, key := range []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"} {
		constraints = append(constraints, &corev1.TopologySpreadConstraintArgs{
			MaxSkew:           pulumi.Int(1),
			TopologyKey:       pulumi.String(key),
			WhenUnsatisfiable: pulumi.String("DoNotSchedule"),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: selector},
		})
	}
	return constraints
}
