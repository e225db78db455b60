package policy

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/stacks"
)

// NewCertificateConfig makes the stack's TLS material (the CA, and
// Elasticsearch's and Kafka's certificates and keys) and the credentials it
// lacks (observability.Credentials, Jaeger's UI credentials), keyed by full
// config key, to be stored as secrets. It refuses a stack that needs none of
// them, and keeps certificates that are good and not due for renewal
// unless renew is set. It reads only what the certificates depend on, as the
// stack cannot load without them.
func NewCertificateConfig(config auto.ConfigMap, renew bool, days int, now time.Time) (map[string]string, error) {
	values := Values(config)
	o, err := stacks.ObservabilityOf(values)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("%s:observability is not set: this stack has no observability stack", stacks.Namespace)
	}
	// Each credential the stack lacks, made once: one removed is rotated
	// alone, and --renew leaves them (they are no certificates).
	made, err := newUIAuth(values)
	if err != nil {
		return nil, err
	}
	if !stacks.NeedsCertificates(*o) {
		if len(made) > 0 {
			return made, nil
		}
		env := values[stacks.Namespace+":environment"].Raw
		return nil, fmt.Errorf("Elasticsearch security and Kafka TLS are off in this stack (%s:environment %s): it needs no certificates, and Jaeger's UI has its credentials", stacks.Namespace, env)
	}
	for _, k := range stacks.MissingCredentials(values, *o) {
		if made[k], err = observability.NewCredential(); err != nil {
			return nil, err
		}
	}
	current := stacks.CertificatesOf(values)
	if !renew && current.CA != "" && current.Check(o.Scope(), now) == nil && current.RenewalDue(now) == "" {
		if len(made) > 0 {
			return made, nil
		}
		return nil, ErrCertificatesValid
	}
	// A stack with a CA keeps it: a new one would split each cluster while
	// its members roll onto it (RotateCAConfig changes it without).
	var certs observability.Certificates
	if current.CA == "" {
		certs, err = observability.NewCertificates(o.Scope(), days, now)
	} else {
		certs, err = current.Renew(o.Scope(), days, now)
	}
	if err != nil {
		return nil, err
	}
	maps.Copy(made, stacks.CertificateConfig(certs))
	return made, nil
}

// RotateCAConfig takes the next step of the stack's CA rotation
// (observability.Certificates.RotateCA): the config it changes, keyed by
// full config key, and what the step did and what comes next.
func RotateCAConfig(config auto.ConfigMap, days int, now time.Time) (map[string]string, string, error) {
	values := Values(config)
	o, err := stacks.ObservabilityOf(values)
	if err != nil {
		return nil, "", err
	}
	current := stacks.CertificatesOf(values)
	if o == nil || current.CA == "" {
		return nil, "", errors.New("this stack has no CA to rotate: `platform certs` makes one")
	}
	certs, step, err := current.RotateCA(o.Scope(), days, now)
	if err != nil {
		return nil, "", err
	}
	// Only what the step changes: each key stored is a run of the CLI.
	changed := stacks.CertificateConfig(certs)
	maps.DeleteFunc(changed, func(k, v string) bool { return values[k].Raw == v })
	return changed, step, nil
}

// ErrCertificatesValid says the stack's certificates are good and not due
// for renewal.
var ErrCertificatesValid = errors.New("the stack's certificates are valid for more than 30 days: nothing to do (--renew replaces them)")

// newUIAuth makes the Jaeger UI credentials the stack lacks: a new password
// with its hash when the hash is missing (the program reads only the hash;
// removing it rotates the password), a new cookie key when it is missing.
func newUIAuth(values map[string]stacks.Value) (map[string]string, error) {
	made := map[string]string{}
	for _, k := range stacks.MissingUIAuth(values) {
		var err error
		switch k {
		case stacks.Namespace + ":" + stacks.JaegerUIPasswordHashKey:
			var password, hash string
			password, hash, err = observability.NewUIPassword()
			made[stacks.Namespace+":"+stacks.JaegerUIPasswordKey], made[k] = password, hash
		default:
			made[k], err = observability.NewCookieSecret()
		}
		if err != nil {
			return nil, err
		}
	}
	return made, nil
}
