package observability

import (
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
)

const kibanaPort = 5601

func (b *builder) kibanaID() kube.Identity { return b.id("kibana", "ui") }

// kibana declares the log UI, pointed at Elasticsearch.
func (b *builder) kibana() error {
	k := b.args.Kibana
	id := b.kibanaID()
	config, err := b.configMap("kibana", id, map[string]string{"kibana.yml": b.kibanaConfig()}, b.in)
	if err != nil {
		return err
	}
	access, err := b.elasticClient("kibana", id, kibanaUser)
	if err != nil {
		return err
	}
	var vars corev1.EnvVarArray
	if b.secure() {
		vars = access.credentials(kibanaUsernameVar, kibanaPasswordVar)
		keys, err := b.secret("kibana-keys", id, pulumi.StringMap{
			"saved-objects": pulumi.ToSecret(b.args.Credentials.SavedObjectsKey).(pulumi.StringOutput),
			"security":      pulumi.ToSecret(b.args.Credentials.SecurityKey).(pulumi.StringOutput),
			"reporting":     pulumi.ToSecret(b.args.Credentials.ReportingKey).(pulumi.StringOutput),
		})
		if err != nil {
			return err
		}
		vars = append(vars,
			envFromSecret("SAVED_OBJECTS_KEY", keys, "saved-objects"),
			envFromSecret("SECURITY_KEY", keys, "security"),
			envFromSecret("REPORTING_KEY", keys, "reporting"))
	}
	// Kibana's status API needs credentials (status.allowAnonymous is
	// off); its login page answers without, as ECK probes it
	// (elastic/cloud-on-k8s, pkg/controller/kibana/pod.go: readinessProbe
	// GET /login).
	probe := "/login"
	c := container("kibana", k.Image, k.Size, kube.Probes{Port: kibanaPort, Startup: probe, Readiness: probe, StartupSeconds: 300})
	c.Ports = ports(map[string]int{"http": kibanaPort})
	c.Env = vars
	c.VolumeMounts = append(corev1.VolumeMountArray{
		fileMount("config", "/usr/share/kibana/config/kibana.yml", "kibana.yml"),
		mount("data", "/usr/share/kibana/data", false), mount("tmp", "/tmp", false),
	}, access.mounts...)
	volumes := append(corev1.VolumeArray{configMapVolume("config", config), emptyDir("data", "256Mi"), emptyDir("tmp", "256Mi")}, access.volumes...)
	template := pod{id: id, uid: elasticUID, containers: corev1.ContainerArray{c}, volumes: volumes, spread: b.args.HighAvailability,
		placement: b.args.Kibana.Placement}.template()
	if err := b.deployment("kibana", id, k.Replicas, template, append(b.in, pulumi.DependsOn([]pulumi.Resource{b.elasticReady}))); err != nil {
		return err
	}
	if err := b.service("kibana", id, map[string]int{"http": kibanaPort}, false); err != nil {
		return err
	}
	if err := b.disruptionBudget("kibana", id, k.Replicas); err != nil {
		return err
	}
	if err := b.ingress("kibana", id, k.UI, "http"); err != nil {
		return err
	}
	return b.policy("kibana", b.args.Namespace, id, uiAccess(k.UI, kibanaPort),
		networkingv1.NetworkPolicyEgressRuleArray{to(networkingv1.NetworkPolicyPeerArray{b.peer(b.elasticID())}, elasticPort)}, b.in)
}

// Kibana's credentials reach kibana.yml's ${…} under names that are no
// setting's: the image's entrypoint turns every variable named after a
// setting (ELASTICSEARCH_PASSWORD for elasticsearch.password) into a
// --setting=value argument of the Kibana process, readable in
// /proc/<pid>/cmdline (elastic/dockerfiles, kibana/bin/kibana-docker:
// kibana_vars, longopts). The encryption keys' names (SAVED_OBJECTS_KEY, …)
// are no setting's either.
const (
	kibanaUsernameVar = "KIBANA_ES_USERNAME"
	kibanaPasswordVar = "KIBANA_ES_PASSWORD"
)

// kibanaConfig is kibana.yml; Kibana reads ${VARIABLES} from its environment.
func (b *builder) kibanaConfig() string {
	k := b.args.Kibana
	var s strings.Builder
	fmt.Fprintf(&s, "server.host: \"0.0.0.0\"\nserver.name: kibana\nelasticsearch.hosts: [\"%s\"]\n", b.elasticURL())
	if k.UI.Ingress != nil {
		// Served over TLS at the ingress: the session cookie only over it.
		fmt.Fprintf(&s, "server.publicBaseUrl: https://%s\nxpack.security.secureCookies: true\n", k.UI.Ingress.Host)
	}
	s.WriteString("telemetry.optIn: false\ntelemetry.allowChangingOptInStatus: false\n")
	if b.secure() {
		fmt.Fprintf(&s, `elasticsearch.username: ${%s}
elasticsearch.password: ${%s}
elasticsearch.ssl.certificateAuthorities: [%s/ca.crt]
xpack.encryptedSavedObjects.encryptionKey: ${SAVED_OBJECTS_KEY}
xpack.security.encryptionKey: ${SECURITY_KEY}
xpack.reporting.encryptionKey: ${REPORTING_KEY}
`, kibanaUsernameVar, kibanaPasswordVar, certsDir)
	}
	return s.String()
}
