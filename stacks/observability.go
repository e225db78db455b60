package stacks

import (
	"errors"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// The secret config keys of Elasticsearch's security (prod): the elastic
// user's password, set by hand, and the TLS material that `platform certs`
// makes once and stores.
const (
	ElasticPasswordKey   = "elasticPassword"
	ElasticCAKey         = "elasticsearchCa"
	ElasticCertKey       = "elasticsearchCertificate"
	ElasticPrivateKeyKey = "elasticsearchKey"
)

// elasticSecretKeys are the secret keys that security on needs.
var elasticSecretKeys = []string{ElasticPasswordKey, ElasticCAKey, ElasticCertKey, ElasticPrivateKeyKey}

// observabilityArgs turns the config into the component's arguments, with
// this environment's shape and the services as the senders of traces.
func (c *Config) observabilityArgs() observability.Args {
	args := *c.Observability
	args.Environment = string(c.Environment)
	args.HighAvailability = c.Environment == Prod
	args.Protect = environments[c.Environment].protect
	args.TelemetryFrom = nil
	for _, s := range c.Services {
		args.TelemetryFrom = append(args.TelemetryFrom, serviceNamespace(s))
	}
	if _, ok := c.Secrets[ElasticPasswordKey]; ok {
		args.ElasticPassword = c.secret(ElasticPasswordKey)
	}
	if c.hasSecrets(ElasticCAKey, ElasticCertKey, ElasticPrivateKeyKey) {
		args.TLS = &observability.TLS{
			CA: c.secret(ElasticCAKey), Certificate: c.secret(ElasticCertKey), Key: c.secret(ElasticPrivateKeyKey),
		}
	}
	return args.Defaults()
}

func (c *Config) hasSecrets(keys ...string) bool {
	for _, k := range keys {
		if _, ok := c.Secrets[k]; !ok {
			return false
		}
	}
	return true
}

// elasticSecurityRefs are the secret keys the observability config refers to:
// all four when Elasticsearch security is on.
func elasticSecurityRefs(o *observability.Args, env Environment) []string {
	if o == nil {
		return nil
	}
	args := *o
	args.HighAvailability = env == Prod
	if !*args.Defaults().Elasticsearch.Security {
		return nil
	}
	return elasticSecretKeys
}

// validateObservability reports what is wrong with platform:observability:
// the component's own checks under the key, missing secrets by their keys,
// and certificates that do not serve the namespace or expire soon.
func validateObservability(c *Config, raw map[string]Value, now time.Time, problems *validate.Problems) {
	if c.Observability == nil || c.Environment == "" {
		return
	}
	refs := elasticSecurityRefs(c.Observability, c.Environment)
	missing := false
	for _, ref := range refs {
		if _, ok := raw[ref]; !ok {
			missing = true
			how := "set it with `pulumi config set --secret " + key(ref) + " <value>`"
			if ref != ElasticPasswordKey {
				how = "make it with `platform certs --stack <stack>`"
			}
			problems.Add(key(ref), "", "is required while Elasticsearch security is on (prod always): "+how)
		}
	}
	args := c.observabilityArgs()
	if err := args.Validate(); err != nil {
		if missing {
			return // the secrets' own problems say it better
		}
		problems.AddAll(key("observability")+".", err)
		return
	}
	if args.TLS != nil && len(refs) > 0 {
		certs := observability.Certificates{
			CA: c.Secrets[ElasticCAKey].Reveal(), Certificate: c.Secrets[ElasticCertKey].Reveal(), Key: c.Secrets[ElasticPrivateKeyKey].Reveal(),
		}
		if err := certs.Check(args.Namespace, now); err != nil {
			problems.Add(key(ElasticCertKey), Secret{}, err.Error())
		}
	}
}

// declareObservability declares the stack's logging and tracing, and returns
// where the services send their traces (nil when the stack has none).
func declareObservability(ctx *pulumi.Context, c *Config, provider pulumi.ProviderResource) (*workload.Telemetry, pulumi.Map, error) {
	if c.Observability == nil {
		ctx.Log.Info("observability is off for this stack (no platform:observability config)", nil)
		return nil, nil, nil
	}
	args := c.observabilityArgs()
	o, err := observability.NewObservability(ctx, "observability", args, provider)
	if err != nil {
		return nil, nil, err
	}
	telemetry := &workload.Telemetry{Endpoint: o.OTLPEndpoint, Namespace: args.Namespace, Port: observability.OTLPHTTPPort}
	outputs, err := component.Outputs(o)
	return telemetry, outputs, err
}

// ObservabilityNamespace is the namespace the stack's Elasticsearch runs in,
// read from config alone: certificates are made before the stack's config is
// complete (prod refuses to load without them).
func ObservabilityNamespace(values map[string]Value) (string, error) {
	o, err := decodeObservability(values)
	if err != nil {
		return "", err
	}
	return o.Defaults().Namespace, nil
}

// decodeObservability reads platform:observability alone, which must be set.
func decodeObservability(values map[string]Value) (*observability.Args, error) {
	var problems validate.Problems
	raw := map[string]Value{}
	if v, ok := values[key("observability")]; ok {
		raw["observability"] = v
	}
	var o *observability.Args
	decode(raw, "observability", &o, &problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("%s is not set: this stack has no Elasticsearch", key("observability"))
	}
	return o, nil
}

// NewCertificateConfig makes Elasticsearch's TLS material for a stack whose
// config a workspace read, keyed by full config key, to be stored as secrets.
// It refuses a stack without Elasticsearch security, and keeps certificates
// that are still good unless renew is set.
func NewCertificateConfig(config auto.ConfigMap, renew bool, validFor time.Duration, now time.Time) (map[string]string, error) {
	values := workspaceValues(config)
	o, err := decodeObservability(values)
	if err != nil {
		return nil, err
	}
	namespace := o.Defaults().Namespace
	env := Environment(values[key("environment")].Raw)
	if len(elasticSecurityRefs(o, env)) == 0 {
		return nil, fmt.Errorf("Elasticsearch security is off in this stack (%s %s): it needs no certificates", key("environment"), env)
	}
	current := observability.Certificates{
		CA: values[key(ElasticCAKey)].Raw, Certificate: values[key(ElasticCertKey)].Raw, Key: values[key(ElasticPrivateKeyKey)].Raw,
	}
	if !renew && current.Certificate != "" && current.Check(namespace, now) == nil {
		return nil, ErrCertificatesValid
	}
	certs, err := observability.NewCertificates(namespace, validFor, now)
	if err != nil {
		return nil, err
	}
	return map[string]string{key(ElasticCAKey): certs.CA, key(ElasticCertKey): certs.Certificate, key(ElasticPrivateKeyKey): certs.Key}, nil
}

// ErrCertificatesValid says the stack's certificates are still good for
// longer than observability.MinValidity.
var ErrCertificatesValid = errors.New("the stack's certificates are valid for more than 30 days: nothing to do (--renew replaces them)")
