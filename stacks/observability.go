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

// observabilityArgs are the component's arguments with what the program
// fills: the services as the senders of traces, and the secrets.
func (c *Config) observabilityArgs() observability.Args {
	args := *c.Observability
	args.TelemetryFrom = nil
	for _, s := range c.Services {
		args.TelemetryFrom = append(args.TelemetryFrom, s.NamespaceName())
	}
	if _, ok := c.Secrets[ElasticPasswordKey]; ok {
		args.ElasticPassword = c.secret(ElasticPasswordKey)
	}
	if c.hasSecrets(ElasticCAKey, ElasticCertKey, ElasticPrivateKeyKey) {
		args.TLS = &observability.TLS{
			CA: c.secret(ElasticCAKey), Certificate: c.secret(ElasticCertKey), Key: c.secret(ElasticPrivateKeyKey),
		}
	}
	return args
}

func (c *Config) hasSecrets(keys ...string) bool {
	for _, k := range keys {
		if _, ok := c.Secrets[k]; !ok {
			return false
		}
	}
	return true
}

// validateObservability reports what is wrong with platform:observability:
// the component's own checks under the key, and certificates that do not
// serve the namespace. Missing secrets are reported by Load, by their keys.
func validateObservability(c *Config, problems *validate.Problems) {
	if c.Observability == nil {
		return
	}
	args := c.observabilityArgs()
	if args.Elasticsearch.Security && !c.hasSecrets(elasticSecretKeys...) {
		return // the secrets' own problems say it better
	}
	problems.Nest(key("observability"), args.Validate())
	if args.TLS != nil && args.Elasticsearch.Security {
		if err := c.certificates().Check(args.Namespace, time.Now()); err != nil {
			problems.Add(key(ElasticCertKey), Secret{}, err.Error()+": make new ones with `platform certs --stack <stack> --renew`")
		}
	}
}

// certificates are Elasticsearch's TLS material from the stack's secrets.
func (c *Config) certificates() observability.Certificates {
	return observability.Certificates{
		CA: c.Secrets[ElasticCAKey].Reveal(), Certificate: c.Secrets[ElasticCertKey].Reveal(), Key: c.Secrets[ElasticPrivateKeyKey].Reveal(),
	}
}

// Findings are what a stack's config says needs an operator soon, though
// runs go on: certificates due for renewal. The drift check reports them.
func (c *Config) Findings(now time.Time) []string {
	if o := c.Observability; o == nil || !o.Elasticsearch.Security {
		return nil
	}
	if due := c.certificates().RenewalDue(now); due != "" {
		return []string{due}
	}
	return nil
}

// declareObservability declares the stack's logging and tracing, and returns
// where the services send their traces (nil when the stack has none).
func declareObservability(ctx *pulumi.Context, c *Config, provider pulumi.ProviderResource) (*workload.Telemetry, pulumi.Map, error) {
	if c.Observability == nil {
		ctx.Log.Info("observability is off for this stack (no platform:observability config)", nil)
		return nil, nil, nil
	}
	args := c.observabilityArgs()
	for _, finding := range c.Findings(time.Now()) {
		ctx.Log.Warn(finding, nil)
	}
	o, err := observability.NewObservability(ctx, "observability", args, provider)
	if err != nil {
		return nil, nil, err
	}
	telemetry := &workload.Telemetry{Endpoint: o.OTLPEndpoint, Namespace: args.Namespace, Port: observability.OTLPHTTPPort}
	outputs, err := component.Outputs(o)
	return telemetry, outputs, err
}

// NewCertificateConfig makes Elasticsearch's TLS material for a stack whose
// config a workspace read, keyed by full config key, to be stored as secrets.
// It refuses a stack without Elasticsearch security, and keeps certificates
// that are good and not due for renewal unless renew is set. It reads only
// what it needs, as the stack cannot load without certificates.
func NewCertificateConfig(config auto.ConfigMap, renew bool, validFor time.Duration, now time.Time) (map[string]string, error) {
	values := workspaceValues(config)
	raw := map[string]Value{}
	for _, name := range []string{"observability", ElasticCAKey, ElasticCertKey, ElasticPrivateKeyKey} {
		if v, ok := values[key(name)]; ok {
			raw[name] = v
		}
	}
	env := values[key("environment")].Raw
	if _, ok := raw["observability"]; !ok {
		return nil, fmt.Errorf("%s is not set: this stack has no Elasticsearch", key("observability"))
	}
	o := observability.Profile(env)
	var problems validate.Problems
	decode(raw, "observability", &o, &problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	if !o.Elasticsearch.Security {
		return nil, fmt.Errorf("Elasticsearch security is off in this stack (%s %s): it needs no certificates", key("environment"), env)
	}
	current := observability.Certificates{CA: raw[ElasticCAKey].Raw, Certificate: raw[ElasticCertKey].Raw, Key: raw[ElasticPrivateKeyKey].Raw}
	if !renew && current.Certificate != "" && current.Check(o.Namespace, now) == nil && current.RenewalDue(now) == "" {
		return nil, ErrCertificatesValid
	}
	certs, err := observability.NewCertificates(o.Namespace, validFor, now)
	if err != nil {
		return nil, err
	}
	return map[string]string{key(ElasticCAKey): certs.CA, key(ElasticCertKey): certs.Certificate, key(ElasticPrivateKeyKey): certs.Key}, nil
}

// ErrCertificatesValid says the stack's certificates are good and not due
// for renewal.
var ErrCertificatesValid = errors.New("the stack's certificates are valid for more than 30 days: nothing to do (--renew replaces them)")
