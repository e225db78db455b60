// Package workload deploys one Go service of the team on Kubernetes with
// production habits built in: probes, config and secrets that roll the pods
// when they change, a restricted security context, resource limits,
// disruption budgets, autoscaling and default-deny network policies.
//
// How a change of configuration rolls the pods: the ConfigMaps and the Secret
// have no fixed name. The Kubernetes provider names them itself and replaces
// them (create the new one, then delete the old one) whenever their data
// changes, so the pod template refers to a new name and the Deployment rolls a
// new ReplicaSet. No checksum of secret values is ever computed or stored.
// They are not marked immutable, so that a change made to them outside Pulumi
// stays visible to drift detection (a refresh) rather than being refused.
package workload

import (
	"errors"
	"strconv"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/kube"
)

// TypeToken is the Pulumi type of the component.
const TypeToken = "platform:workload:Workload"

// preStopSeconds is how long a terminating pod keeps serving before SIGTERM,
// so that endpoints and load balancers stop sending it traffic first.
const preStopSeconds = 5

// Workload is one service running on Kubernetes.
type Workload struct {
	pulumi.ResourceState

	// Namespace the service runs in.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// ServiceName is the name of the ClusterIP Service.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// ServiceDNS is the Service's cluster DNS name with its port.
	ServiceDNS pulumi.StringOutput `pulumi:"serviceDns"`
	// DeploymentName is the name of the Deployment.
	DeploymentName pulumi.StringOutput `pulumi:"deploymentName"`
}

// NewWorkload declares the service's Kubernetes objects. The provider is
// required: every object goes to the cluster it names, never an ambient one.
func NewWorkload(ctx *pulumi.Context, name string, args Args, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*Workload, error) {
	w := &Workload{}
	err := component.New(ctx, TypeToken, name, w, args, provider, func(args Args, children []pulumi.ResourceOption) error {
		if args.Image == nil {
			return errors.New("image: is required: an image reference with a version tag or a digest")
		}
		b := builder{ctx: ctx, name: name, args: args, opts: children}
		return b.build(w)
	}, opts...)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// builder declares the children of one Workload.
type builder struct {
	ctx  *pulumi.Context
	name string
	args Args
	opts []pulumi.ResourceOption
	id   kube.Identity
}

// NamespaceReadSuffix ends the name of the read of a service's existing
// namespace (<service>-existing-namespace): when the read fails, the engine's
// error names it, and the driver says what to do.
const NamespaceReadSuffix = "existing-namespace"

func (b *builder) build(w *Workload) error {
	a := b.args
	namespace := a.NamespaceName()
	b.id = kube.Identity{
		Name: a.Name, Instance: a.Name, Version: a.Version, Component: "server",
		PartOf: a.Name, Environment: a.Environment,
	}
	opts := b.opts
	if a.Namespace == "" {
		ns, err := b.namespace(namespace)
		if err != nil {
			return err
		}
		// Deleting the namespace deletes everything in it: a destroy need not
		// delete each object and wait for it.
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{ns}), pulumi.DeletedWith(ns))
	} else {
		// A namespace someone else owns: read it first, so that a missing one
		// fails the run at once, instead of every object retrying "namespaces
		// not found" for a minute.
		ns, err := corev1.GetNamespace(b.ctx, b.name+"-"+NamespaceReadSuffix, pulumi.ID(namespace), nil, b.opts...)
		if err != nil {
			return err
		}
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{ns}))
	}

	sa, err := corev1.NewServiceAccount(b.ctx, b.name, &corev1.ServiceAccountArgs{
		Metadata:                     b.id.Metadata(a.Name, namespace),
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return err
	}
	config, err := b.config(namespace, opts)
	if err != nil {
		return err
	}
	deployment, err := appsv1.NewDeployment(b.ctx, b.name, &appsv1.DeploymentArgs{
		Metadata: b.id.Metadata(a.Name, namespace),
		Spec:     b.deploymentSpec(sa.Metadata.Name().Elem(), config),
	}, opts...)
	if err != nil {
		return err
	}
	service, err := corev1.NewService(b.ctx, b.name, &corev1.ServiceArgs{
		Metadata: b.id.Metadata(a.Name, namespace),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: b.id.SelectorLabels(),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(a.Port), TargetPort: pulumi.String("http"),
				Protocol: pulumi.String("TCP"),
			}},
		},
	}, opts...)
	if err != nil {
		return err
	}
	if err := b.availability(namespace, deployment, opts); err != nil {
		return err
	}
	if err := b.ingress(namespace, service, opts); err != nil {
		return err
	}
	if err := b.networkPolicy(namespace, opts); err != nil {
		return err
	}

	w.Namespace = deployment.Metadata.Namespace().Elem()
	w.DeploymentName = deployment.Metadata.Name().Elem()
	w.ServiceName = service.Metadata.Name().Elem()
	w.ServiceDNS = pulumi.Sprintf("%s.%s.svc.%s:%d", w.ServiceName, w.Namespace, a.DNS.WithDefaults().Domain, a.Port)
	return nil
}

// namespace creates the service's namespace, enforcing Pod Security
// "restricted", with a policy that denies all traffic not allowed explicitly.
func (b *builder) namespace(name string) (*corev1.Namespace, error) {
	return kube.NewNamespace(b.ctx, b.name, kube.Namespace{
		Name: name, PodSecurity: "restricted", Labels: b.id.Labels(), Protect: b.args.ProtectNamespace,
	}, b.opts...)
}

// podConfig is what the pod template refers to: the names of the config
// objects, which change whenever their content does.
type podConfig struct {
	env, files, secret, secretFiles pulumi.StringPtrInput
}

// secretsDir is where SecretFiles are mounted.
const secretsDir = "/run/secrets"

func (b *builder) config(namespace string, opts []pulumi.ResourceOption) (podConfig, error) {
	a := b.args
	var pc podConfig
	// Named by their content: a change of data replaces the object, which
	// rolls the Deployment (see the package comment).
	var err error
	if pc.env, err = b.configMap("-env", namespace, a.Env, opts); err != nil {
		return pc, err
	}
	if pc.files, err = b.configMap("-files", namespace, a.Files, opts); err != nil {
		return pc, err
	}
	if pc.secret, err = b.secret("-secret", namespace, a.Secrets, opts); err != nil {
		return pc, err
	}
	if pc.secretFiles, err = b.secret("-secret-files", namespace, a.SecretFileValues, opts); err != nil {
		return pc, err
	}
	return pc, nil
}

// secret declares a Secret for values, if there are any, each a Pulumi
// secret, and returns its name.
func (b *builder) secret(suffix, namespace string, values map[string]pulumi.StringInput, opts []pulumi.ResourceOption) (pulumi.StringPtrInput, error) {
	if len(values) == 0 {
		return nil, nil
	}
	data := pulumi.StringMap{}
	for k, v := range values {
		data[k] = pulumi.ToSecret(v).(pulumi.StringOutput)
	}
	secret, err := corev1.NewSecret(b.ctx, b.name+suffix, &corev1.SecretArgs{
		Metadata: b.id.ContentMetadata(b.name+suffix, namespace, data), Type: pulumi.String("Opaque"), StringData: data,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return secret.Metadata.Name(), nil
}

// configMap declares a ConfigMap for data, if there is any, and returns its name.
func (b *builder) configMap(suffix, namespace string, data map[string]string, opts []pulumi.ResourceOption) (pulumi.StringPtrInput, error) {
	if len(data) == 0 {
		return nil, nil
	}
	values := pulumi.ToStringMap(data)
	cm, err := corev1.NewConfigMap(b.ctx, b.name+suffix, &corev1.ConfigMapArgs{
		Metadata: b.id.ContentMetadata(b.name+suffix, namespace, values), Data: values,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return cm.Metadata.Name(), nil
}

func (b *builder) deploymentSpec(serviceAccount pulumi.StringInput, pc podConfig) *appsv1.DeploymentSpecArgs {
	a := b.args
	maxUnavailable, maxSurge := pulumi.Input(pulumi.String("25%")), pulumi.Input(pulumi.String("25%"))
	if a.HighAvailability {
		maxUnavailable, maxSurge = pulumi.Int(0), pulumi.Int(1)
	}
	var envFrom corev1.EnvFromSourceArray
	if pc.env != nil {
		envFrom = append(envFrom, &corev1.EnvFromSourceArgs{ConfigMapRef: &corev1.ConfigMapEnvSourceArgs{Name: pc.env}})
	}
	if pc.secret != nil {
		envFrom = append(envFrom, &corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: pc.secret}})
	}
	volumes := corev1.VolumeArray{&corev1.VolumeArgs{
		Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")},
	}}
	mounts := corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}}
	if pc.files != nil {
		volumes = append(volumes, &corev1.VolumeArgs{
			Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pc.files},
		})
		mounts = append(mounts, &corev1.VolumeMountArgs{
			Name: pulumi.String("config"), MountPath: pulumi.String("/etc/" + a.Name), ReadOnly: pulumi.Bool(true),
		})
	}
	if pc.secretFiles != nil {
		// Group-readable only: the files belong to root and the pod's
		// fsGroup, the service's own group (RestrictedPodSecurityContext).
		volumes = append(volumes, &corev1.VolumeArgs{
			Name: pulumi.String("secrets"), Secret: &corev1.SecretVolumeSourceArgs{SecretName: pc.secretFiles, DefaultMode: pulumi.Int(0o440)},
		})
		mounts = append(mounts, &corev1.VolumeMountArgs{
			Name: pulumi.String("secrets"), MountPath: pulumi.String(secretsDir), ReadOnly: pulumi.Bool(true),
		})
	}
	containers := corev1.ContainerArray{b.container(envFrom, mounts)}
	kube.BoundEphemeralStorage(containers, volumes)
	// With autoscaling the HPA owns the replica count; declaring it here too
	// would fight the HPA on every update.
	var replicas pulumi.IntPtrInput = pulumi.Int(a.Replicas)
	if a.Autoscaling.Enabled {
		replicas = nil
	}
	spec := &corev1.PodSpecArgs{
		ServiceAccountName:            serviceAccount,
		AutomountServiceAccountToken:  pulumi.Bool(false),
		SecurityContext:               kube.RestrictedPodSecurityContext(kube.NonRootUID),
		TerminationGracePeriodSeconds: pulumi.Int(preStopSeconds + a.DrainSeconds + 5),
		TopologySpreadConstraints:     b.spread(),
		Volumes:                       volumes,
		Containers:                    containers,
	}
	a.Placement.Apply(spec)
	return &appsv1.DeploymentSpecArgs{
		Replicas:             replicas,
		RevisionHistoryLimit: pulumi.Int(5),
		Selector:             &metav1.LabelSelectorArgs{MatchLabels: b.id.SelectorLabels()},
		Strategy: &appsv1.DeploymentStrategyArgs{
			Type: pulumi.String("RollingUpdate"),
			RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
				MaxUnavailable: maxUnavailable, MaxSurge: maxSurge,
			},
		},
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: b.id.Labels()},
			Spec:     spec,
		},
	}
}

// container is the service's container.
func (b *builder) container(envFrom corev1.EnvFromSourceArray, mounts corev1.VolumeMountArray) *corev1.ContainerArgs {
	a := b.args
	return &corev1.ContainerArgs{
		Name:            pulumi.String(a.Name),
		Image:           a.Image,
		ImagePullPolicy: pulumi.String("IfNotPresent"),
		Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
			Name: pulumi.String("http"), ContainerPort: pulumi.Int(a.Port), Protocol: pulumi.String("TCP"),
		}},
		Env:             b.env(),
		EnvFrom:         envFrom,
		Resources:       a.Resources.Args(),
		SecurityContext: kube.RestrictedContainerSecurityContext(),
		StartupProbe:    a.Probes.StartupProbe(),
		LivenessProbe:   a.Probes.LivenessProbe(),
		ReadinessProbe:  a.Probes.ReadinessProbe(),
		Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
			Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(preStopSeconds)},
		}},
		VolumeMounts: mounts,
	}
}

// env is what every service gets from the platform: where it runs, and where
// to send traces.
func (b *builder) env() corev1.EnvVarArray {
	a := b.args
	var attributes []string
	if a.Version != "" {
		attributes = append(attributes, "service.version="+a.Version)
	}
	if a.Environment != "" {
		attributes = append(attributes, "deployment.environment.name="+a.Environment)
	}
	env := corev1.EnvVarArray{
		// The process listens where the Service, the probes and the
		// container port say (app/config.go reads PORT).
		&corev1.EnvVarArgs{Name: pulumi.String("PORT"), Value: pulumi.String(strconv.Itoa(a.Port))},
		&corev1.EnvVarArgs{Name: pulumi.String("OTEL_SERVICE_NAME"), Value: pulumi.String(a.Name)},
	}
	if len(attributes) > 0 {
		env = append(env, &corev1.EnvVarArgs{
			Name: pulumi.String("OTEL_RESOURCE_ATTRIBUTES"), Value: pulumi.String(strings.Join(attributes, ",")),
		})
	}
	if a.Telemetry != nil {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String("OTEL_EXPORTER_OTLP_ENDPOINT"), Value: a.Telemetry.Endpoint})
	}
	return env
}

// spread keeps a highly available service's pods on different zones and hosts.
func (b *builder) spread() corev1.TopologySpreadConstraintArray {
	if !b.args.HighAvailability {
		return nil
	}
	return kube.SpreadOverZonesAndHosts(b.id.SelectorLabels())
}

// availability adds a PodDisruptionBudget when there is more than one replica,
// and the HorizontalPodAutoscaler when autoscaling is on.
func (b *builder) availability(namespace string, deployment *appsv1.Deployment, opts []pulumi.ResourceOption) error {
	a := b.args
	if a.Replicas > 1 {
		_, err := policyv1.NewPodDisruptionBudget(b.ctx, b.name, &policyv1.PodDisruptionBudgetArgs{
			Metadata: b.id.Metadata(a.Name, namespace),
			Spec: &policyv1.PodDisruptionBudgetSpecArgs{
				MaxUnavailable: pulumi.Int(1),
				Selector:       &metav1.LabelSelectorArgs{MatchLabels: b.id.SelectorLabels()},
			},
		}, opts...)
		if err != nil {
			return err
		}
	}
	if as := a.Autoscaling; as.Enabled {
		_, err := autoscalingv2.NewHorizontalPodAutoscaler(b.ctx, b.name, &autoscalingv2.HorizontalPodAutoscalerArgs{
			Metadata: b.id.Metadata(a.Name, namespace),
			Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
				ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
					ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"),
					Name: deployment.Metadata.Name().Elem(),
				},
				MinReplicas: pulumi.Int(a.Replicas),
				MaxReplicas: pulumi.Int(as.MaxReplicas),
				Metrics: autoscalingv2.MetricSpecArray{&autoscalingv2.MetricSpecArgs{
					Type: pulumi.String("Resource"),
					Resource: &autoscalingv2.ResourceMetricSourceArgs{
						Name: pulumi.String("cpu"),
						Target: &autoscalingv2.MetricTargetArgs{
							Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(as.TargetCPUUtilization),
						},
					},
				}},
			},
		}, opts...)
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) ingress(namespace string, service *corev1.Service, opts []pulumi.ResourceOption) error {
	in := b.args.Ingress
	if in == nil {
		return nil
	}
	meta := b.id.Metadata(b.args.Name, namespace)
	meta.Annotations = in.Annotations(kube.OwnerAnnotations())
	_, err := networkingv1.NewIngress(b.ctx, b.name, &networkingv1.IngressArgs{
		Metadata: meta,
		Spec:     in.Spec(service.Metadata.Name().Elem(), "http"),
	}, opts...)
	return err
}

// networkPolicy allows, for the service's pods, ingress on the service port
// from its own namespace and the ones named, and egress to DNS, the tracing
// collector and the destinations the config names. Everything else is denied.
func (b *builder) networkPolicy(namespace string, opts []pulumi.ResourceOption) error {
	a := b.args
	from := networkingv1.NetworkPolicyPeerArray{
		&networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{}},
	}
	sources := append([]string{}, a.AllowFrom...)
	if a.Ingress != nil && a.Ingress.ControllerNamespace != "" {
		sources = append(sources, a.Ingress.ControllerNamespace)
	}
	for _, ns := range sources {
		from = append(from, kube.NamespacePeer(ns))
	}
	egress := networkingv1.NetworkPolicyEgressRuleArray{a.DNS.Egress()}
	if t := a.Telemetry; t != nil {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{
			To:    networkingv1.NetworkPolicyPeerArray{kube.NamespacePeer(t.Namespace)},
			Ports: kube.TCPPorts(t.Port),
		})
	}
	for _, rule := range a.Egress {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{
			To:    networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(rule.CIDR)}}},
			Ports: kube.TCPPorts(rule.Ports...),
		})
	}
	_, err := networkingv1.NewNetworkPolicy(b.ctx, b.name, &networkingv1.NetworkPolicyArgs{
		Metadata: b.id.Metadata(a.Name, namespace),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: b.id.SelectorLabels()},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
				From:  from,
				Ports: kube.TCPPorts(a.Port),
			}},
			Egress: egress,
		},
	}, opts...)
	return err
}
