package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/configdecode"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/validate"
)

// Namespace is the project's config namespace: keys are written "platform:<key>".
const Namespace = "platform"

// Value is one config value as the engine hands it over: the raw string (JSON
// for structured values) and whether the stack file holds it encrypted.
type Value = configdecode.Value

// Secret is a secret config value held in memory. It never prints: use
// Reveal only to hand it to pulumi.ToSecret.
type Secret struct{ value string }

// Reveal returns the plaintext, for wrapping as a Pulumi secret.
func (s Secret) Reveal() string { return s.value }

// String hides the value from logs and error messages.
func (Secret) String() string { return "[secret]" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "[secret]" }

// Config is the validated configuration of one stack.
type Config struct {
	// Environment is dev, prod or local; it picks every default.
	Environment Environment
	// Kubernetes names the cluster the stack deploys to (internal/kube).
	Kubernetes kube.Cluster
	// Services are the team's services to run.
	Services []Service
	// Secrets holds the secret config keys the config refers to, by key.
	Secrets map[string]Secret
	// Commit is the git commit being deployed (see Commit), for image tags.
	Commit string
	// Release is the commit of the release being deployed, whose images
	// stacks with imageFrom take; empty outside a release.
	Release string
	// Root is the project root; build contexts are relative to it.
	Root string
	// Drift says what the scheduled drift check may do.
	Drift Drift
	// GitHub is the repositories the stack governs; nil leaves GitHub alone.
	GitHub *GitHub
	// Observability is the logging and tracing stack; nil: none.
	Observability *observability.Args
}

// Drift is config key platform:drift.
type Drift struct {
	// Remediate lets `platform drift --remediate` run `up --refresh` when it
	// finds drift. Default: on for dev and local, off for prod, whose changes
	// go through a reviewed deployment.
	Remediate bool `json:"remediate"`
}

// Environment is the kind of stack: it decides sizes, availability and protection.
type Environment string

// The environments a stack can be.
const (
	Dev   Environment = component.Dev
	Prod  Environment = component.Prod
	Local Environment = component.Local
)

// Service is one entry of config key platform:services: the workload
// component's arguments (components/workload/args.go documents each key)
// and where its image comes from (keys image and build, components/image).
type Service struct {
	workload.Args
	image.Source
}

// keys are the structured keys of the project namespace.
var keys = []string{"environment", "kubernetes", "services", "drift", "github", "observability"}

// Environ is what the program learns from where it runs, not from config.
type Environ struct {
	// ProjectRoot holds Pulumi.yaml; build contexts are relative to it.
	ProjectRoot string
	// Commit is the git commit being deployed (see Commit), or empty.
	Commit string
	// Release is the commit of the release being deployed (ReleaseVariable),
	// or empty.
	Release string
}

// Load turns the raw config of a stack into a validated Config. Each
// structured key is decoded over its component's profile for the stack's
// environment, so an absent key keeps its default and a present one is
// honoured or rejected. It reports every problem at once: unknown keys,
// values of the wrong shape, values outside what is allowed, secrets given in
// plain text. Keys of other namespaces (kubernetes:, pulumi:) are left to
// their owners.
func Load(values map[string]Value, env Environ) (*Config, error) {
	raw := map[string]Value{}
	for k, v := range values {
		if ns, name, ok := strings.Cut(k, ":"); ok && ns == Namespace {
			raw[name] = v
		}
	}
	var problems validate.Problems
	cfg := &Config{Environment: Environment(raw["environment"].Raw), Secrets: map[string]Secret{}, Commit: env.Commit, Release: env.Release, Root: env.ProjectRoot}
	switch cfg.Environment {
	case Dev, Prod, Local:
	default:
		problems.Add(key("environment"), raw["environment"].Raw, "must be one of dev, prod, local")
	}
	environment := string(cfg.Environment)
	cfg.Drift.Remediate = cfg.Environment != Prod
	decode(raw, "drift", &cfg.Drift, &problems)
	cfg.Kubernetes = kube.ClusterProfile(environment)
	decode(raw, "kubernetes", &cfg.Kubernetes, &problems)
	if v, ok := raw["services"]; ok && !v.Secret {
		services, p := configdecode.DecodeList(key("services"), v.Raw, func() Service { return Service{Args: workload.Profile(environment)} })
		cfg.Services = services
		problems = append(problems, p...)
	}
	if _, ok := raw["observability"]; ok {
		o := observability.Profile(environment)
		decode(raw, "observability", &o, &problems)
		cfg.Observability = &o
	}
	if _, ok := raw["github"]; ok {
		cfg.GitHub = decodeGitHub(raw, environment, &problems)
	}

	// Every other key must be a secret that the config refers to.
	referenced := cfg.secretRefs()
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if slices.Contains(keys, name) {
			if raw[name].Secret {
				problems.Add(key(name), Secret{}, "is a plain setting; it must not be encrypted")
			}
			continue
		}
		switch {
		case name == ObservabilityCAKeyKey && raw[name].Secret && cfg.Observability != nil && NeedsCertificates(*cfg.Observability):
			// Kept by `platform certs` for its renewals; the program never reads it.
		case name == JaegerUIPasswordKey && raw[name].Secret && cfg.Observability != nil:
			// The UI password, for people; the program reads its hash only.
		case len(referenced[name]) == 0:
			problems.Add(key(name), redact(raw[name]), "unknown key: not a platform setting, and no secretEnv, secretFiles, build, github or observability setting refers to it (a typo?)")
		case !raw[name].Secret:
			problems.Add(key(name), validate.Verbatim("(plain text)"), "is referred to as a secret, so it must be one: set it with `pulumi config set --secret`")
		default:
			cfg.Secrets[name] = Secret{raw[name].Raw}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(referenced)) {
		_, set := raw[name]
		if o := cfg.Observability; !set && o != nil && slices.Contains(requiredSecretKeys(*o), name) {
			how := "is required while Elasticsearch security is on (prod always): set it with `pulumi config set --secret " + key(name) + " <value>`"
			switch {
			case slices.Contains(uiAuthKeys, name):
				how = "is required: Jaeger's UI asks for a password: make it with `platform certs --stack <stack>`"
			case name != ElasticPasswordKey:
				how = "is required while Elasticsearch security or Kafka TLS is on (prod always): make it with `platform certs --stack <stack>`"
			}
			problems.Add(key(name), "", how)
			continue
		}
		for _, path := range referenced[name] {
			switch {
			case slices.Contains(keys, name):
				problems.Add(path, name, "must name a secret key of this project, not a platform setting")
			case !set:
				problems.Add(path, name, fmt.Sprintf("names no config key: set %s with `pulumi config set --secret %s <value>`", key(name), key(name)))
			}
		}
	}
	validateKubernetes(cfg, &problems)
	validateServices(cfg, &problems)
	validateGitHub(cfg, &problems)
	validateObservability(cfg, &problems)
	if err := problems.Err(); err != nil {
		return nil, fmt.Errorf("invalid stack config (%d problems):\n%w", len(problems), err)
	}
	return cfg, nil
}

// secretRefs lists every secret config key the config refers to, with the
// paths that refer to it.
func (c *Config) secretRefs() map[string][]string {
	refs := map[string][]string{}
	add := func(path string, byName map[string]string) {
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			refs[byName[name]] = append(refs[byName[name]], path+"."+name)
		}
	}
	for i, s := range c.Services {
		path := fmt.Sprintf("%s[%d]", key("services"), i)
		add(path+".secretEnv", s.SecretEnv)
		add(path+".secretFiles", s.SecretFiles)
		if s.Build != nil {
			refs[s.Build.PasswordSecret] = append(refs[s.Build.PasswordSecret], path+".build.passwordSecret")
		}
	}
	if g := c.GitHub; g != nil {
		if g.TokenSecret != "" {
			refs[g.TokenSecret] = append(refs[g.TokenSecret], key("github.tokenSecret"))
		}
		for i, r := range g.Repositories {
			path := fmt.Sprintf("%s[%d]", key("github.repositories"), i)
			add(path+".secrets", r.Secrets)
			for j, e := range r.Environments {
				add(fmt.Sprintf("%s.environments[%d].secrets", path, j), e.Secrets)
			}
		}
	}
	if o := c.Observability; o != nil {
		for _, k := range requiredSecretKeys(*o) {
			refs[k] = append(refs[k], key("observability"))
		}
	}
	return refs
}

func key(name string) string { return Namespace + ":" + name }

func redact(v Value) any {
	if v.Secret {
		return Secret{v.Raw}
	}
	return v.Raw
}

// decode reads key name, when set, over what out holds (see internal/configdecode).
func decode(raw map[string]Value, name string, out any, problems *validate.Problems) {
	v, ok := raw[name]
	if !ok || v.Secret {
		return
	}
	*problems = append(*problems, configdecode.Decode(key(name), v.Raw, out)...)
}

// FromEnvironment reads the stack's config as `pulumi up` hands it to a Go
// program: PULUMI_CONFIG (all values) and PULUMI_CONFIG_SECRET_KEYS.
func FromEnvironment() (map[string]Value, error) {
	values := map[string]Value{}
	var all map[string]string
	if raw := os.Getenv("PULUMI_CONFIG"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &all); err != nil {
			return nil, fmt.Errorf("reading PULUMI_CONFIG: %w", err)
		}
	}
	var secretKeys []string
	if raw := os.Getenv("PULUMI_CONFIG_SECRET_KEYS"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &secretKeys); err != nil {
			return nil, fmt.Errorf("reading PULUMI_CONFIG_SECRET_KEYS: %w", err)
		}
	}
	secret := map[string]bool{}
	for _, k := range secretKeys {
		secret[k] = true
	}
	for k, v := range all {
		values[k] = Value{Raw: v, Secret: secret[k]}
	}
	return values, nil
}
