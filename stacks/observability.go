package stacks

import (
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/pki"
	"github.com/acme/platform/internal/validate"
)

// The secret config keys of the observability stack's security (prod): the
// elastic user's password, set by hand, and the TLS material that `platform
// certs` makes once and stores: the CA and each TLS server's certificate and key.
const (
	ElasticPasswordKey   = "elasticPassword"
	ObservabilityCAKey   = "observabilityCa"
	ElasticCertKey       = "elasticsearchCertificate"
	ElasticPrivateKeyKey = "elasticsearchKey"
	KafkaCertKey         = "kafkaCertificate"
	KafkaPrivateKeyKey   = "kafkaKey"
	// ObservabilityCAKeyKey is the signing CA's private key, kept by
	// `platform certs` for renewals from the same CA; never read by the
	// program, and absent from stacks made before it was kept.
	ObservabilityCAKeyKey = "observabilityCaKey"
)

// The secret config keys of Kafka's clients' certificates and keys, which
// `platform certs` makes with the servers': each client authenticates to
// Kafka with its own.
const (
	KafkaFilebeatCertKey = "kafkaFilebeatCertificate"
	KafkaFilebeatKeyKey  = "kafkaFilebeatKey"
	KafkaLogstashCertKey = "kafkaLogstashCertificate"
	KafkaLogstashKeyKey  = "kafkaLogstashKey"
	KafkaSetupCertKey    = "kafkaSetupCertificate"
	KafkaSetupKeyKey     = "kafkaSetupKey"
)

// keyPairs are the certificates and keys in config: their keys, their
// place in the certificates `platform certs` makes, and in the component's
// TLS argument.
var keyPairs = []struct {
	certificate, key string
	made             func(*observability.Certificates) *pki.KeyPair
	arg              func(*observability.TLS) *observability.KeyPair
}{
	{ElasticCertKey, ElasticPrivateKeyKey, func(c *observability.Certificates) *pki.KeyPair { return &c.Elasticsearch },
		func(t *observability.TLS) *observability.KeyPair { return &t.Elasticsearch }},
	{KafkaCertKey, KafkaPrivateKeyKey, func(c *observability.Certificates) *pki.KeyPair { return &c.Kafka },
		func(t *observability.TLS) *observability.KeyPair { return &t.Kafka }},
	{KafkaFilebeatCertKey, KafkaFilebeatKeyKey, func(c *observability.Certificates) *pki.KeyPair { return &c.KafkaClients.Filebeat },
		func(t *observability.TLS) *observability.KeyPair { return &t.KafkaFilebeat }},
	{KafkaLogstashCertKey, KafkaLogstashKeyKey, func(c *observability.Certificates) *pki.KeyPair { return &c.KafkaClients.Logstash },
		func(t *observability.TLS) *observability.KeyPair { return &t.KafkaLogstash }},
	{KafkaSetupCertKey, KafkaSetupKeyKey, func(c *observability.Certificates) *pki.KeyPair { return &c.KafkaClients.Setup },
		func(t *observability.TLS) *observability.KeyPair { return &t.KafkaSetup }},
}

// certificateKeys are the keys `platform certs` writes.
var certificateKeys = func() []string {
	keys := []string{ObservabilityCAKey}
	for _, p := range keyPairs {
		keys = append(keys, p.certificate, p.key)
	}
	return keys
}()

// The secret config keys of the credentials of a stack with Elasticsearch
// security, each a random secret of its own that `platform certs` makes
// once (observability.Credentials). Removing one and running `platform
// certs` again rotates it alone.
const (
	KibanaSystemPasswordKey   = "kibanaSystemPassword"
	LogstashWriterPasswordKey = "logstashWriterPassword"
	JaegerWriterPasswordKey   = "jaegerWriterPassword"
	KibanaSavedObjectsKeyKey  = "kibanaSavedObjectsKey"
	KibanaSecurityKeyKey      = "kibanaSecurityKey"
	KibanaReportingKeyKey     = "kibanaReportingKey"
)

// The secret config keys of Jaeger's UI credentials, which every stack with
// an observability stack needs (observability.UIAuth): `platform certs`
// makes them once. The password is for people and is never read by the
// program; removing the hash and running `platform certs` again makes a new
// password, removing the cookie key signs everyone out.
const (
	JaegerUIPasswordKey     = "jaegerUiPassword"
	JaegerUIPasswordHashKey = "jaegerUiPasswordHash"
	JaegerUICookieSecretKey = "jaegerUiCookieSecret"
)

// uiAuthKeys are the UI credentials' keys the program reads.
var uiAuthKeys = []string{JaegerUIPasswordHashKey, JaegerUICookieSecretKey}

// MissingUIAuth are the UI credentials' keys a stack lacks, by full key.
func MissingUIAuth(values map[string]Value) []string { return missingKeys(values, uiAuthKeys) }

// missingKeys are the keys without a value, by full key.
func missingKeys(values map[string]Value, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if values[key(k)].Raw == "" {
			missing = append(missing, key(k))
		}
	}
	return missing
}

// credentialKeys are the credentials' keys.
var credentialKeys = []string{KibanaSystemPasswordKey, LogstashWriterPasswordKey, JaegerWriterPasswordKey, KibanaSavedObjectsKeyKey, KibanaSecurityKeyKey, KibanaReportingKeyKey}

// MissingCredentials are the credentials' keys a stack with Elasticsearch
// security lacks, by full key (none without security).
func MissingCredentials(values map[string]Value, o observability.Args) []string {
	if !o.Elasticsearch.Security {
		return nil
	}
	return missingKeys(values, credentialKeys)
}

// observabilityArgs are the component's arguments with what the program
// fills: the services as the senders of traces, and the secrets.
func (c *Config) observabilityArgs() observability.Args {
	args := *c.Observability
	args.DNS = c.Kubernetes.DNS
	args.TelemetryFrom = nil
	for _, s := range c.Services {
		args.TelemetryFrom = append(args.TelemetryFrom, s.NamespaceName())
	}
	if _, ok := c.Secrets[ElasticPasswordKey]; ok {
		args.ElasticPassword = c.secret(ElasticPasswordKey)
	}
	if c.hasSecrets(credentialKeys...) {
		args.Credentials = &observability.Credentials{
			KibanaSystem: c.secret(KibanaSystemPasswordKey), LogstashWriter: c.secret(LogstashWriterPasswordKey), JaegerWriter: c.secret(JaegerWriterPasswordKey),
			SavedObjectsKey: c.secret(KibanaSavedObjectsKeyKey), SecurityKey: c.secret(KibanaSecurityKeyKey), ReportingKey: c.secret(KibanaReportingKeyKey),
		}
	}
	if c.hasSecrets(uiAuthKeys...) {
		args.UIAuth = &observability.UIAuth{PasswordHash: c.secret(JaegerUIPasswordHashKey), CookieSecret: c.secret(JaegerUICookieSecretKey)}
	}
	if c.hasSecrets(certificateKeys...) {
		args.TLS = &observability.TLS{CA: c.secret(ObservabilityCAKey)}
		for _, p := range keyPairs {
			*p.arg(args.TLS) = observability.KeyPair{Certificate: c.secret(p.certificate), Key: c.secret(p.key)}
		}
	}
	return args
}

// requiredSecretKeys are the secret keys the observability config needs.
func requiredSecretKeys(o observability.Args) []string {
	keys := slices.Clone(uiAuthKeys)
	if o.Elasticsearch.Security {
		keys = append(keys, ElasticPasswordKey)
		keys = append(keys, credentialKeys...)
	}
	if NeedsCertificates(o) {
		keys = append(keys, certificateKeys...)
	}
	return keys
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
	if !c.hasSecrets(requiredSecretKeys(args)...) {
		return // the secrets' own problems say it better
	}
	problems.Nest(key("observability"), args.Validate())
	if !observability.IsPasswordHash(c.Secrets[JaegerUIPasswordHashKey].Reveal()) {
		problems.Add(key(JaegerUIPasswordHashKey), Secret{}, "must be a bcrypt hash ($2a$, $2b$ or $2y$): `platform certs --stack <stack>` makes one with its password, after the key is removed")
	}
	if !observability.IsCookieSecret(c.Secrets[JaegerUICookieSecretKey].Reveal()) {
		problems.Add(key(JaegerUICookieSecretKey), Secret{}, "must be 16, 24 or 32 bytes long (the proxy's cookie cipher): `platform certs --stack <stack>` makes one, after the key is removed")
	}
	if NeedsCertificates(args) {
		if err := c.certificates().Check(args.Scope(), time.Now()); err != nil {
			problems.Add(key(ObservabilityCAKey), Secret{}, "the certificates: "+err.Error()+": make new ones with `platform certs --stack <stack> --renew`")
		}
	}
}

// certificates are the TLS material from the stack's secrets.
func (c *Config) certificates() observability.Certificates {
	return certificatesOf(func(k string) string { return c.Secrets[k].Reveal() })
}

// certificatesOf reads the TLS material through value, by config key name.
func certificatesOf(value func(key string) string) observability.Certificates {
	certs := observability.Certificates{CA: value(ObservabilityCAKey), CAKey: value(ObservabilityCAKeyKey)}
	for _, p := range keyPairs {
		*p.made(&certs) = pki.KeyPair{Certificate: value(p.certificate), Key: value(p.key)}
	}
	return certs
}

// Findings are what a stack's config says needs an operator soon, though
// runs go on: certificates due for renewal. The drift check reports them.
func (c *Config) Findings(now time.Time) []string {
	if o := c.Observability; o == nil || !NeedsCertificates(*o) {
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
	if err := checkAgainstLastRun(ctx, &args); err != nil {
		return nil, nil, err
	}
	o, err := observability.NewObservability(ctx, "observability", args, provider)
	if err != nil {
		return nil, nil, err
	}
	telemetry := &workload.Telemetry{Endpoint: o.OTLPEndpoint, Namespace: args.Namespace, Port: observability.OTLPHTTPPort}
	outputs, err := component.Outputs(o)
	return telemetry, outputs, err
}

// checkAgainstLastRun hands the component what the stack's last run deployed
// (its output observability.deployed) and refuses, under the full config
// keys, the changes a running stateful part cannot take.
func checkAgainstLastRun(ctx *pulumi.Context, args *observability.Args) error {
	last, err := component.LastOutput(ctx, "observability-last-run", "observability")
	if err != nil {
		return err
	}
	outputs, _ := last.(map[string]any)
	if args.Deployed, err = observability.DeployedFrom(outputs["deployed"]); err != nil {
		return err
	}
	var problems validate.Problems
	problems.Nest(key("observability"), args.Validate())
	return problems.Err()
}

// ObservabilityOf decodes only what the certificates of a stack depend on:
// its environment and platform:observability over the environment's
// profile. The whole config cannot load before the certificates exist, so
// `platform certs` reads this. nil: the stack has no observability stack.
func ObservabilityOf(values map[string]Value) (*observability.Args, error) {
	raw, ok := values[key("observability")]
	if !ok {
		return nil, nil
	}
	environment := values[key("environment")].Raw
	o := observability.Profile(environment)
	var problems validate.Problems
	decode(map[string]Value{"observability": raw}, "observability", &o, &problems)
	if cluster, ok := values[key("kubernetes")]; ok {
		k := kube.ClusterProfile(environment)
		decode(map[string]Value{"kubernetes": cluster}, "kubernetes", &k, &problems)
		o.DNS = k.DNS
	}
	return &o, problems.Err()
}

// NeedsCertificates says whether the observability stack runs TLS:
// Elasticsearch security or Kafka TLS is on.
func NeedsCertificates(o observability.Args) bool {
	return o.Elasticsearch.Security || o.Kafka.TLS
}

// CertificatesOf reads the TLS material a stack's config holds.
func CertificatesOf(values map[string]Value) observability.Certificates {
	return certificatesOf(func(k string) string { return values[key(k)].Raw })
}

// CertificateConfig is the config, by full key, that stores certs in a stack.
func CertificateConfig(certs observability.Certificates) map[string]string {
	config := map[string]string{key(ObservabilityCAKey): certs.CA}
	for _, p := range keyPairs {
		pair := p.made(&certs)
		config[key(p.certificate)], config[key(p.key)] = pair.Certificate, pair.Key
	}
	if certs.CAKey != "" {
		config[key(ObservabilityCAKeyKey)] = certs.CAKey
	}
	return config
}
