// Package stackstest hands tests the project's stack files as the engine
// hands them to the program: structured values as JSON, secure values
// decrypted and flagged, and stand-ins for the secrets that dev's and prod's
// KMS holds. The stacks' tests check that the stand-ins are what the stacks
// need (a stack missing one does not load).
package stackstest

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"gopkg.in/yaml.v3"

	"github.com/acme/platform/components/observability"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/configdecode"
	"github.com/acme/platform/internal/pki"
	"github.com/acme/platform/internal/pulumitest"
)

// LocalPassphrase is the documented passphrase of the local stack's secrets
// (Pulumi.local.yaml): throwaway values for a cluster on 127.0.0.1.
const LocalPassphrase = "local-cluster-only"

// ElasticPassword stands in for prod's elastic password.
const ElasticPassword = "test-elastic-password"

// Secrets stand in, by stack, for the secrets that dev's, prod's and the
// governance stack's KMS keys protect: dev's and prod's for Jaeger's UI and
// their Elasticsearch security (observabilitySecrets), the governance
// stack's for GitHub (the token, and the clusters' credentials its
// environments hand to the workflows).
var Secrets = map[string]map[string]string{
	"dev": func() map[string]string {
		s := map[string]string{"greeterApiToken": "test-token-value", "registryToken": "test-registry-token"}
		maps.Copy(s, UIAuth)
		maps.Copy(s, observabilitySecrets())
		return s
	}(),
	"prod": func() map[string]string {
		s := map[string]string{"greeterApiToken": "test-token-value"}
		maps.Copy(s, UIAuth)
		maps.Copy(s, observabilitySecrets())
		return s
	}(),
	"governance": {
		"githubToken": "test-github-token", "registryToken": "test-registry-token",
		"devKubeconfig": "test-dev-kubeconfig", "prodKubeconfig": "test-prod-kubeconfig",
		"devReadOnlyKubeconfig": "test-dev-read-kubeconfig", "prodReadOnlyKubeconfig": "test-prod-read-kubeconfig",
	},
}

// UIAuth stands in for Jaeger's UI credentials as `platform certs` makes
// them: the hash is bcrypt's of the password (cost 4, for speed).
var UIAuth = map[string]string{
	"jaegerUiPassword":     "test-jaeger-ui-password",
	"jaegerUiPasswordHash": "$2a$04$E2ekBOvdSf8aLNwfboviW.78FmiuSGU/FZtKceNTZ8y8rWUelPMA.",
	"jaegerUiCookieSecret": "test-jaeger-ui-cookie-secret-012",
}

// observabilitySecrets stand in for an Elasticsearch with security and
// Kafka with TLS: the password, and certificates and credentials as
// `platform certs` makes them.
func observabilitySecrets() map[string]string {
	certs, err := observability.NewCertificates(observability.Scope{Namespace: "observability"}, 365, time.Now())
	if err != nil {
		panic(err)
	}
	secrets := map[string]string{
		"elasticPassword": ElasticPassword,
		// The credentials platform certs makes, one random secret each.
		"kibanaSystemPassword": "test-kibana-system-password", "logstashWriterPassword": "test-logstash-writer-password",
		"jaegerWriterPassword": "test-jaeger-writer-password", "kibanaSavedObjectsKey": "test-kibana-saved-objects-key-0123456789",
		"kibanaSecurityKey": "test-kibana-security-key-0123456789abcdef", "kibanaReportingKey": "test-kibana-reporting-key-0123456789abcdef",
	}
	// The certificates as platform certs stores them (stacks.CertificateConfig,
	// which this package cannot import: the stacks' tests import it).
	for k, pair := range map[string]pki.KeyPair{
		"elasticsearch": certs.Elasticsearch, "kafka": certs.Kafka, "kafkaFilebeat": certs.KafkaClients.Filebeat,
		"kafkaLogstash": certs.KafkaClients.Logstash, "kafkaSetup": certs.KafkaClients.Setup,
	} {
		secrets[k+"Certificate"], secrets[k+"Key"] = pair.Certificate, pair.Key
	}
	secrets["observabilityCa"], secrets["observabilityCaKey"] = certs.CA, certs.CAKey
	return secrets
}

// Values is projectRoot's Pulumi.<stack>.yaml plus the stand-ins for the
// secrets its KMS key protects.
func Values(t testing.TB, projectRoot, stack string) map[string]configdecode.Value {
	t.Helper()
	values := File(t, projectRoot, stack)
	for k, v := range Secrets[stack] {
		values["platform:"+k] = configdecode.Value{Raw: v, Secret: true}
	}
	return values
}

// File reads projectRoot's Pulumi.<stack>.yaml as the engine would hand it
// to the program; secure values are decrypted with LocalPassphrase.
func File(t testing.TB, projectRoot, stack string) map[string]configdecode.Value {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(projectRoot, "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		EncryptionSalt string         `yaml:"encryptionsalt"`
		Config         map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var crypter config.Crypter
	if file.EncryptionSalt != "" {
		// "v1:<base64 salt>:<check>", as the passphrase secrets provider writes it.
		parts := strings.Split(file.EncryptionSalt, ":")
		if len(parts) < 2 {
			t.Fatalf("%s: malformed encryptionsalt", stack)
		}
		salt, err := base64.StdEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		crypter = config.NewSymmetricCrypterFromPassphrase(LocalPassphrase, salt)
	}
	values := map[string]configdecode.Value{}
	for key, v := range file.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			if crypter == nil {
				t.Fatalf("%s: %s is encrypted but the stack has no passphrase salt", stack, key)
			}
			plain, err := crypter.DecryptValue(t.Context(), m["secure"].(string))
			if err != nil {
				t.Fatalf("%s: decrypting %s: %v", stack, key, err)
			}
			values[key] = configdecode.Value{Raw: plain, Secret: true}
			continue
		}
		if s, ok := v.(string); ok {
			values[key] = configdecode.Value{Raw: s}
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		values[key] = configdecode.Value{Raw: string(raw)}
	}
	return values
}

// Stacks are the project's stacks.
var Stacks = []string{"dev", "prod", "local", "governance"}

// EachPodSpec runs every stack's program under mocks and calls check with
// the pod spec of every workload and Job it declares.
func EachPodSpec(t *testing.T, projectRoot string, program func(map[string]configdecode.Value) pulumi.RunFunc,
	check func(stack string, r pulumitest.Resource, spec map[string]any)) {
	t.Helper()
	for _, stack := range Stacks {
		g, err := pulumitest.Run(t, "platform", stack, program(Values(t, projectRoot, stack)), pulumitest.InProject(projectRoot))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range g.Resources {
			if spec, ok := r.PodSpec(); ok {
				check(stack, r, spec)
			}
		}
	}
}

// Commit is the commit the tests' programs deploy (their GITHUB_SHA), so
// that they do not depend on the checkout's HEAD.
const Commit = "89abcdef0123456789abcdef0123456789abcdef"

// Deployed makes the tests' programs run as a checkout of Commit whose stack
// references find what deployed stacks' states would hold: dev's record of
// the greeter's build of Commit, and the image prod runs (read outside a
// release). Call it from TestMain, with the release variable unset.
func Deployed() {
	os.Setenv("GITHUB_SHA", Commit)
	image := "ghcr.io/acme/greeter@" + pulumitest.FakeDigest
	pulumitest.StackOutputs("organization/platform/prod", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": image}},
	})
	pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": image, "builds": []any{map[string]any{
			"commit": Commit, "tag": "0.1.0-" + Commit[:12], "image": image,
		}}}},
	})
}
