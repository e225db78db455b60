package observability

import (
	"fmt"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const (
	filebeatHTTPPort = 5066
	// maxMapCount is what Elasticsearch's memory-mapped store needs.
	maxMapCount = 262144
)

func (b *builder) filebeatID() kube.Identity   { return b.id("filebeat", "agent") }
func (b *builder) nodeTuningID() kube.Identity { return b.id("node-tuning", "agent") }

// filebeat declares the log shipper on every node: it reads the containers'
// log files and writes them to Kafka. It runs as root (the log files are
// root's) with every capability dropped but reading them, and may only read
// pods, namespaces and nodes from the API.
func (b *builder) filebeat() error {
	f := b.args.Filebeat
	id := b.filebeatID()
	ns := b.args.AgentsNamespace
	meta := id.Metadata("filebeat", ns)
	sa, err := corev1.NewServiceAccount(b.ctx, b.name+"-filebeat", &corev1.ServiceAccountArgs{Metadata: meta}, b.agents...)
	if err != nil {
		return err
	}
	// Cluster-scoped: named after the agents namespace, so two stacks on one
	// cluster do not collide.
	clusterMeta := id.Metadata(ns+"-filebeat", "")
	clusterMeta.Namespace = nil
	role, err := rbacv1.NewClusterRole(b.ctx, b.name+"-filebeat", &rbacv1.ClusterRoleArgs{
		Metadata: clusterMeta,
		Rules: rbacv1.PolicyRuleArray{&rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String("")},
			Resources: pulumi.StringArray{pulumi.String("pods"), pulumi.String("namespaces"), pulumi.String("nodes")},
			Verbs:     pulumi.StringArray{pulumi.String("get"), pulumi.String("list"), pulumi.String("watch")},
		}},
	}, b.opts...)
	if err != nil {
		return err
	}
	_, err = rbacv1.NewClusterRoleBinding(b.ctx, b.name+"-filebeat", &rbacv1.ClusterRoleBindingArgs{
		Metadata: clusterMeta,
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: role.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: sa.Metadata.Name().Elem(), Namespace: pulumi.String(ns),
		}},
	}, b.opts...)
	if err != nil {
		return err
	}
	kafka, err := b.kafkaClient(filebeatPrincipal, id, ns, b.agents)
	if err != nil {
		return err
	}
	config := pulumi.StringMap{"filebeat.yml": pulumi.String(b.filebeatConfig())}
	cm, err := corev1.NewConfigMap(b.ctx, b.name+"-filebeat", &corev1.ConfigMapArgs{
		Metadata: id.ContentMetadata(b.name+"-filebeat", ns, config), Data: config,
	}, b.agents...)
	if err != nil {
		return err
	}

	probe := "/"
	c := container("filebeat", f.Image, f.Size, kube.Probes{Port: filebeatHTTPPort, Startup: probe, Readiness: probe})
	c.Args = pulumi.StringArray{pulumi.String("-e"), pulumi.String("-c"), pulumi.String("/etc/filebeat/filebeat.yml"),
		pulumi.String("--path.data"), pulumi.String("/usr/share/filebeat/data")}
	c.Ports = ports(map[string]int{"http": filebeatHTTPPort})
	c.Env = corev1.EnvVarArray{envFromField("NODE_NAME", "spec.nodeName")}
	c.SecurityContext = &corev1.SecurityContextArgs{
		RunAsUser:                pulumi.Int(0),
		RunAsNonRoot:             pulumi.Bool(false),
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities: &corev1.CapabilitiesArgs{
			Drop: pulumi.StringArray{pulumi.String("ALL")},
			Add:  pulumi.StringArray{pulumi.String("DAC_READ_SEARCH")},
		},
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
	c.VolumeMounts = append(corev1.VolumeMountArray{
		mount("config", "/etc/filebeat", true), mount("data", "/usr/share/filebeat/data", false),
		mount("containers", "/var/log/containers", true), mount("pods", "/var/log/pods", true),
	}, kafka.mounts...)
	kube.BoundEphemeralStorage(corev1.ContainerArray{c}, nil)
	hostPath := func(name, path, kind string) *corev1.VolumeArgs {
		return &corev1.VolumeArgs{Name: pulumi.String(name), HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(path), Type: pulumi.String(kind)}}
	}
	spec := &corev1.PodSpecArgs{
		ServiceAccountName:            sa.Metadata.Name().Elem(),
		TerminationGracePeriodSeconds: pulumi.Int(30),
		// Every node's logs, control plane and tainted nodes too.
		Tolerations: corev1.TolerationArray{&corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
		Containers:  corev1.ContainerArray{c},
		Volumes: append(corev1.VolumeArray{
			configMapVolume("config", cm.Metadata.Name()),
			// The registry of read offsets survives restarts: no line is shipped twice.
			hostPath("data", "/var/lib/filebeat-data", "DirectoryOrCreate"),
			hostPath("containers", "/var/log/containers", "Directory"),
			hostPath("pods", "/var/log/pods", "Directory"),
		}, kafka.volumes...),
	}
	b.args.Filebeat.Placement.Apply(spec)
	_, err = appsv1.NewDaemonSet(b.ctx, b.name+"-filebeat", &appsv1.DaemonSetArgs{
		Metadata: meta,
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
			UpdateStrategy: &appsv1.DaemonSetUpdateStrategyArgs{Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDaemonSetArgs{MaxUnavailable: pulumi.Int(1)}},
			Template: &corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: id.Labels()}, Spec: spec},
		},
	}, append(b.agents, pulumi.DependsOn([]pulumi.Resource{b.kafkaReady}))...)
	if err != nil {
		return err
	}
	return b.policy("filebeat", ns, id, nil, networkingv1.NetworkPolicyEgressRuleArray{
		to(networkingv1.NetworkPolicyPeerArray{b.peer(b.kafkaID())}, kafkaPort),
		// Kubernetes metadata: the API server's address differs per cluster.
		to(nil, 443, 6443),
	}, b.agents)
}

// filebeatConfig reads every container's log file, adds its pod's metadata
// and writes the events to the logs topic.
func (b *builder) filebeatConfig() string {
	k := b.args.Kafka
	var hosts []string
	for i := range k.Brokers {
		hosts = append(hosts, fmt.Sprintf("%q", fmt.Sprintf("kafka-%d.%s:%d", i, b.host("kafka-headless"), kafkaPort)))
	}
	// All in-sync replicas acknowledge when there are replicas to wait for.
	acks := 1
	if k.ReplicationFactor > 1 {
		acks = -1
	}
	return fmt.Sprintf(`filebeat.inputs:
  - type: filestream
    id: kubernetes-container-logs
    paths: [/var/log/containers/*.log]
    prospector.scanner.symlinks: true
    parsers:
      - container: ~
    processors:
      - add_kubernetes_metadata:
          host: ${NODE_NAME}
          matchers:
            - logs_path:
                logs_path: /var/log/containers/
fields:
  environment: %s
fields_under_root: false
output.kafka:
  hosts: [%s]
  topic: %s
  # Kafka 4 removed the protocol versions Filebeat speaks by default.
  version: "2.1.0"
  required_acks: %d
  compression: gzip
  max_message_bytes: 1000000
  partition.round_robin:
    reachable_only: false
%shttp.enabled: true
http.host: 0.0.0.0
http.port: %d
`, b.args.Environment, strings.Join(hosts, ", "), LogsTopic, acks, filebeatKafkaTLS(k), filebeatHTTPPort)
}

// nobodyUID is the unprivileged user of images that run as root (busybox).
const nobodyUID = 65534

// nodeTuning raises vm.max_map_count on every node for Elasticsearch's
// memory-mapped store, when it is on. It lives in the agents namespace, the
// one that admits privileged pods; its readiness says the node is tuned.
func (b *builder) nodeTuning() error {
	if !b.args.Elasticsearch.MMap {
		return nil
	}
	id := b.nodeTuningID()
	check := fmt.Sprintf(`[ "$(sysctl -n vm.max_map_count)" -ge %d ]`, maxMapCount)
	set := fmt.Sprintf("sysctl -w vm.max_map_count=%d", maxMapCount)
	tune := &corev1.ContainerArgs{
		Name: pulumi.String("sysctl"), Image: pulumi.String(DefaultSysctlImage), ImagePullPolicy: pulumi.String("IfNotPresent"),
		Command:         pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(check + " || " + set)},
		SecurityContext: &corev1.SecurityContextArgs{Privileged: pulumi.Bool(true), RunAsUser: pulumi.Int(0)},
		Resources:       Size{CPU: "10m", Memory: "16Mi"}.resources().Args(),
	}
	probe := &corev1.ProbeArgs{
		Exec:          &corev1.ExecActionArgs{Command: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(check)}},
		PeriodSeconds: pulumi.Int(60),
	}
	// busybox runs as root unless told: runAsNonRoot alone is refused by the
	// kubelet (CreateContainerConfigError), so name a user.
	waitSecurity := kube.RestrictedContainerSecurityContext()
	waitSecurity.RunAsUser = pulumi.Int(nobodyUID)
	wait := &corev1.ContainerArgs{
		Name: pulumi.String("tuned"), Image: pulumi.String(DefaultSysctlImage), ImagePullPolicy: pulumi.String("IfNotPresent"),
		Command:         pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String("trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done")},
		SecurityContext: waitSecurity,
		Resources:       Size{CPU: "10m", Memory: "16Mi"}.resources().Args(),
		// Ready once the node is tuned; nothing to restart: it only sleeps.
		StartupProbe: probe, ReadinessProbe: probe,
	}
	kube.BoundEphemeralStorage(corev1.ContainerArray{tune}, nil)
	kube.BoundEphemeralStorage(corev1.ContainerArray{wait}, nil)
	spec := &corev1.PodSpecArgs{
		AutomountServiceAccountToken: pulumi.Bool(false),
		InitContainers:               corev1.ContainerArray{tune},
		Containers:                   corev1.ContainerArray{wait},
		Tolerations:                  corev1.TolerationArray{&corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
	}
	// The nodes Elasticsearch may run on are the ones to tune.
	b.args.Elasticsearch.Placement.Apply(spec)
	_, err := appsv1.NewDaemonSet(b.ctx, b.name+"-node-tuning", &appsv1.DaemonSetArgs{
		Metadata: id.Metadata("node-tuning", b.args.AgentsNamespace),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: id.SelectorLabels()},
			Template: &corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: id.Labels()}, Spec: spec},
		},
	}, b.agents...)
	if err != nil {
		return err
	}
	return b.policy("node-tuning", b.args.AgentsNamespace, id, nil, nil, b.agents)
}

// filebeatKafkaTLS is the Kafka output's TLS settings: the brokers verified
// against the stack's CA (full verification, Beats' default), Filebeat's
// own certificate shown (ssl.certificate and ssl.key, PEM files).
func filebeatKafkaTLS(k Kafka) string {
	if !k.TLS {
		return ""
	}
	return fmt.Sprintf("  ssl.enabled: true\n  ssl.certificate_authorities: [\"%[1]s/ca.crt\"]\n"+
		"  ssl.certificate: \"%[1]s/tls.crt\"\n  ssl.key: \"%[1]s/tls.key\"\n", kafkaCADir)
}
