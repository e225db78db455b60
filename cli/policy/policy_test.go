package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/crypto/bcrypt"

	"github.com/acme/platform/cli/driver"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
)

// projectRoot holds the project's stack files.
const projectRoot = "../.."

// workspace is a stack's config as the command's workspace reads it.
func workspace(t *testing.T, stack string) auto.ConfigMap {
	config := auto.ConfigMap{}
	for k, v := range stackstest.Values(t, projectRoot, stack) {
		config[k] = auto.ConfigValue{Value: v.Raw, Secret: v.Secret}
	}
	return config
}

// A repository has one governing stack: a stack that declares a repository
// another stack file of the project declares is refused, naming both; the
// project's own stack files govern each repository once.
func TestRepositoryHasOneGoverningStack(t *testing.T) {
	config := workspace(t, "dev")
	config["platform:github"] = auto.ConfigValue{Value: `{"owner":"ACME","plan":"pro","rules":{"releasers":[{"id":1,"type":"Team"}]},"repositories":[{"name":"billing"},{"name":"Greeter"}]}`}
	err := CheckOwnership(config, projectRoot, "dev")
	want := `platform:github.repositories[1].name: "Greeter": is governed by stack governance already (Pulumi.governance.yaml)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("dev declaring prod's repository: %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "billing") {
		t.Errorf("a repository no other stack declares is refused: %v", err)
	}
	if err := CheckOwnership(config, projectRoot, "governance"); err != nil {
		t.Errorf("the governance stack's own file is taken for another stack's: %v", err)
	}
	owners := map[string]string{}
	for _, stack := range stackstest.Stacks {
		if err := CheckOwnership(workspace(t, stack), projectRoot, stack); err != nil {
			t.Errorf("the project's own stack %s: %v", stack, err)
		}
		governed, err := governedElsewhere(projectRoot, stack)
		if err != nil {
			t.Fatal(err)
		}
		for repo, other := range governed {
			if owners[repo] != "" && owners[repo] != other {
				t.Errorf("%s is governed by stacks %s and %s", repo, owners[repo], other)
			}
			owners[repo] = other
		}
	}
	if owners["acme/greeter"] != "governance" || owners["acme/platform"] != "governance" {
		t.Errorf("governing stacks %v, want governance for acme/greeter and acme/platform", owners)
	}
}

func TestCertificatesServeTheConfiguredNamespace(t *testing.T) {
	config := workspace(t, "prod")
	delete(config, "platform:elasticsearchKey") // prod would not load: certs reads only what it needs
	config["platform:observability"] = auto.ConfigValue{Value: `{"namespace":"logging"}`}
	config["platform:kubernetes"] = auto.ConfigValue{Value: `{"context":"platform-prod","dns":{"domain":"corp.internal"}}`}
	made, err := NewCertificateConfig(config, false, 365, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certs := stacks.CertificatesOf(Values(asConfig(made)))
	scope := observability.Scope{Namespace: "logging", DNS: kube.DNS{Domain: "corp.internal"}}
	if err := certs.Check(scope, time.Now()); err != nil {
		t.Errorf("certificates made for namespace logging in domain corp.internal: %v", err)
	}
	if err := certs.Check(observability.Scope{Namespace: "logging"}, time.Now()); err == nil {
		t.Error("certificates made for corp.internal serve cluster.local: the domain was not read")
	}
	delete(config, "platform:observability")
	if _, err := NewCertificateConfig(config, false, 365, time.Now()); err == nil {
		t.Error("a stack without observability has no certificates to make")
	}
}

func asConfig(values map[string]string) auto.ConfigMap {
	config := auto.ConfigMap{}
	for k, v := range values {
		config[k] = auto.ConfigValue{Value: v, Secret: true}
	}
	return config
}

func TestNewCertificateConfig(t *testing.T) {
	now := time.Now()
	config := workspace(t, "prod")
	if _, err := NewCertificateConfig(config, false, 730, now); !errors.Is(err, ErrCertificatesValid) {
		t.Errorf("valid certificates replaced without --renew: %v", err)
	}
	// A stack made before Kafka's clients had certificates gets them, from
	// its CA, without --renew.
	older := maps.Clone(config)
	for _, k := range []string{"kafkaFilebeatCertificate", "kafkaFilebeatKey", "kafkaLogstashCertificate", "kafkaLogstashKey", "kafkaSetupCertificate", "kafkaSetupKey"} {
		delete(older, "platform:"+k)
	}
	made, err := NewCertificateConfig(older, false, 365, now)
	if err != nil || made["platform:kafkaSetupKey"] == "" || made["platform:observabilityCa"] != stackstest.Secrets["prod"]["observabilityCa"] {
		t.Errorf("a stack without Kafka's client certificates: made %v, %v; want them, from the same CA", slices.Sorted(maps.Keys(made)), err)
	}
	renewed, err := NewCertificateConfig(config, true, 365, now)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range asConfig(renewed) {
		config[k] = v
	}
	if _, err := stacks.Load(Values(config), stacks.Environ{ProjectRoot: projectRoot}); err != nil {
		t.Errorf("the stack does not load with the certificates made for it: %v", err)
	}
	if renewed["platform:elasticsearchCertificate"] == stackstest.Secrets["prod"]["elasticsearchCertificate"] {
		t.Error("--renew kept the old certificate")
	}
	if _, ok := renewed["platform:kibanaSystemPassword"]; ok {
		t.Error("--renew replaced a credential: credentials are no certificates")
	}
	if renewed["platform:observabilityCa"] != stackstest.Secrets["prod"]["observabilityCa"] {
		t.Error("--renew made a new CA: the members would split while they roll")
	}
	// A stack made before the CA's key was kept rotates its CA instead.
	keyless := maps.Clone(config)
	delete(keyless, "platform:observabilityCaKey")
	if _, err := NewCertificateConfig(keyless, true, 730, now); err == nil || !strings.Contains(err.Error(), "--rotate-ca") {
		t.Errorf("--renew without the CA's key: %v, want the rotation named", err)
	}
	for _, step := range []struct {
		said    string
		changes int
	}{{"step 1 of 3", 2}, {"step 2 of 3", 10}, {"step 3 of 3", 1}} {
		made, said, err := RotateCAConfig(keyless, 730, now)
		if err != nil || !strings.HasPrefix(said, step.said) {
			t.Fatalf("rotation %s: %q, %v", step.said, said, err)
		}
		// The bundle and the new key; the certificates; the bundle.
		if len(made) != step.changes {
			t.Errorf("rotation %s stores %d keys, want the %d it changes: %v", step.said, len(made), step.changes, slices.Sorted(maps.Keys(made)))
		}
		for k, v := range asConfig(made) {
			keyless[k] = v
		}
		if _, err := stacks.Load(Values(keyless), stacks.Environ{ProjectRoot: projectRoot}); err != nil {
			t.Errorf("the stack does not load after %s: %v", step.said, err)
		}
	}
	// A credential removed (to rotate it) is made again, alone; the others
	// and the valid certificates stay.
	rotate := maps.Clone(config)
	delete(rotate, "platform:jaegerWriterPassword")
	made, err = NewCertificateConfig(rotate, false, 730, now)
	if err != nil || len(made) != 1 || len(made["platform:jaegerWriterPassword"]) != 43 {
		t.Errorf("rotating jaegerWriterPassword made %v, %v; want that one credential alone", slices.Collect(maps.Keys(made)), err)
	}
	for k := range renewed {
		delete(config, k)
	}
	made, err = NewCertificateConfig(config, false, 730, now)
	if err != nil || len(made) != len(renewed) {
		t.Errorf("a stack without certificates got %d keys, %v", len(made), err)
	}
	local := workspace(t, "local")
	if _, err := NewCertificateConfig(local, false, 730, now); err == nil || !strings.Contains(err.Error(), "security and Kafka TLS are off") {
		t.Errorf("local has security off, needs no certificates and has its UI credentials: %v", err)
	}
	// Jaeger's UI credentials: a removed hash makes a new password with its
	// hash; a removed cookie key makes that key alone.
	delete(local, "platform:jaegerUiPasswordHash")
	made, err = NewCertificateConfig(local, false, 730, now)
	password, hash := made["platform:jaegerUiPassword"], made["platform:jaegerUiPasswordHash"]
	if err != nil || len(made) != 2 || bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || !observability.IsPasswordHash(hash) {
		t.Errorf("rotating the UI password made %v, %v; want a password and its bcrypt hash", slices.Collect(maps.Keys(made)), err)
	}
	local = workspace(t, "local")
	delete(local, "platform:jaegerUiCookieSecret")
	if made, err = NewCertificateConfig(local, false, 730, now); err != nil || len(made) != 1 || !observability.IsCookieSecret(made["platform:jaegerUiCookieSecret"]) {
		t.Errorf("a missing cookie key made %v, %v; want that key alone", slices.Collect(maps.Keys(made)), err)
	}
	// platform certs --days -5 and --days 200000 (an overflow to 1989 once).
	for _, days := range []int{-5, 200000} {
		if _, err := NewCertificateConfig(config, true, days, now); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("valid for %d days: must be from 1 to 3650 days", days)) {
			t.Errorf("--days %d: %v, want it refused naming the range", days, err)
		}
	}
}

// The drift policy is the stack's: dev may remediate, prod may not, and a
// certificate due for renewal is a finding.
func TestDriftOf(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		stack     string
		remediate bool
		at        time.Time
		findings  int
	}{
		{"dev", true, now, 0},
		{"prod", false, now, 0},
		{"prod", false, now.Add(350 * 24 * time.Hour), 1},
	} {
		got, err := DriftOf(workspace(t, tt.stack), projectRoot, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got.Remediate != tt.remediate || len(got.Findings) != tt.findings {
			t.Errorf("%s at %s: %+v, want remediate %v and %d findings", tt.stack, tt.at.Format(time.DateOnly), got, tt.remediate, tt.findings)
		}
	}
}

func TestHints(t *testing.T) {
	for _, tt := range []struct{ engine, want string }{
		{"the stack is currently locked by 1 lock(s)", "`platform cancel --stack dev` removes the lock"},
		{"kubernetes:core/v1:Namespace (billing-" + workload.NamespaceReadSuffix + ") not found", "service billing names a namespace that does not exist"},
		{"some other failure", ""},
	} {
		got := strings.Join(Hints(tt.engine, "dev"), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("Hints(%q) = %q, want %q", tt.engine, got, tt.want)
		}
	}
}

// The engine writes the state once per operation only for stacks whose every
// resource a repeated run adopts (Kubernetes objects named by the program):
// not for one that builds and pushes images (dev) or governs repositories.
func TestCheckpoints(t *testing.T) {
	want := map[string]driver.Checkpoints{"local": driver.AtEnd, "prod": driver.AtEnd, "dev": driver.EveryStep, "governance": driver.EveryStep}
	for stack, checkpoints := range want {
		if got := Checkpoints(workspace(t, stack), projectRoot); got != checkpoints {
			t.Errorf("%s: checkpoints %v, want %v", stack, got, checkpoints)
		}
	}
	broken := workspace(t, "local")
	broken["platform:environment"] = auto.ConfigValue{Value: "staging"}
	if got := Checkpoints(broken, projectRoot); got != driver.EveryStep {
		t.Errorf("config that does not load: checkpoints %v, want every step", got)
	}
}
