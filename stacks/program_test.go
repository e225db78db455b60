package stacks

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks/stackstest"
)

// stackValues is the stack file as the engine hands it to the program, with
// stand-ins for the secrets dev's and prod's KMS holds.
func stackValues(t *testing.T, stack string) map[string]Value {
	return stackstest.Values(t, "..", stack)
}

func TestStackFilesAreValid(t *testing.T) {
	for _, stack := range stackstest.Stacks {
		t.Run(stack, func(t *testing.T) {
			cfg, err := Load(stackValues(t, stack), testEnviron)
			if err != nil {
				t.Fatal(err)
			}
			want := Environment(stack)
			if stack == "governance" {
				want = Prod // its repositories take prod's profile
			}
			if cfg.Environment != want {
				t.Errorf("Pulumi.%s.yaml declares environment %q", stack, cfg.Environment)
			}
		})
	}
}

func TestProgramPerStack(t *testing.T) {
	tests := []struct {
		stack          string
		replicas       float64
		pdb, hpa       int
		protected      bool
		requestsMemory string
		images         int // image builds: dev and prod build, local runs a prebuilt one
	}{
		{"dev", 1, 0, 0, false, "64Mi", 1},   // dev builds, once
		{"local", 1, 0, 0, false, "32Mi", 0}, // local runs the image it imported
		{"prod", 3, 1, 1, true, "256Mi", 0},  // prod promotes dev's
	}
	t.Setenv("GITHUB_SHA", "89abcdef0123456789abcdef0123456789abcdef") // CI's commit
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			g, err := pulumitest.Run(t, "platform", tt.stack, Program(stackValues(t, tt.stack)), pulumitest.InProject(".."))
			if err != nil {
				t.Fatal(err)
			}
			providers := g.OfType("pulumi:providers:kubernetes")
			if len(providers) != 1 {
				t.Fatalf("%d Kubernetes providers, want one explicit provider", len(providers))
			}
			g.One(t, workload.TypeToken, "greeter")
			d := g.One(t, "kubernetes:apps/v1:Deployment", "greeter")
			replicas, _ := d.Input("spec.replicas")
			if tt.hpa == 1 {
				replicas, _ = g.OfType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[0].Input("spec.minReplicas")
			}
			if replicas != tt.replicas {
				t.Errorf("replicas %v, want %v", replicas, tt.replicas)
			}
			if got, _ := d.Input("spec.template.spec.containers.0.resources.requests.memory"); got != tt.requestsMemory {
				t.Errorf("memory request %v, want %v", got, tt.requestsMemory)
			}
			pdbs := len(named(g.OfType("kubernetes:policy/v1:PodDisruptionBudget"), "greeter"))
			if hpas := len(g.OfType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")); pdbs != tt.pdb || hpas != tt.hpa {
				t.Errorf("greeter PDBs %d, HPAs %d; want %d, %d", pdbs, hpas, tt.pdb, tt.hpa)
			}
			if ns := g.One(t, "kubernetes:core/v1:Namespace", "greeter"); ns.Protect != tt.protected {
				t.Errorf("namespace protected %v, want %v", ns.Protect, tt.protected)
			}
			builds := g.OfType("docker:index/image:Image")
			if len(builds) != tt.images {
				t.Errorf("%d image builds, want %d", len(builds), tt.images)
			}
			image, _ := d.Input("spec.template.spec.containers.0.image")
			if !strings.Contains(image.(string), "@sha256:") {
				t.Errorf("pod image %v is not pinned by digest", image)
			}
			if dockerProviders := len(g.OfType("pulumi:providers:docker")); dockerProviders != min(tt.images, 1) {
				t.Errorf("%d Docker providers", dockerProviders)
			}
			for _, b := range builds {
				if !b.Secret("registry.password") {
					t.Errorf("%s: the registry token is not a secret", b.Name)
				}
			}
			if n := len(g.OfType("pulumi:providers:github")); n != 0 {
				t.Errorf("%d GitHub providers: the repositories are the governance stack's", n)
			}
			secret := g.One(t, "kubernetes:core/v1:Secret", "greeter-secret-files")
			if !secret.Secret("stringData.api-token") {
				t.Error("the API token is not a Pulumi secret when it reaches the provider")
			}
			for _, r := range g.Resources {
				if r.Type == "kubernetes:core/v1:Secret" {
					continue
				}
				if r.Type == "docker:index/image:Image" || r.Type == "github:index/actionsSecret:ActionsSecret" {
					continue // hold the registry token, as a secret (checked above and in components/repository)
				}
				if plain := fmt.Sprint(r.Inputs.Mappable()); strings.Contains(plain, "test-token-value") || strings.Contains(plain, stackstest.ElasticPassword) {
					t.Errorf("%s %s carries the secret value in its inputs", r.Type, r.Name)
				}
			}
		})
	}
}

func TestBadConfigRegistersNothing(t *testing.T) {
	values := stackValues(t, "dev")
	values["platform:services"] = Value{Raw: `[{"name":"greeter","image":"x:latest","version":"1","replicas":0}]`}
	g, err := pulumitest.Run(t, "platform", "dev", Program(values), pulumitest.InProject(".."))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	if len(g.Resources) != 0 {
		t.Fatalf("registered %d resources before failing:\n%s", len(g.Resources), g)
	}
}

func TestSeveralServices(t *testing.T) {
	values := stackValues(t, "dev")
	values["platform:services"] = Value{Raw: `[
		{"name":"greeter","image":"ghcr.io/acme/greeter@` + digest + `","version":"1.0.0"},
		{"name":"billing","image":"ghcr.io/acme/billing@` + digest + `","version":"2.1.0","replicas":2,
		 "allowFrom":["greeter"],"env":{"CURRENCY":"EUR"}}]`}
	delete(values, "platform:greeterApiToken") // no service refers to them now
	delete(values, "platform:registryToken")
	g, err := pulumitest.Run(t, "platform", "dev", Program(values), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"greeter", "billing"} {
		g.One(t, workload.TypeToken, name)
		if ns, _ := g.One(t, "kubernetes:core/v1:Namespace", name).Input("metadata.name"); ns != name {
			t.Errorf("service %s in namespace %v", name, ns)
		}
	}
	if n := len(named(g.OfType("kubernetes:policy/v1:PodDisruptionBudget"), "greeter", "billing")); n != 1 {
		t.Errorf("%d PodDisruptionBudgets, want one for the service with 2 replicas", n)
	}
	if n := len(g.OfType("pulumi:providers:kubernetes")); n != 1 {
		t.Errorf("%d Kubernetes providers, want the one shared explicit provider", n)
	}
}

// named keeps the resources with the given names.
func named(resources []pulumitest.Resource, names ...string) []pulumitest.Resource {
	var out []pulumitest.Resource
	for _, r := range resources {
		if slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// In a release, prod runs exactly the image dev built and ran for the
// release's commit: the entry of dev's record of builds, read through a
// stack reference to dev; prod builds nothing and needs no Docker. Outside
// a release (a preview of a pull request, a drift check) it keeps its image.
func TestProdRunsTheImageDevBuiltForTheCommit(t *testing.T) {
	t.Setenv("GITHUB_SHA", testCommit)
	dev, err := pulumitest.Run(t, "platform", "dev", Program(stackValues(t, "dev")), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := dev.One(t, "docker:index/image:Image", "greeter").Input("imageName"); tag != "ghcr.io/acme/greeter:0.1.0-89abcdef0123" {
		t.Errorf("dev's image tag %v, want <version>-<commit>", tag)
	}
	if ref := dev.One(t, "pulumi:pulumi:StackReference", "greeter-builds"); ref.ReadID != "organization/platform/dev" {
		t.Errorf("dev reads its record of builds from stack %q, want its own", ref.ReadID)
	}
	devImage := dev.One(t, "kubernetes:apps/v1:Deployment", "greeter").MustInput(t, "spec.template.spec.containers.0.image").(string)
	// Stand in for the backend with a digest only dev's run could have given,
	// and a later commit dev runs now.
	devImage = strings.Replace(devImage, pulumitest.FakeDigest, "sha256:"+strings.Repeat("d", 64), 1)
	t.Cleanup(pulumitest.StackOutputs("organization/platform/dev", map[string]any{
		"services": map[string]any{"greeter": map[string]any{"image": "ghcr.io/acme/greeter@sha256:" + strings.Repeat("e", 64), "builds": []any{
			map[string]any{"commit": strings.Repeat("e", 40), "tag": "0.1.0-eeeeeeeeeeee", "image": "ghcr.io/acme/greeter@sha256:" + strings.Repeat("e", 64)},
			map[string]any{"commit": testCommit, "tag": "0.1.0-89abcdef0123", "image": devImage},
		}}},
	}))
	prod, err := pulumitest.Run(t, "platform", "prod", Program(stackValues(t, "prod")), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	if got := prod.One(t, "kubernetes:apps/v1:Deployment", "greeter").MustInput(t, "spec.template.spec.containers.0.image"); got != "ghcr.io/acme/greeter@"+pulumitest.FakeDigest {
		t.Errorf("prod outside a release runs %v, want the image it ran", got)
	}
	t.Setenv(ReleaseVariable, testCommit)
	prod, err = pulumitest.Run(t, "platform", "prod", Program(stackValues(t, "prod")), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	if got := prod.One(t, "kubernetes:apps/v1:Deployment", "greeter").MustInput(t, "spec.template.spec.containers.0.image"); got != devImage {
		t.Errorf("prod runs %v, dev built %s for commit %s", got, devImage, testCommit)
	}
	var refs []string
	for _, r := range prod.OfType("pulumi:pulumi:StackReference") {
		refs = append(refs, r.Name+" "+r.ReadID)
	}
	// Besides dev's builds, prod reads only its own last run (what its
	// stateful parts run, for the changes they cannot take).
	slices.Sort(refs)
	if want := []string{"greeter-from-dev organization/platform/dev", "observability-last-run organization/platform/prod"}; len(prod.OfType("docker:index/image:Image")) != 0 || !slices.Equal(refs, want) {
		t.Errorf("prod declares %d image builds and the stack references %q, want none and %q", len(prod.OfType("docker:index/image:Image")), refs, want)
	}
	if ref := prod.One(t, "pulumi:pulumi:StackReference", "greeter-from-dev"); ref.ReadID != "organization/platform/dev" {
		t.Errorf("prod reads stack %q", ref.ReadID)
	}
}

// The commit an image is tagged with: CI's GITHUB_SHA, else the checkout's
// HEAD (a laptop's run tags what it builds too); none outside a checkout.
func TestCommit(t *testing.T) {
	t.Setenv("GITHUB_SHA", "")
	head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	if got := Commit(".."); got != strings.TrimSpace(string(head)) {
		t.Errorf("Commit without GITHUB_SHA = %q, want HEAD %s", got, head)
	}
	if got := Commit(t.TempDir()); got != "" {
		t.Errorf("Commit outside a checkout = %q", got)
	}
	t.Setenv("GITHUB_SHA", "89abcdef0123456789abcdef0123456789abcdef")
	if got := Commit(".."); got != "89abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("Commit with GITHUB_SHA = %q", got)
	}
}

// The provider's client settings come from the environment's profile and
// may be set per stack; a value outside the range is refused by its key.
func TestKubernetesClientSettings(t *testing.T) {
	for _, tt := range []struct {
		stack, config string
		qps, burst    float64
	}{
		{"local", "", 200, 200},
		{"prod", "", 100, 100},
		{"prod", `{"context":"platform-prod","client":{"qps":20,"burst":40}}`, 20, 40},
	} {
		values := stackValues(t, tt.stack)
		if tt.config != "" {
			values["platform:kubernetes"] = Value{Raw: tt.config}
		}
		g, err := pulumitest.Run(t, "platform", tt.stack, Program(values), pulumitest.InProject(".."))
		if err != nil {
			t.Fatal(err)
		}
		p := g.One(t, "pulumi:providers:kubernetes", "kubernetes")
		qps, _ := p.Input("kubeClientSettings.qps")
		burst, _ := p.Input("kubeClientSettings.burst")
		timeout, _ := p.Input("kubeClientSettings.timeout")
		if qps != tt.qps || burst != tt.burst || timeout != float64(32) {
			t.Errorf("%s %s: qps %v burst %v timeout %v; want %v, %v, 32", tt.stack, tt.config, qps, burst, timeout, tt.qps, tt.burst)
		}
	}
	values := stackValues(t, "dev")
	values["platform:kubernetes"] = Value{Raw: `{"client":{"qps":0}}`}
	if _, err := Load(values, testEnviron); err == nil || !strings.Contains(err.Error(), "platform:kubernetes.client.qps: 0: must be from 1 to 10000") {
		t.Errorf("qps 0 taken: %v", err)
	}
}

// The GitHub resources the governance stack declares are recorded in
// testdata/, where terraform-provider-github's own validation judges them
// (testbed/conformance/github); the workload stacks declare none.
func TestGitHubResourcesAreRecorded(t *testing.T) {
	g, err := pulumitest.Run(t, "platform", "governance", Program(stackValues(t, "governance")), pulumitest.InProject(".."))
	pulumitest.CheckRecord(t, pulumitest.Must(t, g, err), "github:", filepath.Join("testdata", "conformance", "governance.json"))
}

// The governance stack governs the repositories and runs nothing on a
// cluster: no Kubernetes provider, no workload; the repositories protected as
// prod's profile says, the token a secret.
func TestGovernanceStack(t *testing.T) {
	g, err := pulumitest.Run(t, "platform", "governance", Program(stackValues(t, "governance")), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Resources {
		if strings.HasPrefix(r.Type, "kubernetes:") || strings.HasPrefix(r.Type, "pulumi:providers:kubernetes") || strings.HasPrefix(r.Type, "docker:") {
			t.Errorf("the governance stack declares %s %s", r.Type, r.Name)
		}
	}
	if n := len(g.OfType("github:index/repositoryRuleset:RepositoryRuleset")); n != 7 {
		t.Errorf("%d rulesets, want 7 (4 of the platform's, 3 of the greeter's)", n)
	}
	if n := len(g.OfType("github:index/repositoryEnvironment:RepositoryEnvironment")); n != 8 {
		t.Errorf("%d GitHub environments, want 8", n)
	}
	for _, name := range []string{"platform", "greeter"} {
		if repo := g.One(t, "github:index/repository:Repository", name); !repo.Protect {
			t.Errorf("repository %s is not protected", name)
		}
	}
	if p := g.One(t, "pulumi:providers:github", "github"); !p.Secret("token") {
		t.Error("the GitHub token is not a secret")
	}
}

// No stack that deploys workloads can hold what changes prod: the GitHub
// token and the deploying kubeconfigs are refused by name in dev's and
// prod's config (nothing there may refer to them), so their previews never
// decrypt them; in the governance stack they load.
func TestWorkloadStacksHoldNoDeployingCredential(t *testing.T) {
	deploying := []string{"githubToken", "devKubeconfig", "prodKubeconfig"}
	for _, stack := range []string{"dev", "prod"} {
		for _, name := range deploying {
			values := stackValues(t, stack)
			values["platform:"+name] = Value{Raw: "s3cr3t-credential", Secret: true}
			_, err := Load(values, testEnviron)
			if err == nil || !strings.Contains(err.Error(), "platform:"+name+": [secret]: unknown key") {
				t.Errorf("%s holding %s: %v", stack, name, err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t-credential") {
				t.Errorf("%s: the refusal shows the credential", stack)
			}
		}
		values := stackValues(t, stack)
		values["platform:github"] = stackValues(t, "governance")["platform:github"]
		if _, err := Load(values, testEnviron); err == nil || !strings.Contains(err.Error(), "platform:github: {…}: belongs to a governance stack of its own") {
			t.Errorf("%s declaring repositories: %v", stack, err)
		}
	}
	if _, err := Load(stackValues(t, "governance"), testEnviron); err != nil {
		t.Errorf("the governance stack: %v", err)
	}
}

// The cluster's DNS (platform:kubernetes.dns) reaches every name and every
// policy: with another domain and node-local address, no object names
// cluster.local, and every lookup rule allows the configured address.
func TestClusterDNSReachesEveryNameAndPolicy(t *testing.T) {
	values := stackValues(t, "local")
	values["platform:kubernetes"] = Value{Raw: `{"kubeconfig":".cluster/kubeconfig","dns":{"domain":"corp.internal","nodeLocal":"169.254.0.53"}}`}
	g, err := pulumitest.Run(t, "platform", "local", Program(values), pulumitest.InProject(".."))
	if err != nil {
		t.Fatal(err)
	}
	policies, lookups := 0, 0
	for _, r := range g.Resources {
		if inputs := fmt.Sprint(r.Inputs.Mappable()); strings.Contains(inputs, "cluster.local") {
			t.Errorf("%s %s names cluster.local", r.Type, r.Name)
		}
		if r.Type != "kubernetes:networking.k8s.io/v1:NetworkPolicy" {
			continue
		}
		egress, _ := r.Input("spec.egress")
		if types, _ := r.Input("spec.policyTypes"); !slices.Contains(asList(types), any("Egress")) || len(asList(egress)) == 0 {
			continue // a default-deny policy: what the others allow, it leaves
		}
		policies++
		for _, rule := range asList(egress) {
			if port, _ := jsonPath(rule, "ports", 0, "port"); port != float64(53) {
				continue
			}
			lookups++
			if cidr, _ := jsonPath(rule, "to", 1, "ipBlock", "cidr"); cidr != "169.254.0.53/32" {
				t.Errorf("%s: the lookup rule allows %v, want the configured 169.254.0.53/32", r.Name, cidr)
			}
		}
	}
	if policies == 0 || lookups != policies {
		t.Errorf("%d policies, %d lookup rules: every policy should allow lookups", policies, lookups)
	}
	for config, want := range map[string]string{
		`{"dns":{"domain":"Corp_Internal"}}`: `platform:kubernetes.dns.domain: "Corp_Internal": must be a DNS name`,
		`{"dns":{"nodeLocal":"dns.local"}}`:  `platform:kubernetes.dns.nodeLocal: "dns.local": must be an IP address`,
	} {
		values := stackValues(t, "dev")
		values["platform:kubernetes"] = Value{Raw: config}
		if _, err := Load(values, testEnviron); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", config, err, want)
		}
	}
	// The certificates name the servers under the cluster's domain: a
	// stack whose domain changes needs new ones.
	values = stackValues(t, "prod")
	values["platform:kubernetes"] = Value{Raw: `{"dns":{"domain":"corp.internal"}}`}
	if _, err := Load(values, testEnviron); err == nil || !strings.Contains(err.Error(), "does not serve elasticsearch.observability.svc.corp.internal") {
		t.Errorf("prod's certificates taken for another domain: %v", err)
	}
}

func asList(v any) []any {
	list, _ := v.([]any)
	return list
}

// jsonPath walks maps (by string key) and lists (by index).
func jsonPath(v any, path ...any) (any, bool) {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil, false
			}
			v = l[s]
		}
	}
	return v, v != nil
}

// Every Kubernetes object of every stack has a name the program gives, the
// same on every run of the same config: the driver writes the state once
// per run (cli/driver's Options.Checkpoints), so a run killed midway made
// objects the state never learnt of, and the next run must make the same
// objects (server-side apply adopts them) rather than new ones beside them.
func TestEveryObjectIsNamedByTheProgram(t *testing.T) {
	for _, stack := range stackstest.Stacks {
		t.Run(stack, func(t *testing.T) {
			values := stackstest.Values(t, "..", stack)
			names := func() map[string]string {
				g, err := pulumitest.Run(t, "platform", stack, Program(values), pulumitest.InProject(".."))
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, r := range g.Resources {
					if !strings.HasPrefix(r.Type, "kubernetes:") {
						continue
					}
					name, ok := r.Input("metadata.name")
					if !ok || name == "" {
						t.Errorf("%s has no name of the program's: the provider would make one up per run", r.URN)
						continue
					}
					out[r.URN] = name.(string)
				}
				return out
			}
			first, second := names(), names()
			for urn, name := range first {
				if second[urn] != name {
					t.Errorf("%s is named %q, then %q on a second run of the same config", urn, name, second[urn])
				}
			}
			t.Logf("%d objects, each named by the program", len(first))
		})
	}
}
