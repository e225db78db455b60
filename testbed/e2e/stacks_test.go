//go:build e2e

package e2e

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/stacks"
)

// TestDevAndProdAsDeclared deploys dev and prod as their stack files declare
// them, on the local cluster, through an overlay made from the real files at
// test time (overlay): any change to a stack file is tested on the next run.
// Their state is where CI keeps it: one S3 bucket (s3Backend). The two share
// namespaces, so they run one after the other.
func TestDevAndProdAsDeclared(t *testing.T) {
	s3Backend(t)
	for _, stack := range []string{"dev", "prod"} {
		if !t.Run(stack, func(t *testing.T) { testDeclaredStack(t, stack) }) {
			return
		}
	}
}

func testDeclaredStack(t *testing.T, stack string) {
	file, secrets, err := overlay(stack)
	if err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(env.projectDir, "Pulumi."+stack+".yaml")
	if err := os.WriteFile(stackFile, file, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if code, out := platformOn(t, stack, "destroy", "--unprotect"); code != 0 {
			t.Errorf("destroy --unprotect of %s exited %d:\n%s", stack, code, out)
		}
	})
	session := openStack(t, stack)
	if err := session.SetSecrets(t.Context(), secrets); err != nil {
		t.Fatal(err)
	}
	// Elasticsearch's and Kafka's certificates, the service users'
	// credentials and Jaeger's UI password, made as an operator makes them.
	if code, out := platformOn(t, stack, "certs"); code != 0 {
		t.Fatalf("certs exited %d:\n%s", code, out)
	}

	events := filepath.Join(t.TempDir(), "events.json")
	if code, out := platformOn(t, stack, "up", "--events", events); code != 0 {
		t.Fatalf("up of %s as declared exited %d:\n%s", stack, code, out)
	}
	checkPolicyFindings(t, stack, policyEvents(t, events))
	ws := workloads(t)
	for _, w := range ws {
		if !w.Observed || w.Ready != w.Desired || w.Updated != w.Desired {
			t.Errorf("%s %s not ready: %+v", w.Kind, w.Name, w)
		}
	}
	if stack == "prod" {
		checkProdShape(t, ws)
	}
	if stack != "prod" { // prod's rotation below ends with the same check
		if code, out := platformOn(t, stack, "preview", "--expect-no-changes"); code != 0 {
			t.Errorf("preview of %s right after up found changes (exit %d):\n%s", stack, code, out)
		}
	}
	if code, out := platformOn(t, stack, "drift"); code != 0 {
		t.Errorf("drift of %s right after up exited %d:\n%s", stack, code, out)
	}
	if stack == "prod" {
		checkCARotation(t)
		checkNoDeployingCredential(t, session)
	}
}

// checkCARotation takes the CA rotation's three steps on the real engine,
// each `platform certs --rotate-ca` then `up`, as an operator would: (1) a
// new CA joins every trust bundle the pods mount, the certificates stay the
// old CA's; (2) every certificate is the new CA's, the bundles still hold
// both; (3) the old CA leaves every bundle. The StatefulSets are the same
// objects throughout (rolled, never replaced), and the stack ends as
// declared.
func checkCARotation(t *testing.T) {
	t.Helper()
	uid := func() string {
		return string(kubectl(t, "-n", "observability", "get", "statefulset", "elasticsearch", "kafka", "-o", "jsonpath={.items[*].metadata.uid}"))
	}
	before := uid()
	var oldCA, newCA *x509.Certificate
	for step, want := range []struct {
		said          string
		bundle        int
		leavesFromNew bool
	}{{"step 1 of 3", 2, false}, {"step 2 of 3", 2, true}, {"step 3 of 3", 1, true}} {
		if code, out := platformOn(t, "prod", "certs", "--rotate-ca"); code != 0 || !strings.Contains(out, want.said) {
			t.Fatalf("certs --rotate-ca exited %d, want %s:\n%s", code, want.said, out)
		}
		if code, out := platformOn(t, "prod", "up"); code != 0 {
			t.Fatalf("up after the rotation's %s exited %d:\n%s", want.said, code, out)
		}
		bundles, leaves := stackTLSMaterial(t)
		if len(bundles) < 3 || len(leaves) < 4 {
			t.Fatalf("%d Secrets hold a ca.crt and %d a certificate, want Elasticsearch's, Kafka's and their clients'", len(bundles), len(leaves))
		}
		if step == 0 {
			for _, certs := range bundles {
				if len(certs) == 2 {
					oldCA, newCA = certs[0], certs[1]
				}
			}
			if newCA == nil {
				t.Fatalf("after %s no bundle holds two CAs", want.said)
			}
		}
		for name, certs := range bundles {
			if len(certs) != want.bundle || !certs[len(certs)-1].Equal(newCA) || (want.bundle == 2 && !certs[0].Equal(oldCA)) {
				t.Errorf("after %s, %s trusts %d CAs, want %d: the old and the new, then the new alone", want.said, name, len(certs), want.bundle)
			}
		}
		for name, leaf := range leaves {
			signer := oldCA
			if want.leavesFromNew {
				signer = newCA
			}
			if err := leaf.CheckSignatureFrom(signer); err != nil {
				t.Errorf("after %s, %s's certificate is not the expected CA's: %v", want.said, name, err)
			}
		}
	}
	if after := uid(); after != before {
		t.Errorf("the StatefulSets were replaced (%s, were %s)", after, before)
	}
	if code, out := platformOn(t, "prod", "preview", "--expect-no-changes"); code != 0 {
		t.Errorf("preview after the rotation found changes (exit %d):\n%s", code, out)
	}
}

// stackTLSMaterial reads the observability Secrets: each trust bundle
// (ca.crt) and each certificate shown to a peer (tls.crt, or the one in
// keystore.pem), by namespace/Secret/key.
func stackTLSMaterial(t *testing.T) (bundles map[string][]*x509.Certificate, leaves map[string]*x509.Certificate) {
	t.Helper()
	out := kubectl(t, "get", "secrets", "-A", "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct{ Namespace, Name string }
			Data     map[string][]byte
		}
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	bundles, leaves = map[string][]*x509.Certificate{}, map[string]*x509.Certificate{}
	for _, s := range list.Items {
		if !strings.HasPrefix(s.Metadata.Namespace, "observability") { // the stack's, not the cluster's own
			continue
		}
		for key, data := range s.Data {
			name := s.Metadata.Namespace + "/" + s.Metadata.Name + "/" + key
			var certs []*x509.Certificate
			for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
				if block.Type == "CERTIFICATE" {
					cert, err := x509.ParseCertificate(block.Bytes)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					certs = append(certs, cert)
				}
			}
			switch {
			case key == "ca.crt":
				bundles[name] = certs
			case (key == "tls.crt" || key == "keystore.pem") && len(certs) == 1:
				leaves[name] = certs[0]
			}
		}
	}
	return bundles, leaves
}

// checkNoDeployingCredential: what changes prod never reaches a prod preview.
// The GitHub token or a deploying kubeconfig put into prod's config (as a
// careless operator might) makes the preview fail naming the key, before the
// program registers anything, and prints no value.
func checkNoDeployingCredential(t *testing.T, session *driver.Session) {
	t.Helper()
	const token = "e2e-admin-token-value"
	if err := session.SetSecrets(t.Context(), map[string]string{"platform:githubToken": token}); err != nil {
		t.Fatal(err)
	}
	code, out := platformOn(t, "prod", "preview")
	if code != 1 || !strings.Contains(out, "platform:githubToken: [secret]: unknown key") {
		t.Errorf("a prod preview with the GitHub token in prod's config exited %d, want 1 naming the key:\n%s", code, out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the prod preview printed the token:\n%s", out)
	}
}

// checkProdShape checks what makes prod prod, as the API server reports it.
func checkProdShape(t *testing.T, ws []workload) {
	t.Helper()
	desired := map[string]int{}
	for _, w := range ws {
		desired[w.Kind+" "+w.Name] = w.Desired
	}
	for name, want := range map[string]int{
		"Deployment greeter/greeter":                 3,
		"StatefulSet observability/kafka":            3,
		"StatefulSet observability/elasticsearch":    3,
		"DaemonSet observability-agents/node-tuning": 3,
	} {
		if desired[name] != want {
			t.Errorf("%s: %d replicas, want %d (all: %v)", name, desired[name], want, desired)
		}
	}
	zones := map[string]bool{}
	for _, node := range strings.Fields(string(kubectl(t, "-n", "greeter", "get", "pods", "-l", "app=greeter", "-o", "jsonpath={.items[*].spec.nodeName}"))) {
		zones[string(kubectl(t, "get", "node", node, "-o", `jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}`))] = true
	}
	if len(zones) != 3 {
		t.Errorf("greeter pods in zones %v, want 3 zones", zones)
	}
	if pdbs := strings.Fields(string(kubectl(t, "get", "pdb", "-A", "-o", "jsonpath={.items[*].metadata.name}"))); !slices.Contains(pdbs, "greeter") {
		t.Errorf("no PodDisruptionBudget for greeter: %v", pdbs)
	}
	if min := string(kubectl(t, "-n", "greeter", "get", "hpa", "-o", "jsonpath={.items[0].spec.minReplicas}")); min != "3" {
		t.Errorf("HPA minimum %q, want 3", min)
	}
	// Security with the certificates `platform certs` made: in the config
	// Elasticsearch reads, and the secret that holds them mounted.
	configs := string(kubectl(t, "-n", "observability", "get", "configmaps", "-l", "app=elasticsearch", "-o", "jsonpath={.items[*].data}"))
	for _, setting := range []string{"xpack.security.enabled: true", "xpack.security.http.ssl.enabled: true", "xpack.security.transport.ssl.enabled: true"} {
		if !strings.Contains(configs, setting) {
			t.Errorf("Elasticsearch's config lacks %q", setting)
		}
	}
}

// overlay makes the stack file of dev or prod runnable on the local cluster.
// It swaps only what cannot exist here and keeps everything else as
// declared: images by the local digest instead
// of a build (no Docker engine or registry), storage classes the cluster's
// default (no gp3 here), the cluster (the local kubeconfig instead of a
// context), the secrets provider (a passphrase instead of a cloud KMS). It
// returns the file and stand-ins for the secrets the stack reads.
func overlay(stack string) ([]byte, map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(projectRoot, "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, nil, err
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, nil, err
	}
	delete(file, "secretsprovider")
	delete(file, "encryptionsalt")
	config, ok := file["config"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("Pulumi.%s.yaml has no config", stack)
	}
	config[stacks.Namespace+":kubernetes"] = map[string]any{"kubeconfig": ".cluster/kubeconfig"}
	secrets := map[string]string{}
	services, _ := config[stacks.Namespace+":services"].([]any)
	for _, s := range services {
		service := s.(map[string]any)
		// The image is the one this machine made, pinned by digest, in place
		// of dev's build and prod's promotion of dev's image (dev and prod
		// share namespaces here, so dev is gone when prod runs; promotion on
		// the real engine: TestPromotionRunsTheReleasedCommitsBuild).
		delete(service, "build")
		delete(service, "imageFrom")
		service["image"] = localImage()
		for _, field := range []string{"secretEnv", "secretFiles"} {
			refs, _ := service[field].(map[string]any)
			for _, key := range refs {
				secrets[stacks.Namespace+":"+key.(string)] = "e2e-" + key.(string)
			}
		}
	}
	dropStorageClasses(config[stacks.Namespace+":observability"])
	// The DaemonSets that tolerate every taint would land on the real node,
	// which cannot have their images: Filebeat (as the local stack holds it)
	// and prod's node tuning, which goes where Elasticsearch goes, are held
	// to kwok's nodes.
	if obs, ok := config[stacks.Namespace+":observability"].(map[string]any); ok {
		for _, part := range []string{"filebeat", "elasticsearch"} {
			settings, _ := obs[part].(map[string]any)
			if settings == nil {
				settings = map[string]any{}
			}
			settings["placement"] = map[string]any{"nodeSelector": map[string]any{"type": "kwok"}}
			obs[part] = settings
		}
	}
	// Both stacks run Elasticsearch with security (dev publishes Kibana).
	secrets[stacks.Namespace+":"+stacks.ElasticPasswordKey] = "e2e-elastic-password"
	out, err := yaml.Marshal(file)
	return out, secrets, err
}

// dropStorageClasses removes every storage class below v.
func dropStorageClasses(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if storage, ok := child.(map[string]any); ok && strings.HasSuffix(strings.ToLower(k), "storage") {
				delete(storage, "class")
			}
			dropStorageClasses(child)
		}
	case []any:
		for _, child := range v {
			dropStorageClasses(child)
		}
	}
}

// platformOn runs the platform command on another stack of the test project.
func platformOn(t *testing.T, stack string, args ...string) (int, string) {
	t.Helper()
	return platform(t, append(args, "--stack", stack)...)
}

// A service whose namespace names one that does not exist fails at once,
// saying what to do, instead of retrying every object for a minute.
func TestMissingNamespaceFailsEarly(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(projectRoot, "Pulumi.local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const stack = "missing-namespace"
	// The local stack file, secrets and salt included, with the greeter
	// placed in a namespace nobody made.
	file := strings.Replace(string(data), "  platform:services:\n    - name: greeter\n", "  platform:services:\n    - name: greeter\n      namespace: team-nobody-made\n", 1)
	if file == string(data) {
		t.Fatal("Pulumi.local.yaml no longer declares the greeter as this test expects")
	}
	if err := os.WriteFile(filepath.Join(env.projectDir, "Pulumi."+stack+".yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	openStack(t, stack) // a preview never creates a stack
	start := time.Now()
	code, out := platformOn(t, stack, "preview")
	took := time.Since(start)
	if code != 1 {
		t.Fatalf("preview with a missing namespace exited %d, want 1:\n%s", code, out)
	}
	if want := "service greeter names a namespace that does not exist"; !strings.Contains(out, want) {
		t.Errorf("the failure does not say %q:\n%s", want, out)
	}
	t.Logf("failed after %s", took.Round(time.Millisecond))
}
