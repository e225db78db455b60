// Package observability gives an environment its logging and tracing stack:
//
//	containers' log files -> Filebeat (DaemonSet) -> Kafka (KRaft) -> Logstash
//	-> Elasticsearch -> Kibana, and services' OTLP traces -> Jaeger v2.
//
// One Observability per stack, sized by its Args: one node of everything in
// dev and local, three Kafka brokers and Elasticsearch nodes with security,
// disruption budgets, persistent queues and protected volumes in prod. Every
// part accepts traffic only from the parts that feed it.
package observability

import (
	"fmt"
	"maps"
	"slices"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/kube"
)

// TypeToken is the Pulumi type of the component.
const TypeToken = "platform:observability:Observability"

// Observability is the logging and tracing stack of one environment.
type Observability struct {
	pulumi.ResourceState

	// Namespace of the pipeline and the UIs.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// KibanaURL is where people open Kibana: the Ingress host, or the
	// in-cluster address to port-forward to.
	KibanaURL pulumi.StringOutput `pulumi:"kibanaUrl"`
	// JaegerQueryURL is where people open the Jaeger UI.
	JaegerQueryURL pulumi.StringOutput `pulumi:"jaegerQueryUrl"`
	// OTLPEndpoint is where services send traces: OTLP over HTTP (4318).
	OTLPEndpoint pulumi.StringOutput `pulumi:"otlpEndpoint"`
	// OTLPGRPCEndpoint is the same collector over gRPC (4317).
	OTLPGRPCEndpoint pulumi.StringOutput `pulumi:"otlpGrpcEndpoint"`
	// KafkaBootstrap is the Kafka bootstrap address, host:port.
	KafkaBootstrap pulumi.StringOutput `pulumi:"kafkaBootstrap"`
	// ElasticsearchURL is the Elasticsearch HTTP endpoint.
	ElasticsearchURL pulumi.StringOutput `pulumi:"elasticsearchUrl"`
	// Deployed is what this run deployed of each stateful part, by
	// StatefulSet name: its members, and its data claims' size and class.
	// The stack's next run checks its changes against it.
	Deployed pulumi.MapOutput `pulumi:"deployed"`
}

// Where services send traces, for the workloads' egress policies.
const (
	OTLPHTTPPort = 4318
	OTLPGRPCPort = 4317
)

// NewObservability declares the stack. The provider is required: every object
// goes to the cluster it names.
func NewObservability(ctx *pulumi.Context, name string, args Args, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*Observability, error) {
	o := &Observability{}
	err := component.New(ctx, TypeToken, name, o, args, provider, func(args Args, children []pulumi.ResourceOption) error {
		b := &builder{ctx: ctx, name: name, args: args, opts: children}
		return b.build(o)
	}, opts...)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// builder declares the children of one Observability.
type builder struct {
	ctx  *pulumi.Context
	name string
	args Args
	opts []pulumi.ResourceOption
	// in and agents are the options of objects in each namespace: parented,
	// provider, and deleted with their namespace.
	in, agents []pulumi.ResourceOption
	// elasticReady is what a client of Elasticsearch waits for: the users and
	// index templates exist.
	elasticReady pulumi.Resource
	// kafkaReady is what a Kafka client waits for: the logs topic exists.
	kafkaReady pulumi.Resource
	// deployed is what this run deploys of each stateful part.
	deployed map[string]Deployed
}

func (b *builder) build(o *Observability) error {
	a := b.args
	ns, err := kube.NewNamespace(b.ctx, b.name, kube.Namespace{
		Name: a.Namespace, PodSecurity: "restricted", Labels: b.id("observability", "").Labels(), Protect: a.Protect,
	}, b.opts...)
	if err != nil {
		return err
	}
	agents, err := kube.NewNamespace(b.ctx, b.name+"-agents", kube.Namespace{
		Name: a.AgentsNamespace, PodSecurity: "privileged", Labels: b.id("observability-agents", "").Labels(), Protect: a.Protect,
	}, b.opts...)
	if err != nil {
		return err
	}
	b.in = append(b.opts[:len(b.opts):len(b.opts)], pulumi.DependsOn([]pulumi.Resource{ns}), pulumi.DeletedWith(ns))
	b.agents = append(b.opts[:len(b.opts):len(b.opts)], pulumi.DependsOn([]pulumi.Resource{agents}), pulumi.DeletedWith(agents))

	steps := []func() error{b.kafka, b.elasticsearch, b.logstash, b.kibana, b.jaeger, b.filebeat, b.nodeTuning}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}

	o.Namespace = ns.Metadata.Name().Elem()
	o.KibanaURL = pulumi.String(b.uiURL(a.Kibana.UI, "kibana", kibanaPort)).ToStringOutput()
	o.JaegerQueryURL = pulumi.String(b.uiURL(a.Jaeger.UI, "jaeger-query", jaegerQueryPort)).ToStringOutput()
	o.OTLPEndpoint = pulumi.Sprintf("http://%s:%d", b.host("jaeger-collector"), OTLPHTTPPort)
	o.OTLPGRPCEndpoint = pulumi.Sprintf("http://%s:%d", b.host("jaeger-collector"), OTLPGRPCPort)
	o.KafkaBootstrap = pulumi.Sprintf("%s:%d", b.host("kafka"), kafkaPort)
	o.ElasticsearchURL = pulumi.String(b.elasticURL()).ToStringOutput()
	o.Deployed = pulumi.ToMap(b.deployedRecord()).ToMapOutput()
	return nil
}

// id is the identity of one part of the stack.
func (b *builder) id(name, component string) kube.Identity {
	return kube.Identity{
		Name: name, Instance: b.name, Version: "", Component: component,
		PartOf: "observability", Environment: b.args.Environment,
	}
}

// host is a Service's cluster DNS name in the stack's namespace.
func (b *builder) host(service string) string {
	return b.args.DNS.ServiceHost(service, b.args.Namespace)
}

func (b *builder) uiURL(ui UI, service string, port int) string {
	if ui.Ingress != nil {
		return "https://" + ui.Ingress.Host
	}
	return fmt.Sprintf("http://%s:%d", b.host(service), port)
}

func (b *builder) secure() bool { return b.args.Elasticsearch.Security }

// pod is what differs between the parts' pod templates.
type pod struct {
	id             kube.Identity
	uid            int
	serviceAccount string
	containers     corev1.ContainerArray
	initContainers corev1.ContainerArray
	volumes        corev1.VolumeArray
	// spread keeps replicas on different zones and hosts (prod).
	spread bool
	// graceSeconds for a clean shutdown (flushing queues, leaving a quorum).
	graceSeconds int
	// restartPolicy is empty (Always) but for Jobs.
	restartPolicy string
	// placement is the part's nodes.
	placement kube.Placement
}

func (p pod) template() *corev1.PodTemplateSpecArgs {
	kube.BoundEphemeralStorage(p.containers, p.volumes)
	kube.BoundEphemeralStorage(p.initContainers, nil)
	spec := &corev1.PodSpecArgs{
		AutomountServiceAccountToken:  pulumi.Bool(p.serviceAccount != ""),
		SecurityContext:               kube.RestrictedPodSecurityContext(p.uid),
		Containers:                    p.containers,
		InitContainers:                p.initContainers,
		Volumes:                       p.volumes,
		TerminationGracePeriodSeconds: pulumi.Int(max(p.graceSeconds, 30)),
	}
	if p.restartPolicy != "" {
		spec.RestartPolicy = pulumi.String(p.restartPolicy)
	}
	if p.serviceAccount != "" {
		spec.ServiceAccountName = pulumi.String(p.serviceAccount)
	}
	if p.spread {
		spec.TopologySpreadConstraints = kube.SpreadOverZonesAndHosts(p.id.SelectorLabels())
	}
	p.placement.Apply(spec)
	return &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: p.id.Labels()},
		Spec:     spec,
	}
}

// container is a part's main container with the platform's habits: a
// task's, plus probes. Parts leave their liveness path empty: liveness is a
// TCP connection to the health port (the process answers), readiness the
// part's own health endpoint (it serves), so a slow dependency takes a pod
// out of rotation instead of restarting it.
func container(name, image string, size Size, probes kube.Probes) *corev1.ContainerArgs {
	c := task(name, image, size)
	c.StartupProbe = probes.StartupProbe()
	c.LivenessProbe = probes.LivenessProbe()
	c.ReadinessProbe = probes.ReadinessProbe()
	return c
}

// task is a container that runs to completion (a Job's, an init container):
// pinned image, restricted security context with a read-only root
// filesystem, requests and limits; no probes, as it serves nothing.
func task(name, image string, size Size) *corev1.ContainerArgs {
	return &corev1.ContainerArgs{
		Name:            pulumi.String(name),
		Image:           pulumi.String(image),
		ImagePullPolicy: pulumi.String("IfNotPresent"),
		SecurityContext: kube.RestrictedContainerSecurityContext(),
		Resources:       size.resources().Args(),
	}
}

// taskSize is what a setup script needs.
var taskSize = Size{CPU: "50m", Memory: "64Mi"}

func ports(named map[string]int) corev1.ContainerPortArray {
	out := corev1.ContainerPortArray{}
	for _, name := range sortedKeys(named) {
		out = append(out, &corev1.ContainerPortArgs{Name: pulumi.String(name), ContainerPort: pulumi.Int(named[name]), Protocol: pulumi.String("TCP")})
	}
	return out
}

func env(name string, value pulumi.StringInput) *corev1.EnvVarArgs {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: value}
}

func envFromSecret(name string, secret pulumi.StringPtrInput, key string) *corev1.EnvVarArgs {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
		SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secret, Key: pulumi.String(key)},
	}}
}

func envFromField(name, path string) *corev1.EnvVarArgs {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
		FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String(path)},
	}}
}

func emptyDir(name, size string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(size)}}
}

func configMapVolume(name string, configMap pulumi.StringPtrInput) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: configMap}}
}

func secretVolume(name string, secret pulumi.StringPtrInput) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), Secret: &corev1.SecretVolumeSourceArgs{SecretName: secret}}
}

func mount(name, path string, readOnly bool) *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path), ReadOnly: pulumi.Bool(readOnly)}
}

// fileMount mounts one file of a volume at path.
func fileMount(name, path, file string) *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path), SubPath: pulumi.String(file), ReadOnly: pulumi.Bool(true)}
}

// configMap declares a ConfigMap named by its content, so that a change of
// its data replaces it and rolls the pods that mount it.
func (b *builder) configMap(name string, id kube.Identity, data map[string]string, opts []pulumi.ResourceOption) (pulumi.StringPtrOutput, error) {
	values := pulumi.ToStringMap(data)
	cm, err := corev1.NewConfigMap(b.ctx, b.name+"-"+name, &corev1.ConfigMapArgs{
		Metadata: id.ContentMetadata(b.name+"-"+name, b.args.Namespace, values), Data: values,
	}, opts...)
	if err != nil {
		return pulumi.StringPtrOutput{}, err
	}
	return cm.Metadata.Name(), nil
}

// secret declares a Secret named by its content (see configMap); its values
// are Pulumi secrets.
func (b *builder) secret(name string, id kube.Identity, data pulumi.StringMap) (pulumi.StringPtrOutput, error) {
	return b.secretIn(b.args.Namespace, b.in, name, id, data)
}

// secretIn declares a Secret (see secret) in another of the stack's namespaces.
func (b *builder) secretIn(namespace string, opts []pulumi.ResourceOption, name string, id kube.Identity, data pulumi.StringMap) (pulumi.StringPtrOutput, error) {
	secret, err := corev1.NewSecret(b.ctx, b.name+"-"+name, &corev1.SecretArgs{
		Metadata: id.ContentMetadata(b.name+"-"+name, namespace, data), Type: pulumi.String("Opaque"), StringData: data,
	}, opts...)
	if err != nil {
		return pulumi.StringPtrOutput{}, err
	}
	return secret.Metadata.Name(), nil
}

// service declares a Service for a part's pods. A headless one gives each pod
// of a stateful set its own DNS name, also before it is ready, which a
// cluster needs to form.
func (b *builder) service(name string, id kube.Identity, named map[string]int, headless bool) error {
	spec := &corev1.ServiceSpecArgs{Selector: id.SelectorLabels(), Type: pulumi.String("ClusterIP")}
	if headless {
		spec.ClusterIP = pulumi.String("None")
		spec.PublishNotReadyAddresses = pulumi.Bool(true)
	}
	servicePorts := corev1.ServicePortArray{}
	for _, port := range sortedKeys(named) {
		servicePorts = append(servicePorts, &corev1.ServicePortArgs{
			Name: pulumi.String(port), Port: pulumi.Int(named[port]), TargetPort: pulumi.String(port), Protocol: pulumi.String("TCP"),
		})
	}
	spec.Ports = servicePorts
	_, err := corev1.NewService(b.ctx, b.name+"-"+name, &corev1.ServiceArgs{Metadata: id.Metadata(name, b.args.Namespace), Spec: spec}, b.in...)
	return err
}

// statefulSet declares a part that keeps data. Its pods start in parallel (a
// quorum of controllers or masters needs its peers up to become ready); in
// prod it is protected and its claims outlive it.
//
// A claim's size grows in place: Kubernetes forbids changing a StatefulSet's
// volumeClaimTemplates and pulumi-kubernetes replaces the StatefulSet when
// they change (provider/pkg/provider/diff.go at v4.25.0: .spec.volumeClaimTemplates
// is force-new), which deletes the claims outside prod. So the templates'
// sizes keep what the StatefulSet was created with (ignoreChanges) and each
// member's claim is expanded by a server-side apply patch of its own (claim
// expansion: the StorageClass must allow it). What cannot change in place
// (the class, a smaller size) is refused by validation against the last
// run's record (Deployed).
func (b *builder) statefulSet(name string, id kube.Identity, replicas int, template *corev1.PodTemplateSpecArgs, claims map[string]Storage, opts []pulumi.ResourceOption) (*appsv1.StatefulSet, error) {
	retain := "Delete"
	if b.args.Protect {
		retain = "Retain"
	}
	var templates corev1.PersistentVolumeClaimTypeArray
	for _, claim := range sortedKeys(claims) {
		s := claims[claim]
		spec := &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(s.Size)}},
		}
		if s.Class != "" {
			spec.StorageClassName = pulumi.String(s.Class)
		}
		templates = append(templates, &corev1.PersistentVolumeClaimTypeArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(claim), Labels: id.SelectorLabels()},
			Spec:     spec,
		})
	}
	b.record(name, replicas, claims)
	sts, err := appsv1.NewStatefulSet(b.ctx, b.name+"-"+name, &appsv1.StatefulSetArgs{
		Metadata: id.Metadata(name, b.args.Namespace),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:             pulumi.Int(replicas),
			ServiceName:          pulumi.String(name + "-headless"),
			PodManagementPolicy:  pulumi.String("Parallel"),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
			UpdateStrategy:       &appsv1.StatefulSetUpdateStrategyArgs{Type: pulumi.String("RollingUpdate")},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs{
				WhenDeleted: pulumi.String(retain), WhenScaled: pulumi.String(retain),
			},
			Template:             template,
			VolumeClaimTemplates: templates,
		},
	}, append(opts, b.statefulSetOptions(name)...)...)
	if err != nil {
		return nil, err
	}
	for _, claim := range sortedKeys(claims) {
		for member := range replicas {
			if err := b.claimSize(name, claim, member, claims[claim].Size, sts); err != nil {
				return nil, err
			}
		}
	}
	return sts, nil
}

// statefulSetOptions protects a stateful part (prod) and keeps its claims'
// sizes out of its diff, but for a part the run recreates (Args.Recreate):
// that one is deleted with its claims and made anew.
func (b *builder) statefulSetOptions(name string) []pulumi.ResourceOption {
	if slices.Contains(b.args.Recreate, name) {
		b.ctx.Log.Warn(fmt.Sprintf("recreating %s: its StatefulSet and claims are deleted, and its data with them (platform:observability.recreate)", name), nil)
		return []pulumi.ResourceOption{pulumi.DeleteBeforeReplace(true), pulumi.ReplaceOnChanges([]string{"spec"})}
	}
	return []pulumi.ResourceOption{pulumi.Protect(b.args.Protect), pulumi.IgnoreChanges([]string{claimSizes})}
}

// claimSizes is the path of the claims' sizes in a StatefulSet's inputs.
const claimSizes = "spec.volumeClaimTemplates[*].spec.resources"

// claimSize sets the size of one member's claim (the StatefulSet controller
// names it <claim>-<statefulset>-<ordinal>) once the StatefulSet has made it.
// The patch takes the field from the controller that created the claim
// (patchForce); deleting the patch forgets it and leaves the claim as it is
// (retainOnDelete: a claim of a member scaled away may be gone already).
func (b *builder) claimSize(statefulSet, claim string, member int, size string, sts pulumi.Resource) error {
	_, err := corev1.NewPersistentVolumeClaimPatch(b.ctx, fmt.Sprintf("%s-%s-%s-%d", b.name, statefulSet, claim, member), &corev1.PersistentVolumeClaimPatchArgs{
		Metadata: &metav1.ObjectMetaPatchArgs{
			Name:        pulumi.String(fmt.Sprintf("%s-%s-%d", claim, statefulSet, member)),
			Namespace:   pulumi.String(b.args.Namespace),
			Annotations: pulumi.StringMap{"pulumi.com/patchForce": pulumi.String("true")},
		},
		Spec: &corev1.PersistentVolumeClaimSpecPatchArgs{
			Resources: &corev1.VolumeResourceRequirementsPatchArgs{Requests: pulumi.StringMap{"storage": pulumi.String(size)}},
		},
	}, append(b.in, pulumi.DependsOn([]pulumi.Resource{sts}), pulumi.RetainOnDelete(true))...)
	return err
}

// record notes what this run deploys of a stateful part, for the next run's
// checks (Deployed).
func (b *builder) record(name string, members int, claims map[string]Storage) {
	d := Deployed{Members: members}
	if data, ok := claims["data"]; ok {
		d.Size, d.Class = data.Size, data.Class
	}
	if b.deployed == nil {
		b.deployed = map[string]Deployed{}
	}
	b.deployed[name] = d
}

// clusterPorts are a clustered part's ports: the one its clients use, and the
// one its members talk to each other on.
type clusterPorts struct {
	client, peer         string
	clientPort, peerPort int
}

// cluster declares a stateful part whose members form a cluster: a headless
// Service (each member's own name, both ports), a client Service, the
// StatefulSet with a "data" volume per member, its disruption budget, and a
// policy that lets the clients (members among them) reach the client port and
// only members reach the peer port.
func (b *builder) cluster(name string, id kube.Identity, members int, template *corev1.PodTemplateSpecArgs, storage Storage,
	p clusterPorts, clients networkingv1.NetworkPolicyPeerArray) (*appsv1.StatefulSet, error) {
	both := map[string]int{p.client: p.clientPort, p.peer: p.peerPort}
	if err := b.service(name+"-headless", id, both, true); err != nil {
		return nil, err
	}
	if err := b.service(name, id, map[string]int{p.client: p.clientPort}, false); err != nil {
		return nil, err
	}
	sts, err := b.statefulSet(name, id, members, template, map[string]Storage{"data": storage}, b.in)
	if err != nil {
		return nil, err
	}
	if err := b.disruptionBudget(name, id, members); err != nil {
		return nil, err
	}
	self := networkingv1.NetworkPolicyPeerArray{b.peer(id)}
	err = b.policy(name, b.args.Namespace, id,
		networkingv1.NetworkPolicyIngressRuleArray{from(clients, p.clientPort), from(self, p.peerPort)},
		networkingv1.NetworkPolicyEgressRuleArray{to(self, p.clientPort, p.peerPort)},
		b.in)
	return sts, err
}

// deployment declares a stateless part.
func (b *builder) deployment(name string, id kube.Identity, replicas int, template *corev1.PodTemplateSpecArgs, opts []pulumi.ResourceOption) error {
	_, err := appsv1.NewDeployment(b.ctx, b.name+"-"+name, &appsv1.DeploymentArgs{
		Metadata: id.Metadata(name, b.args.Namespace),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas:             pulumi.Int(replicas),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
				},
			},
			Template: template,
		},
	}, opts...)
	return err
}

// disruptionBudget lets a drain take down one pod of a part at a time, when
// it has more than one.
func (b *builder) disruptionBudget(name string, id kube.Identity, replicas int) error {
	if replicas < 2 {
		return nil
	}
	_, err := policyv1.NewPodDisruptionBudget(b.ctx, b.name+"-"+name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: id.Metadata(name, b.args.Namespace),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
		},
	}, b.in...)
	return err
}

// policy allows a part's pods the traffic listed; the namespace's default
// policy denies the rest. Every part may resolve names.
func (b *builder) policy(name, namespace string, id kube.Identity, ingress networkingv1.NetworkPolicyIngressRuleArray, egress networkingv1.NetworkPolicyEgressRuleArray, opts []pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(b.ctx, b.name+"-"+name, &networkingv1.NetworkPolicyArgs{
		Metadata: id.Metadata(name, namespace),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress:     ingress,
			Egress:      append(networkingv1.NetworkPolicyEgressRuleArray{b.args.DNS.Egress()}, egress...),
		},
	}, opts...)
	return err
}

// from allows the given peers to reach ports.
func from(peers networkingv1.NetworkPolicyPeerArray, ports ...int) *networkingv1.NetworkPolicyIngressRuleArgs {
	return &networkingv1.NetworkPolicyIngressRuleArgs{From: peers, Ports: kube.TCPPorts(ports...)}
}

// to allows reaching ports of the given peers.
func to(peers networkingv1.NetworkPolicyPeerArray, ports ...int) *networkingv1.NetworkPolicyEgressRuleArgs {
	return &networkingv1.NetworkPolicyEgressRuleArgs{To: peers, Ports: kube.TCPPorts(ports...)}
}

// peer selects the pods of one part in the stack's namespace.
func (b *builder) peer(id kube.Identity) *networkingv1.NetworkPolicyPeerArgs {
	return kube.PodsPeer(b.args.Namespace, id.SelectorLabels())
}

// uiAccess allows a UI's port from the namespaces config names and the
// ingress controller.
func uiAccess(ui UI, port int) networkingv1.NetworkPolicyIngressRuleArray {
	sources := append([]string{}, ui.AllowFrom...)
	if ui.Ingress != nil && ui.Ingress.ControllerNamespace != "" {
		sources = append(sources, ui.Ingress.ControllerNamespace)
	}
	if len(sources) == 0 {
		return nil
	}
	var peers networkingv1.NetworkPolicyPeerArray
	for _, ns := range sources {
		peers = append(peers, kube.NamespacePeer(ns))
	}
	return networkingv1.NetworkPolicyIngressRuleArray{from(peers, port)}
}

// ingress exposes a UI's Service on its host, if config asks for it.
func (b *builder) ingress(name string, id kube.Identity, ui UI, port string) error {
	in := ui.Ingress
	if in == nil {
		return nil
	}
	meta := id.Metadata(name, b.args.Namespace)
	meta.Annotations = in.Annotations(kube.OwnerAnnotations())
	_, err := networkingv1.NewIngress(b.ctx, b.name+"-"+name, &networkingv1.IngressArgs{
		Metadata: meta,
		Spec:     in.Spec(pulumi.String(name), port),
	}, b.in...)
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
