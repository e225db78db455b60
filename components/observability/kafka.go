package observability

import (
	"fmt"
	"strings"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const (
	kafkaPort           = 9092
	kafkaControllerPort = 9093
	// kafkaUID is the apache/kafka image's user (appuser, UID 1000).
	kafkaUID = 1000
	// kafkaDataDir is where the claim is mounted: exactly the image's VOLUME
	// /var/lib/kafka/data, so that no container runtime mounts an anonymous
	// volume over it (containerd's CRI adds one for every image VOLUME that
	// no pod mount equals). The logs live in a folder below it, apart from a
	// file system's lost+found.
	kafkaDataDir = "/var/lib/kafka/data"
	kafkaLogDir  = kafkaDataDir + "/logs"
	// kafkaConfigDir holds server.properties and start.sh, read-only. Not
	// /etc/kafka: the image declares VOLUME /etc/kafka/secrets, which a
	// runtime cannot mount inside a read-only mount.
	kafkaConfigDir = "/etc/platform-kafka"
	// kafkaSecretsDir holds the brokers' TLS material: the Secret is mounted
	// exactly on the image's VOLUME /etc/kafka/secrets, so no runtime mounts
	// an anonymous volume there.
	kafkaSecretsDir = "/etc/kafka/secrets"
	// kafkaCADir is where Kafka's clients find the CA certificate (ca.crt).
	kafkaCADir = "/etc/kafka-ca"
	// LogsTopic is the Kafka topic Filebeat writes and Logstash reads.
	LogsTopic = "logs"
)

func (b *builder) kafkaID() kube.Identity      { return b.id("kafka", "broker") }
func (b *builder) kafkaSetupID() kube.Identity { return b.id("kafka-setup", "setup") }

// kafka declares the brokers (each also a KRaft controller), their Services,
// and a Job that creates the logs topic.
func (b *builder) kafka() error {
	k := b.args.Kafka
	id := b.kafkaID()
	config, err := b.configMap("kafka", id, map[string]string{
		"server.properties": kafkaProperties(k, b.args.Namespace, b.host("kafka-headless")),
		"start.sh":          kafkaStart,
		"client.properties": kafkaClientProperties(k, kafkaCADir),
		"broker.properties": kafkaClientProperties(k, kafkaSecretsDir),
		"log4j2.yaml":       kafkaLog4j,
	}, b.in)
	if err != nil {
		return err
	}
	volumes := corev1.VolumeArray{configMapVolume("config", config), emptyDir("tmp", "1Gi")}
	var tlsMounts corev1.VolumeMountArray
	if k.TLS {
		secret, err := b.secret("kafka-tls", id, pulumi.StringMap{
			"keystore.pem": pemKeyStore(b.args.TLS.Kafka),
			"ca.crt":       pulumi.ToSecret(b.args.TLS.CA).(pulumi.StringOutput),
		})
		if err != nil {
			return err
		}
		volumes = append(volumes, secretVolume("tls", secret))
		tlsMounts = corev1.VolumeMountArray{mount("tls", kafkaSecretsDir, true)}
	}
	c := container("kafka", k.Image, k.Size, kube.Probes{Port: kafkaPort, LivenessPort: kafkaControllerPort,
		StartupCommand: []string{"/bin/sh", "-c", kafkaCaughtUp(b.host("kafka-headless"))}, StartupSeconds: kafkaCatchUpSeconds})
	c.Command = pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String(kafkaConfigDir + "/start.sh")}
	c.Ports = ports(map[string]int{"kafka": kafkaPort, "controller": kafkaControllerPort})
	c.Env = corev1.EnvVarArray{
		envFromField("POD_NAME", "metadata.name"),
		env("CLUSTER_ID", pulumi.String(kafkaClusterID(b.args.Namespace, b.name))),
		env("LOG_DIR", pulumi.String("/tmp/logs")),
		env("KAFKA_HEAP_OPTS", pulumi.String(heapOptions(k.Size.Memory))),
		// Logs go to stdout alone, so none fills the 1 GiB /tmp (LOG_DIR):
		// kafka-server-start.sh passes -loggc unless EXTRA_ARGS is set (GC
		// logs of up to 10 x 100 MB in LOG_DIR, kafka-run-class.sh), and the
		// image's log4j2.yaml adds hourly rolling files without a delete
		// policy; KAFKA_LOG4J_OPTS replaces it (both scripts at Kafka 4.1).
		env("EXTRA_ARGS", pulumi.String("-name kafkaServer")),
		env("KAFKA_LOG4J_OPTS", pulumi.String("-Dlog4j2.configurationFile="+kafkaConfigDir+"/log4j2.yaml")),
	}
	c.VolumeMounts = append(corev1.VolumeMountArray{
		mount("data", kafkaDataDir, false), mount("config", kafkaConfigDir, true), mount("tmp", "/tmp", false),
	}, tlsMounts...)
	template := pod{
		id: id, uid: kafkaUID, containers: corev1.ContainerArray{c}, spread: b.args.HighAvailability, graceSeconds: 60,
		volumes: volumes, placement: k.Placement,
	}.template()
	clients := networkingv1.NetworkPolicyPeerArray{
		kube.PodsPeer(b.args.AgentsNamespace, b.filebeatID().SelectorLabels()),
		b.peer(b.logstashID()), b.peer(b.kafkaSetupID()), b.peer(id),
	}
	sts, err := b.cluster("kafka", id, k.Brokers, template, k.Storage,
		clusterPorts{client: "kafka", clientPort: kafkaPort, peer: "controller", peerPort: kafkaControllerPort}, clients)
	if err != nil {
		return err
	}

	setup := b.kafkaSetupID()
	// The Kafka tools are a JVM: more than a shell script's taskSize.
	job := task("create-topic", k.Image, Size{CPU: "100m", Memory: "512Mi"})
	job.Command = pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(topicScript(k, b.host("kafka")))}
	job.Env = corev1.EnvVarArray{env("KAFKA_HEAP_OPTS", pulumi.String("-Xmx256m")), env("LOG_DIR", pulumi.String("/tmp/logs"))}
	access, err := b.kafkaClient(kafkaSetupPrincipal, setup, b.args.Namespace, b.in)
	if err != nil {
		return err
	}
	job.VolumeMounts = append(corev1.VolumeMountArray{mount("tmp", "/tmp", false), mount("config", kafkaConfigDir, true)}, access.mounts...)
	jobVolumes := append(corev1.VolumeArray{emptyDir("tmp", "256Mi"), configMapVolume("config", config)}, access.volumes...)
	created, err := b.job("kafka-topic", setup, pod{id: setup, uid: kafkaUID, containers: corev1.ContainerArray{job},
		volumes: jobVolumes, placement: k.Placement}, append(b.in, pulumi.DependsOn([]pulumi.Resource{sts})))
	if err != nil {
		return err
	}
	b.kafkaReady = created
	return b.policy("kafka-setup", b.args.Namespace, setup, nil,
		networkingv1.NetworkPolicyEgressRuleArray{to(networkingv1.NetworkPolicyPeerArray{b.peer(id)}, kafkaPort)}, b.in)
}

// kafkaLog4j logs the broker to stdout only, at INFO, in the image's own
// layout (its log4j2.yaml's pattern).
const kafkaLog4j = `Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
`

// kafkaProperties is the brokers' configuration; start.sh fills in each
// pod's node id and advertised name, a name under the headless Service.
func kafkaProperties(k Kafka, namespace, headless string) string {
	var voters []string
	for i := range k.Brokers {
		voters = append(voters, fmt.Sprintf("%d@kafka-%d.%s:%d", i, i, headless, kafkaControllerPort))
	}
	var s strings.Builder
	fmt.Fprintf(&s, "# KRaft: every node is broker and controller; no ZooKeeper.\n"+
		"process.roles=broker,controller\nnode.id=@NODE_ID@\ncontroller.quorum.voters=%s\ncontroller.listener.names=CONTROLLER\n",
		strings.Join(voters, ","))
	// With TLS, clients and brokers (the controller quorum too) speak SSL,
	// with a PEM key store and trust store (Kafka's DefaultSslEngineFactory
	// reads a file holding the unencrypted PKCS #8 key and its certificate).
	protocol := kafkaProtocol(k)
	fmt.Fprintf(&s, "listeners=%[1]s://:%[2]d,CONTROLLER://:%[3]d\n"+
		"advertised.listeners=%[1]s://@POD_NAME@.%[4]s:%[2]d\n"+
		"listener.security.protocol.map=%[1]s:%[1]s,CONTROLLER:%[1]s\ninter.broker.listener.name=%[1]s\n",
		protocol, kafkaPort, kafkaControllerPort, headless)
	if k.TLS {
		fmt.Fprintf(&s, "ssl.keystore.type=PEM\nssl.keystore.location=%[1]s/keystore.pem\n"+
			"ssl.truststore.type=PEM\nssl.truststore.location=%[1]s/ca.crt\n", kafkaSecretsDir)
		// Every peer, client, broker and controller alike, shows a
		// certificate of the stack's CA, and Kafka takes its subject as the
		// principal (User:CN=<name>, the default of
		// ssl.principal.mapping.rules). Whatever an ACL does not allow is
		// refused; the brokers (their certificate's name) and the topic Job
		// are super users, which the controller quorum and replication need.
		fmt.Fprintf(&s, "ssl.client.auth=required\n"+
			"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"+
			"allow.everyone.if.no.acl.found=false\nsuper.users=%s\n", strings.Join(kafkaSuperUsers(namespace), ";"))
	}
	fmt.Fprintf(&s, `log.dirs=%s
# Topics are created by the setup Job, never by a typo in a client.
auto.create.topics.enable=false
num.partitions=%d
default.replication.factor=%d
min.insync.replicas=%d
offsets.topic.replication.factor=%d
transaction.state.log.replication.factor=%d
transaction.state.log.min.isr=%d
log.retention.hours=%d
`, kafkaLogDir, k.Partitions, k.ReplicationFactor, k.MinInsyncReplicas,
		k.ReplicationFactor, k.ReplicationFactor, k.MinInsyncReplicas, k.RetentionHours)
	return s.String()
}

// kafkaProtocol is the brokers' security protocol.
func kafkaProtocol(k Kafka) string {
	if k.TLS {
		return "SSL"
	}
	return "PLAINTEXT"
}

// kafkaSuperUsers are the principals Kafka's ACLs do not bind: the brokers
// (the name on their certificate) and the topic Job, which sets the ACLs.
func kafkaSuperUsers(namespace string) []string {
	return []string{kafkaPrincipal(serverName("kafka", namespace)), kafkaPrincipal(kafkaSetupPrincipal)}
}

// kafkaPrincipal is the principal of a certificate with that subject name.
func kafkaPrincipal(name string) string { return "User:CN=" + name }

// kafkaClientProperties is the Kafka tools' client configuration
// (--command-config): with TLS, the brokers are verified against the CA and
// the tools show the topic Job's certificate.
func kafkaClientProperties(k Kafka, dir string) string {
	s := "security.protocol=" + kafkaProtocol(k) + "\n"
	if k.TLS {
		s += "ssl.truststore.type=PEM\nssl.truststore.location=" + dir + "/ca.crt\n" +
			"ssl.keystore.type=PEM\nssl.keystore.location=" + dir + "/keystore.pem\n"
	}
	return s
}

// kafkaCatchUpSeconds is how long a started broker may take to catch up
// before the kubelet restarts it: copying a partition's backlog from its
// leader takes minutes, not seconds.
const kafkaCatchUpSeconds = 1800

// kafkaCaughtUp succeeds once the broker has caught up: no partition that
// it holds a replica of is missing it from the in-sync replicas. As its
// startup probe it keeps the broker out of its Services, and a rolling
// update or a drain (the disruption budget counts ready pods) from moving
// on, while the broker copies what it missed. It asks with the image's own
// tool (kafka-topics.sh --describe --under-replicated-partitions: one line
// per such partition, "Replicas: 1,2,0	Isr: 1,2") as the broker itself
// (its certificate names a super user), at the name its certificate
// serves. A line whose replicas name the broker and whose in-sync replicas
// do not is a partition it has not caught up on. A JVM per run, so a startup probe, not a readiness probe: after
// the first success the readiness check is the port's.
func kafkaCaughtUp(headless string) string {
	return fmt.Sprintf(`id="${POD_NAME##*-}"
out=$(KAFKA_HEAP_OPTS=-Xmx64m /opt/kafka/bin/kafka-topics.sh --bootstrap-server "${POD_NAME}.%s:%d" \
  --command-config %s/broker.properties --describe --under-replicated-partitions) || exit 1
! printf '%%s\n' "$out" | sed -n 's/.*Leader: *[0-9a-z]*[[:space:]]*Replicas: *\([0-9,]*\)[[:space:]]*Isr: *\([0-9,]*\).*/R:,\1, I:,\2,/p' |
  grep "R:[0-9,]*,$id," | grep -q -v "I:[0-9,]*,$id,"`, headless, kafkaPort, kafkaConfigDir)
}

// kafkaClient gives a client of Kafka in namespace the CA certificate and
// its own key and certificate (principal User:CN=<name>), in its own
// Secret, mounted at kafkaCADir: ca.crt, and keystore.pem (the key, then
// the certificate, as Kafka's PEM key store reads them) or tls.key and
// tls.crt apart. Without TLS there is nothing to give.
func (b *builder) kafkaClient(name string, id kube.Identity, namespace string, opts []pulumi.ResourceOption) (clientAccess, error) {
	var access clientAccess
	if !b.args.Kafka.TLS {
		return access, nil
	}
	tls := b.args.TLS
	pair := tls.kafkaClient(name)
	secret, err := b.secretIn(namespace, opts, name+"-kafka-tls", id, pulumi.StringMap{
		"ca.crt":       pulumi.ToSecret(tls.CA).(pulumi.StringOutput),
		"tls.crt":      pulumi.ToSecret(pair.Certificate).(pulumi.StringOutput),
		"tls.key":      pulumi.ToSecret(pair.Key).(pulumi.StringOutput),
		"keystore.pem": pemKeyStore(pair),
	})
	if err != nil {
		return access, err
	}
	access.secret = secret
	access.volumes = corev1.VolumeArray{secretVolume("kafka-tls", secret)}
	access.mounts = corev1.VolumeMountArray{mount("kafka-tls", kafkaCADir, true)}
	return access, nil
}

// pemKeyStore is a key pair as Kafka reads a PEM key store from one file:
// the key, then its certificate.
func pemKeyStore(pair KeyPair) pulumi.StringOutput {
	keystore := pulumi.All(pair.Key, pair.Certificate).ApplyT(func(v []any) string {
		return strings.TrimSpace(v[0].(string)) + "\n" + strings.TrimSpace(v[1].(string)) + "\n"
	}).(pulumi.StringOutput)
	return pulumi.ToSecret(keystore).(pulumi.StringOutput)
}

// kafkaStart formats the node's storage once and starts it. The image's own
// launcher writes into its root filesystem, which is read-only here.
const kafkaStart = `set -eu
id="${POD_NAME##*-}"
sed -e "s/@NODE_ID@/${id}/" -e "s/@POD_NAME@/${POD_NAME}/" ` + kafkaConfigDir + `/server.properties > /tmp/server.properties
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID}" --config /tmp/server.properties
exec /opt/kafka/bin/kafka-server-start.sh /tmp/server.properties
`

// topicScript creates the logs topic, or brings an existing one to the
// partitions and settings of config (partitions only ever grow).
func topicScript(k Kafka, host string) string {
	return fmt.Sprintf(`set -eu
bin=/opt/kafka/bin
server="--bootstrap-server %[1]s:%[2]d --command-config %[7]s/client.properties"
until $bin/kafka-topics.sh $server --list >/dev/null; do sleep 5; done
$bin/kafka-topics.sh $server --create --if-not-exists --topic %[3]s \
  --partitions %[4]d --replication-factor %[5]d
$bin/kafka-configs.sh $server --alter --entity-type topics --entity-name %[3]s \
  --add-config min.insync.replicas=%[6]d,%[8]s
current=$($bin/kafka-topics.sh $server --describe --topic %[3]s | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
if [ "$current" -lt %[4]d ]; then
  $bin/kafka-topics.sh $server --alter --topic %[3]s --partitions %[4]d
elif [ "$current" -gt %[4]d ]; then
  echo "topic %[3]s keeps its $current partitions: Kafka cannot remove partitions" >&2
fi
%[9]s`, host, kafkaPort, LogsTopic, k.Partitions, k.ReplicationFactor, k.MinInsyncReplicas, kafkaConfigDir, topicLimits(k), topicACLs(k))
}

// topicACLs lets each client do its one job (with TLS, whose certificates
// name the clients; adding an ACL that exists changes nothing): Filebeat
// writes the logs topic, Logstash reads it in its consumer group. Write
// and Read imply Describe (Kafka's authorization docs).
func topicACLs(k Kafka) string {
	if !k.TLS {
		return ""
	}
	acl := "$bin/kafka-acls.sh $server --add --allow-principal "
	return fmt.Sprintf(`%[1]s%[2]s --operation Write --topic %[4]s
%[1]s%[3]s --operation Read --topic %[4]s
%[1]s%[3]s --operation Read --group %[5]s
`, acl, kafkaPrincipal(filebeatPrincipal), kafkaPrincipal(logstashPrincipal), LogsTopic, logstashGroup)
}

// topicLimits bound the logs topic in time and on disk (Kafka's topic
// configs, kafka.apache.org/documentation/#topicconfigs): retention.ms
// alone deletes only closed segments, and a segment closes at segment.bytes
// (default 1 GiB) or segment.ms (default 7 days), so a 12-hour retention
// could keep a week; segments roll at a quarter of the retention instead.
// On disk, a broker may hold a replica of every partition: each partition
// gets 70% of the claim over the partitions, of which retention.bytes keeps
// all but one segment (the active segment is never deleted), leaving the
// rest of the claim to the cluster metadata and the offsets topic. A claim
// that grows raises the limits on the next run (the topic Job reruns).
func topicLimits(k Kafka) string {
	retentionMS := int64(k.RetentionHours) * 3600 * 1000
	claim := parseOrZero(k.Storage.Size)
	perPartition := claim.Value() * 7 / 10 / int64(max(k.Partitions, 1))
	segment := max(perPartition/5, 1<<20)
	return fmt.Sprintf("retention.ms=%d,segment.ms=%d,retention.bytes=%d,segment.bytes=%d",
		retentionMS, retentionMS/4, perPartition-segment, segment)
}

// kafkaClusterID is the cluster's id: 16 bytes in URL-safe base64, derived
// from the namespace and the component's name so that it is the same on
// every run (storage formatted with one id refuses another).
func kafkaClusterID(namespace, name string) string {
	return stableID("kafka/" + namespace + "/" + name)
}

// job declares a Job that runs to completion once per change of its pod
// template: the provider replaces a Job whose template changed, and its name
// follows the template (ContentMetadata).
func (b *builder) job(name string, id kube.Identity, p pod, opts []pulumi.ResourceOption) (*batchv1.Job, error) {
	p.restartPolicy = "OnFailure"
	template := p.template()
	return batchv1.NewJob(b.ctx, b.name+"-"+name, &batchv1.JobArgs{
		Metadata: id.ContentMetadata(b.name+"-"+name, b.args.Namespace, template),
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(6),
			ActiveDeadlineSeconds: pulumi.Int(900),
			Template:              template,
		},
	}, opts...)
}
