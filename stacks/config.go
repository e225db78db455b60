package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/validate"
)

// Namespace is the project's config namespace: keys are written "platform:<key>".
const Namespace = "platform"

// Value is one config value as the engine hands it over: the raw string (JSON
// for structured values) and whether the stack file holds it encrypted.
type Value struct {
	Raw    string
	Secret bool
}

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
	// Kubernetes names the cluster the stack deploys to.
	Kubernetes Kubernetes
	// Services are the team's services to run.
	Services []Service
	// Secrets holds the secret config keys the services refer to, by key.
	Secrets map[string]Secret
	// Commit is the git commit being deployed (GITHUB_SHA in CI), for image tags.
	Commit string
	// Root is the project root; build contexts are relative to it.
	Root string
	// Drift says what the scheduled drift check may do.
	Drift Drift
	// GitHub is the repositories the stack governs; nil leaves GitHub alone.
	GitHub *GitHub
	// Observability is config key platform:observability, the logging and
	// tracing stack: the component's arguments, whose JSON names are the keys
	// (components/observability/args.go documents each). nil: none.
	Observability *observability.Args
}

// Drift is config key platform:drift.
type Drift struct {
	// Remediate lets `platform drift --remediate` run `up --refresh` when it
	// finds drift. Default: on for dev and local, off for prod, whose changes
	// go through a reviewed deployment.
	Remediate *bool `json:"remediate,omitempty"`
}

// Environment is the kind of stack: it decides sizes, availability and protection.
type Environment string

// The environments a stack can be.
const (
	Dev   Environment = "dev"
	Prod  Environment = "prod"
	Local Environment = "local"
)

// Kubernetes is config key platform:kubernetes.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig file, relative to the project root, or empty
	// for the ambient one (KUBECONFIG or ~/.kube/config).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context in the kubeconfig; empty for its current context.
	Context string `json:"context,omitempty"`
}

// Service is one entry of config key platform:services. Omitted fields take the
// environment's defaults (see defaults.go).
type Service struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// Image is an image CI built and pushed, pinned by digest
	// (repository@sha256:...). Exactly one of image and build is given.
	Image string `json:"image,omitempty"`
	// Build builds and pushes the image from the project (dev, prod).
	Build        *Build            `json:"build,omitempty"`
	Version      string            `json:"version"`
	Replicas     int               `json:"replicas,omitempty"`
	Port         int               `json:"port,omitempty"`
	DrainSeconds int               `json:"drainSeconds,omitempty"`
	Resources    *Resources        `json:"resources,omitempty"`
	Probes       *Probes           `json:"probes,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	Files        map[string]string `json:"files,omitempty"`
	// SecretEnv maps an environment variable to the config key (in this
	// project's namespace) of a secret: {"API_KEY": "greeterApiKey"} reads
	// platform:greeterApiKey, which must be set with `pulumi config set --secret`.
	SecretEnv   map[string]string `json:"secretEnv,omitempty"`
	Autoscaling *Autoscaling      `json:"autoscaling,omitempty"`
	Ingress     *Ingress          `json:"ingress,omitempty"`
	AllowFrom   []string          `json:"allowFrom,omitempty"`
	Egress      []Egress          `json:"egress,omitempty"`
}

// Build says how to build and push a service's image.
type Build struct {
	// Context folder (default app) and Dockerfile (default <context>/Dockerfile),
	// relative to the project root.
	Context    string `json:"context,omitempty"`
	Dockerfile string `json:"dockerfile,omitempty"`
	// Platform to build for (default linux/amd64).
	Platform string `json:"platform,omitempty"`
	// Repository to push to, without tag, e.g. ghcr.io/acme/greeter.
	Repository string `json:"repository"`
	// Registry to log in to (default: the repository's host) as Username,
	// with the password or token held by the secret config key PasswordSecret.
	Registry       string `json:"registry,omitempty"`
	Username       string `json:"username"`
	PasswordSecret string `json:"passwordSecret"`
	// BuildOnPreview builds during previews too (default false).
	BuildOnPreview bool `json:"buildOnPreview,omitempty"`
}

// Resources are a container's requests and limits.
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
}

// Quantities are CPU and memory as Kubernetes quantities ("250m", "128Mi").
type Quantities struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Probes are the HTTP paths of the health endpoints.
type Probes struct {
	Startup   string `json:"startup,omitempty"`
	Liveness  string `json:"liveness,omitempty"`
	Readiness string `json:"readiness,omitempty"`
}

// Autoscaling bounds a HorizontalPodAutoscaler; replicas is its minimum.
type Autoscaling struct {
	Enabled              *bool `json:"enabled,omitempty"`
	MaxReplicas          int   `json:"maxReplicas,omitempty"`
	TargetCPUUtilization int   `json:"targetCPUUtilization,omitempty"`
}

// Ingress exposes a service on a host name.
type Ingress struct {
	Host                string `json:"host"`
	ClassName           string `json:"className,omitempty"`
	ControllerNamespace string `json:"controllerNamespace,omitempty"`
}

// Egress allows traffic to a CIDR block on TCP ports.
type Egress struct {
	CIDR  string `json:"cidr"`
	Ports []int  `json:"ports"`
}

// keys lists the structured keys of the project namespace and what each holds.
var keys = map[string]any{
	"environment":   new(string),
	"kubernetes":    new(Kubernetes),
	"services":      new([]Service),
	"drift":         new(Drift),
	"github":        new(GitHub),
	"observability": new(observability.Args),
}

var secretKeyPattern = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)

// secret is the secret config key ref as a Pulumi secret: the one way a
// secret value leaves Config.
func (c *Config) secret(ref string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(c.Secrets[ref].Reveal())).(pulumi.StringOutput)
}

// secretInputs maps names to the secrets that config keys hold (nil if none).
func (c *Config) secretInputs(refs map[string]string) map[string]pulumi.StringInput {
	if len(refs) == 0 {
		return nil
	}
	out := map[string]pulumi.StringInput{}
	for name, ref := range refs {
		out[name] = c.secret(ref)
	}
	return out
}

// Environ is what the program learns from where it runs, not from config.
type Environ struct {
	// ProjectRoot holds Pulumi.yaml; build contexts are relative to it.
	ProjectRoot string
	// Commit is the git commit being deployed (GITHUB_SHA), or empty.
	Commit string
}

// Load turns the raw config of a stack into a validated Config. It reports
// every problem at once: unknown keys in the project namespace, values of the
// wrong shape, values outside what is allowed, and secrets given in plain text.
// Keys of other namespaces (kubernetes:, pulumi:) are left to their owners.
func Load(values map[string]Value, env Environ) (*Config, error) {
	var problems validate.Problems
	raw := map[string]Value{}
	for key, v := range values {
		ns, name, ok := strings.Cut(key, ":")
		if ok && ns == Namespace {
			raw[name] = v
		}
	}

	var envName string
	var kubernetes Kubernetes
	var services []Service
	var drift Drift
	var gh *GitHub
	var obs *observability.Args
	decode(raw, "drift", &drift, &problems)
	decode(raw, "observability", &obs, &problems)
	decode(raw, "github", &gh, &problems)
	decode(raw, "environment", &envName, &problems)
	decode(raw, "kubernetes", &kubernetes, &problems)
	decode(raw, "services", &services, &problems)

	cfg := &Config{Environment: Environment(envName), Kubernetes: kubernetes, Secrets: map[string]Secret{}, Commit: env.Commit, Root: env.ProjectRoot, Drift: drift, GitHub: gh, Observability: obs}
	switch cfg.Environment {
	case Dev, Prod, Local:
		if cfg.Drift.Remediate == nil {
			remediate := cfg.Environment != Prod
			cfg.Drift.Remediate = &remediate
		}
	default:
		problems.Add(key("environment"), envName, "must be one of dev, prod, local")
	}

	// Every other key must be a secret that a service refers to.
	referenced := map[string]bool{}
	for _, s := range services {
		for _, ref := range s.SecretEnv {
			referenced[ref] = true
		}
		if s.Build != nil {
			referenced[s.Build.PasswordSecret] = true
		}
	}
	for _, ref := range gh.secretRefs() {
		referenced[ref] = true
	}
	for _, ref := range elasticSecurityRefs(obs, cfg.Environment) {
		referenced[ref] = true
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if _, known := keys[name]; known {
			continue
		}
		switch {
		case !referenced[name]:
			problems.Add(key(name), redact(raw[name]), "unknown key: not a platform setting, and no secretEnv, build, github or observability setting refers to it (a typo?)")
		case !raw[name].Secret:
			problems.Add(key(name), validate.Verbatim("(plain text)"), "is referred to as a secret, so it must be one: set it with `pulumi config set --secret`")
		default:
			cfg.Secrets[name] = Secret{raw[name].Raw}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		if v, ok := raw[name]; ok && v.Secret {
			problems.Add(key(name), Secret{}, "is a plain setting; it must not be encrypted")
		}
	}

	cfg.Services = services
	validateKubernetes(cfg, &problems)
	validateServices(cfg, raw, &problems)
	validateGitHub(cfg, raw, &problems)
	validateObservability(cfg, raw, time.Now(), &problems)
	if err := problems.Err(); err != nil {
		return nil, fmt.Errorf("invalid stack config (%d problems):\n%w", len(problems), err)
	}
	return cfg, nil
}

func key(name string) string { return Namespace + ":" + name }

func redact(v Value) any {
	if v.Secret {
		return Secret{v.Raw}
	}
	return v.Raw
}

// decode reads the JSON (or plain string) value of key into out. It first
// checks the value's shape against out's type, so that an unknown field or a
// value of the wrong type is reported with its full path and value.
func decode(raw map[string]Value, name string, out any, problems *validate.Problems) {
	v, ok := raw[name]
	if !ok {
		return
	}
	if s, isString := out.(*string); isString {
		*s = v.Raw
		return
	}
	var generic any
	if err := json.Unmarshal([]byte(v.Raw), &generic); err != nil {
		problems.Add(key(name), v.Raw, "must be structured config (a YAML object or list)")
		return
	}
	before := len(*problems)
	checkShape(key(name), generic, reflect.TypeOf(out).Elem(), problems)
	if len(*problems) > before {
		return
	}
	if err := json.Unmarshal([]byte(v.Raw), out); err != nil {
		problems.Add(key(name), v.Raw, err.Error())
	}
}

// checkShape walks a decoded JSON value beside the Go type it will fill and
// reports every object key the type has no field for and every value of the
// wrong kind.
func checkShape(path string, v any, t reflect.Type, problems *validate.Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return
	}
	wrong := func(want string) { problems.Add(path, shown(v), "must be "+want) }
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			wrong("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			wrong("true or false")
		}
	case reflect.Int:
		if f, ok := v.(float64); !ok || f != float64(int(f)) {
			wrong("a whole number")
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			wrong("a list")
			return
		}
		for i, item := range items {
			checkShape(fmt.Sprintf("%s[%d]", path, i), item, t.Elem(), problems)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			wrong("an object")
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			checkShape(path+"."+k, m[k], t.Elem(), problems)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			wrong("an object")
			return
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, ok := fields[k]
			if !ok {
				problems.Add(path+"."+k, shown(m[k]), "unknown field; allowed: "+strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
				continue
			}
			checkShape(path+"."+k, m[k], f.Type, problems)
		}
	}
}

// shown renders a decoded JSON value as the user wrote it.
func shown(v any) any {
	switch v.(type) {
	case string:
		return v
	}
	out, _ := json.Marshal(v)
	return validate.Verbatim(out)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = f
		}
	}
	return fields
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
