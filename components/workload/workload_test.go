package workload

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/pulumitest"
)

const (
	deploymentType = "kubernetes:apps/v1:Deployment"
	configMapType  = "kubernetes:core/v1:ConfigMap"
	secretType     = "kubernetes:core/v1:Secret"
	pdbType        = "kubernetes:policy/v1:PodDisruptionBudget"
	hpaType        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	namespaceType  = "kubernetes:core/v1:Namespace"
	policyType     = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	ingressType    = "kubernetes:networking.k8s.io/v1:Ingress"
	serviceType    = "kubernetes:core/v1:Service"
	accountType    = "kubernetes:core/v1:ServiceAccount"
)

// baseArgs is a dev service as a stack declares it: dev's profile and what
// the config and the program add.
func baseArgs() Args {
	a := Profile("dev")
	a.Name, a.Version = "greeter", "1.2.3"
	a.Image = pulumi.String("ghcr.io/acme/greeter:1.2.3")
	a.Env = map[string]string{"GREETING": "hello"}
	return a
}

// deploy runs the component under mocks with an explicit provider.
func deploy(t *testing.T, args Args) (*pulumitest.Graph, error) {
	t.Helper()
	return pulumitest.Component(t, "test", func(ctx *pulumi.Context) (pulumi.ProviderResource, error) {
		return kube.NewProvider(ctx, "k8s", kube.Cluster{})
	}, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		_, err := NewWorkload(ctx, "greeter", args, provider)
		return err
	})
}

func mustDeploy(t *testing.T, args Args) *pulumitest.Graph {
	t.Helper()
	g, err := deploy(t, args)
	return pulumitest.Must(t, g, err)
}

func TestEveryChildIsParentedAndUsesTheProvider(t *testing.T) {
	mustDeploy(t, baseArgs()).CheckChildren(t, TypeToken, "greeter", "k8s")
}

func TestDeploymentIsSecureByDefault(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	d := g.One(t, deploymentType, "greeter")
	pod := "spec.template.spec."
	c := pod + "containers.0."
	want := map[string]any{
		pod + "securityContext.runAsNonRoot":           true,
		pod + "securityContext.runAsUser":              float64(kube.NonRootUID),
		pod + "securityContext.seccompProfile.type":    "RuntimeDefault",
		pod + "automountServiceAccountToken":           false,
		c + "securityContext.readOnlyRootFilesystem":   true,
		c + "securityContext.allowPrivilegeEscalation": false,
		c + "securityContext.capabilities.drop.0":      "ALL",
		c + "resources.requests.cpu":                   "50m",
		c + "resources.limits.memory":                  "128Mi",
		c + "startupProbe.httpGet.path":                "/healthz",
		c + "livenessProbe.httpGet.path":               "/healthz",
		c + "readinessProbe.httpGet.path":              "/readyz",
		c + "readinessProbe.httpGet.port":              float64(8080),
		c + "lifecycle.preStop.sleep.seconds":          float64(preStopSeconds),
		c + "volumeMounts.0.mountPath":                 "/tmp",
		pod + "terminationGracePeriodSeconds":          float64(preStopSeconds + 10 + 5),
		"spec.template.metadata.labels.app":            "greeter",
		"spec.template.metadata.labels.version":        "1.2.3",
		"spec.template.metadata.labels.environment":    "dev",
	}
	for path, v := range want {
		if got := d.MustInput(t, path); got != v {
			t.Errorf("%s = %v, want %v", path, got, v)
		}
	}
	// The startup probe gives a slow start a minute before liveness may kill it.
	period := d.MustInput(t, c+"startupProbe.periodSeconds").(float64)
	failures := d.MustInput(t, c+"startupProbe.failureThreshold").(float64)
	if period*failures < 60 {
		t.Errorf("startup budget %vs, want at least 60s", period*failures)
	}
	sa := g.One(t, accountType, "greeter")
	if got := sa.MustInput(t, "automountServiceAccountToken"); got != false {
		t.Errorf("service account automounts its token")
	}
}

func TestNamespaceEnforcesRestrictedAndDeniesByDefault(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	ns := g.One(t, namespaceType, "greeter")
	labels := ns.MustInput(t, "metadata.labels").(map[string]any)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if labels["pod-security.kubernetes.io/"+mode] != "restricted" {
			t.Errorf("namespace label pod-security.kubernetes.io/%s = %v", mode, labels["pod-security.kubernetes.io/"+mode])
		}
	}
	deny := g.One(t, policyType, "greeter-default-deny")
	if sel := deny.MustInput(t, "spec.podSelector").(map[string]any); len(sel) != 0 {
		t.Errorf("default deny selects %v, want every pod", sel)
	}
	if types := deny.MustInput(t, "spec.policyTypes").([]any); len(types) != 2 {
		t.Errorf("default deny policy types %v", types)
	}
	if ns.Protect {
		t.Error("dev namespace is protected")
	}
	// Everything in the namespace goes with it: destroy deletes the namespace only.
	for _, r := range g.Resources {
		if r.Custom && r.Type != namespaceType && r.Type != "pulumi:providers:kubernetes" && r.DeletedWith != ns.URN {
			t.Errorf("%s %s is not deleted with its namespace (deletedWith %q)", r.Type, r.Name, r.DeletedWith)
		}
	}
}

// Every object carries the owner annotation: an update takes back fields that
// another field manager changed, so drift can be remediated.
func TestEveryObjectForcesOwnership(t *testing.T) {
	g := mustDeploy(t, baseArgs())
	for _, r := range g.Resources {
		if !r.Custom || r.Type == "pulumi:providers:kubernetes" {
			continue
		}
		annotations, _ := r.Input("metadata.annotations")
		if m, ok := annotations.(map[string]any); !ok || m["pulumi.com/patchForce"] != "true" {
			t.Errorf("%s %s lacks pulumi.com/patchForce: %v", r.Type, r.Name, annotations)
		}
	}
}

func TestGivenNamespaceIsNotCreated(t *testing.T) {
	args := baseArgs()
	args.Namespace = "team-a"
	g := mustDeploy(t, args)
	namespaces := g.OfType(namespaceType)
	if len(namespaces) != 1 || namespaces[0].ReadID != "team-a" {
		t.Fatalf("want the given namespace read, not created: %+v", namespaces)
	}
	if got := g.One(t, deploymentType, "greeter").MustInput(t, "metadata.namespace"); got != "team-a" {
		t.Errorf("deployment namespace %v", got)
	}
}

func TestAvailabilityObjectsOnlyWhereTheyBelong(t *testing.T) {
	tests := []struct {
		name         string
		mutate       func(*Args)
		pdb, hpa     int
		maxUnavail   any // a percentage string, or an integer (a string would be read as a percentage)
		spread, prot bool
	}{
		{"dev single replica", func(a *Args) {}, 0, 0, "25%", false, false},
		{"two replicas get a budget", func(a *Args) { a.Replicas = 2 }, 1, 0, "25%", false, false},
		{"prod-like", func(a *Args) {
			*a = Profile("prod")
			a.Name, a.Version, a.Image = "greeter", "1.2.3", pulumi.String("ghcr.io/acme/greeter:1.2.3")
		}, 1, 1, 0.0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseArgs()
			tt.mutate(&args)
			g := mustDeploy(t, args)
			if n := len(g.OfType(pdbType)); n != tt.pdb {
				t.Errorf("%d PodDisruptionBudgets, want %d", n, tt.pdb)
			}
			if n := len(g.OfType(hpaType)); n != tt.hpa {
				t.Errorf("%d HorizontalPodAutoscalers, want %d", n, tt.hpa)
			}
			d := g.One(t, deploymentType, "greeter")
			if got := d.MustInput(t, "spec.strategy.rollingUpdate.maxUnavailable"); got != tt.maxUnavail {
				t.Errorf("maxUnavailable %v, want %v", got, tt.maxUnavail)
			}
			_, spread := d.Input("spec.template.spec.topologySpreadConstraints.1.topologyKey")
			if spread != tt.spread {
				t.Errorf("topology spread %v, want %v", spread, tt.spread)
			}
			if p := g.One(t, namespaceType, "greeter").Protect; p != tt.prot {
				t.Errorf("namespace protected %v, want %v", p, tt.prot)
			}
			_, declaresReplicas := d.Input("spec.replicas")
			if declaresReplicas == (tt.hpa == 1) {
				t.Errorf("deployment declares replicas: %v, with an HPA: %v; exactly one of them must own the count", declaresReplicas, tt.hpa == 1)
			}
			if tt.hpa == 1 {
				hpa := g.OfType(hpaType)[0]
				if got := hpa.MustInput(t, "spec.minReplicas"); got != float64(args.Replicas) {
					t.Errorf("hpa min %v", got)
				}
				if got := hpa.MustInput(t, "spec.metrics.0.resource.target.averageUtilization"); got != float64(70) {
					t.Errorf("hpa target %v", got)
				}
			}
		})
	}
}

func TestSecretsStaySecret(t *testing.T) {
	args := baseArgs()
	args.SecretEnv = map[string]string{"API_TOKEN": "greeterApiToken"}
	args.Secrets = map[string]pulumi.StringInput{"API_TOKEN": pulumi.String("tok")}
	g := mustDeploy(t, args)
	s := g.One(t, secretType, "greeter-secret")
	if !s.Secret("stringData.API_TOKEN") {
		t.Fatal("secret value is not a Pulumi secret in the provider's inputs")
	}
	d := g.One(t, deploymentType, "greeter")
	ref := d.MustInput(t, "spec.template.spec.containers.0.envFrom.1.secretRef.name").(string)
	if !strings.HasPrefix(ref, "greeter-secret-") {
		t.Errorf("pod does not take its env from the secret: %q", ref)
	}
	if d.Secret("spec.template.spec.containers.0.envFrom") {
		t.Error("the secret's name became secret: the pod template would be hidden in previews")
	}
}

// A secret file reaches the pod as a file of a Secret of its own, mounted
// read-only and readable by the service's group alone, never through the
// environment.
func TestSecretFiles(t *testing.T) {
	args := baseArgs()
	args.SecretFiles = map[string]string{"api-token": "greeterApiToken"}
	args.SecretFileValues = map[string]pulumi.StringInput{"api-token": pulumi.String("file-secret-canary")}
	g := mustDeploy(t, args)
	s := g.One(t, secretType, "greeter-secret-files")
	if !s.Secret("stringData.api-token") || s.MustInput(t, "stringData.api-token") != "file-secret-canary" {
		t.Error("the file's value is not a Pulumi secret in the provider's inputs")
	}
	spec, _ := g.One(t, deploymentType, "greeter").PodSpec()
	var volume map[string]any
	for _, v := range spec["volumes"].([]any) {
		if v := v.(map[string]any); v["name"] == "secrets" {
			volume = v["secret"].(map[string]any)
		}
	}
	if volume == nil || !strings.HasPrefix(volume["secretName"].(string), "greeter-secret-files-") || volume["defaultMode"] != float64(0o440) {
		t.Fatalf("secrets volume %v, want the files' Secret, mode 0440", volume)
	}
	c := pulumitest.Containers(spec)[0]
	mounted := false
	for _, m := range c["volumeMounts"].([]any) {
		m := m.(map[string]any)
		mounted = mounted || (m["name"] == "secrets" && m["mountPath"] == "/run/secrets" && m["readOnly"] == true)
	}
	if !mounted {
		t.Errorf("the secrets are not mounted read-only at /run/secrets: %v", c["volumeMounts"])
	}
	if envFrom, _ := c["envFrom"].([]any); len(envFrom) > 1 || strings.Contains(fmt.Sprint(envFrom), "secret-files") {
		t.Errorf("the files' Secret reaches the environment: %v", envFrom)
	}
	for _, tt := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"../token": "greeterApiToken"}, `secretFiles.../token: "../token": must be a file name`},
		{map[string]string{"..": "greeterApiToken"}, `secretFiles...: "..": must be a file name`},
		{map[string]string{"api-token": "Not-A-Key"}, `secretFiles.api-token: "Not-A-Key": must name a secret config key`},
		{map[string]string{"api-token": "greeterApiToken", "other": "otherKey"}, `secretFiles.other: "otherKey": has no value`},
	} {
		args.SecretFiles = tt.files
		if _, err := deploy(t, args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("secretFiles %v: want an error containing %q, got %v", tt.files, tt.want, err)
		}
	}
}

func TestSecretsMatchTheirKeys(t *testing.T) {
	tests := []struct {
		name      string
		secretEnv map[string]string
		secrets   map[string]pulumi.StringInput
		want      string
	}{
		{"a value without its key", nil, map[string]pulumi.StringInput{"API_TOKEN": pulumi.String("x")}, `secretEnv: "API_TOKEN": lacks the name`},
		{"a key without its value", map[string]string{"API_TOKEN": "greeterApiToken"}, map[string]pulumi.StringInput{}, `secretEnv.API_TOKEN: "greeterApiToken": has no value`},
		{"a key that is no config key", map[string]string{"API_TOKEN": "Not-A-Key"}, nil, `secretEnv.API_TOKEN: "Not-A-Key": must name a secret config key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseArgs()
			args.SecretEnv, args.Secrets = tt.secretEnv, tt.secrets
			if _, err := deploy(t, args); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// A change of config content must change the pod template, so that the
// Deployment rolls; the same content must give the same names on every run,
// so that a run killed before it recorded its creates makes the same objects
// again (adopted by server-side apply) instead of leaving them behind.
func TestConfigAndSecretsAreNamedByTheirContent(t *testing.T) {
	names := func(greeting, token string) (configMap, secret string) {
		args := baseArgs()
		args.Env = map[string]string{"GREETING": greeting}
		args.SecretEnv = map[string]string{"API_TOKEN": "greeterApiToken"}
		args.Secrets = map[string]pulumi.StringInput{"API_TOKEN": pulumi.ToSecret(pulumi.String(token)).(pulumi.StringOutput)}
		g := mustDeploy(t, args)
		for _, r := range []struct{ typ, name string }{{configMapType, "greeter-env"}, {secretType, "greeter-secret"}} {
			name, ok := g.One(t, r.typ, r.name).Input("metadata.name")
			if !ok || !regexp.MustCompile(`^`+r.name+`-[0-9a-f]{8}$`).MatchString(name.(string)) {
				t.Fatalf("%s %s is named %v, want %s-<8 hex digits of its content>", r.typ, r.name, name, r.name)
			}
		}
		d := g.One(t, deploymentType, "greeter")
		return d.MustInput(t, "spec.template.spec.containers.0.envFrom.0.configMapRef.name").(string),
			d.MustInput(t, "spec.template.spec.containers.0.envFrom.1.secretRef.name").(string)
	}
	cm, secret := names("hello", "t0ken")
	if again, againSecret := names("hello", "t0ken"); again != cm || againSecret != secret {
		t.Fatalf("the same content got other names: %s, %s then %s, %s", cm, secret, again, againSecret)
	}
	if other, _ := names("bonjour", "t0ken"); other == cm {
		t.Fatalf("pod template refers to %q for both configs: a change would not roll the pods", cm)
	}
	if _, other := names("hello", "another"); other == secret {
		t.Fatalf("pod template refers to %q for both secrets: a change would not roll the pods", secret)
	}
	if strings.Contains(secret, "t0ken") {
		t.Fatalf("the Secret's name %q shows its value", secret)
	}
}

func TestNetworkPolicyAllowsOnlyWhatIsNamed(t *testing.T) {
	args := baseArgs()
	args.AllowFrom = []string{"frontend"}
	args.Egress = []EgressRule{{CIDR: "10.10.0.0/16", Ports: []int{5432}}}
	args.Telemetry = &Telemetry{Endpoint: pulumi.String("http://jaeger-collector.observability:4318"), Namespace: "observability", Port: 4318}
	g := mustDeploy(t, args)
	p := g.One(t, policyType, "greeter")
	checks := map[string]any{
		"spec.ingress.0.ports.0.port": float64(8080),
		"spec.egress.0.ports.0.port":  float64(53),
		// DNS from the cluster DNS pods and from NodeLocal DNSCache's address.
		"spec.egress.0.to.0.podSelector.matchLabels.k8s-app": "kube-dns",
		"spec.egress.0.to.1.ipBlock.cidr":                    "169.254.20.10/32",
		"spec.egress.1.ports.0.port":                         float64(4318),
		"spec.egress.2.to.0.ipBlock.cidr":                    "10.10.0.0/16",
		"spec.egress.2.ports.0.port":                         float64(5432),
	}
	for path, want := range checks {
		if got := p.MustInput(t, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	from := p.MustInput(t, "spec.ingress.0.from.1.namespaceSelector.matchLabels").(map[string]any)
	if from["kubernetes.io/metadata.name"] != "frontend" {
		t.Errorf("ingress not from the named namespace: %v", from)
	}
	if n := len(p.MustInput(t, "spec.egress").([]any)); n != 3 {
		t.Errorf("%d egress rules, want DNS, tracing and the named one", n)
	}
	env := g.One(t, deploymentType, "greeter").MustInput(t, "spec.template.spec.containers.0.env").([]any)
	found := map[string]any{}
	for _, e := range env {
		m := e.(map[string]any)
		found[m["name"].(string)] = m["value"]
	}
	if found["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger-collector.observability:4318" ||
		found["OTEL_SERVICE_NAME"] != "greeter" ||
		found["OTEL_RESOURCE_ATTRIBUTES"] != "service.version=1.2.3,deployment.environment.name=dev" {
		t.Errorf("telemetry env %v", found)
	}
}

func TestIngressWhenAsked(t *testing.T) {
	args := baseArgs()
	args.Ingress = &kube.Ingress{Host: "greeter.example.com", ClassName: "nginx", ControllerNamespace: "ingress-nginx", ClusterIssuer: "letsencrypt"}
	g := mustDeploy(t, args)
	in := g.One(t, ingressType, "greeter")
	if got := in.MustInput(t, "spec.rules.0.host"); got != "greeter.example.com" {
		t.Errorf("host %v", got)
	}
	// TLS only, with cert-manager's certificate in <service>-tls.
	if in.MustInput(t, "spec.tls.0.hosts.0") != "greeter.example.com" || in.MustInput(t, "spec.tls.0.secretName") != "greeter-tls" {
		t.Errorf("tls %v", in.MustInput(t, "spec.tls"))
	}
	if a := in.MustInput(t, "metadata.annotations").(map[string]any); a["cert-manager.io/cluster-issuer"] != "letsencrypt" || a["pulumi.com/patchForce"] != "true" {
		t.Errorf("annotations %v", a)
	}
	if got := g.One(t, serviceType, "greeter").MustInput(t, "spec.type"); got != "ClusterIP" {
		t.Errorf("service type %v", got)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Args)
		want   string
	}{
		{"replicas", func(a *Args) { a.Replicas = -2 }, "replicas: -2: must be at least 1"},
		{"zero replicas is taken as given, and refused", func(a *Args) { a.Replicas = 0 }, "replicas: 0: must be at least 1"},
		{"one replica when highly available", func(a *Args) { a.HighAvailability, a.Replicas = true, 1 }, "replicas: 1: must be at least 2"},
		{"limits below requests", func(a *Args) { a.Resources.Requests.CPU, a.Resources.Limits.CPU = "1", "500m" }, `resources.limits.cpu: "500m": must be at least the request "1"`},
		{"probe path", func(a *Args) { a.Probes.Readiness = "readyz" }, `probes.readiness: "readyz": must be an absolute URL path`},
		{"one check for liveness and readiness", func(a *Args) { a.Probes.Readiness = a.Probes.Liveness }, `probes.readiness: "/healthz": must differ from probes.liveness`},
		{"no version", func(a *Args) { a.Version = "" }, `version: "": is required`},
		{"ingress host", func(a *Args) { a.Ingress = &kube.Ingress{Host: "Greeter_Host"} }, `ingress.host: "Greeter_Host": must be a DNS name`},
		{"ingress issuer", func(a *Args) { a.Ingress = &kube.Ingress{Host: "g.example.com", ClusterIssuer: "Lets Encrypt"} }, `ingress.clusterIssuer: "Lets Encrypt": must be a ClusterIssuer's name`},
		{"empty image", func(a *Args) { a.Image = nil }, `image: is required`},
		{"latest", func(a *Args) { a.Image = pulumi.String("greeter:latest") }, `image: "greeter:latest": must not use the "latest" tag`},
		{"digest ok, bad digest", func(a *Args) { a.Image = pulumi.String("greeter@sha256:abc") }, `image: "greeter@sha256:abc": must be an image reference`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseArgs()
			tt.mutate(&args)
			_, err := deploy(t, args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// A placement reaches the pods: its node selector and tolerations; a bad one
// is refused under its key.
func TestPlacementReachesThePods(t *testing.T) {
	args := baseArgs()
	args.Placement = kube.Placement{
		NodeSelector: map[string]string{"type": "real"},
		Tolerations:  []kube.Toleration{{Key: "platform.acme.io/real-node", Operator: "Exists", Effect: "NoSchedule"}},
	}
	d := mustDeploy(t, args).One(t, deploymentType, "greeter")
	pod := "spec.template.spec."
	for path, want := range map[string]any{
		pod + "nodeSelector.type":      "real",
		pod + "tolerations.0.key":      "platform.acme.io/real-node",
		pod + "tolerations.0.effect":   "NoSchedule",
		pod + "tolerations.0.operator": "Exists",
	} {
		if got := d.MustInput(t, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	args.Placement.Tolerations[0].Operator = "Sometimes"
	if err := args.Validate().Err(); err == nil || !strings.Contains(err.Error(), "placement.tolerations[0].operator") {
		t.Errorf("a bad operator: %v, want a problem under placement.tolerations[0].operator", err)
	}
}
