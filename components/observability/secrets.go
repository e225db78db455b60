package observability

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Credentials are the service users' passwords and Kibana's encryption
// keys: each a random secret of its own (NewCredential makes one; `platform
// certs` stores them as secret config), required when Elasticsearch
// security is on. Reading one (Jaeger's password, in a Jaeger pod) tells nothing of
// any other or of the elastic user's, and rotating one, or the elastic
// password, changes nothing else: Kibana's encrypted saved objects stay
// readable.
type Credentials struct {
	// KibanaSystem, LogstashWriter and JaegerWriter are the passwords of the
	// users kibana_system, logstash_writer and jaeger_writer.
	KibanaSystem, LogstashWriter, JaegerWriter pulumi.StringInput
	// Kibana's encryption keys: of its saved objects, its sessions, its reports.
	SavedObjectsKey, SecurityKey, ReportingKey pulumi.StringInput
}

// password is a service user's password.
func (c Credentials) password(user string) pulumi.StringOutput {
	p := map[string]pulumi.StringInput{kibanaUser: c.KibanaSystem, logstashUser: c.LogstashWriter, jaegerUser: c.JaegerWriter}[user]
	return pulumi.ToSecret(p).(pulumi.StringOutput)
}

func (c Credentials) complete() bool {
	for _, v := range []pulumi.StringInput{c.KibanaSystem, c.LogstashWriter, c.JaegerWriter, c.SavedObjectsKey, c.SecurityKey, c.ReportingKey} {
		if v == nil {
			return false
		}
	}
	return true
}

// NewCredential is a random secret for one credential: 32 random bytes in
// URL-safe base64 (43 characters: Kibana's keys need 32 at least; no quote
// or backslash, so it needs no escaping in a config or a JSON body).
func NewCredential() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// stableID is 16 bytes derived from seed, in URL-safe base64 (22 characters).
// It never starts with '-', which a command line would read as an option
// (Kafka's own Uuid.randomUuid avoids such ids for that reason): where the
// hash's first character would be '-', its top bit is cleared; every other
// id stays as it was, so existing clusters keep theirs.
func stableID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	id := base64.RawURLEncoding.EncodeToString(sum[:16])
	if id[0] == '-' {
		sum[0] &= 0x7f
		id = base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	return id
}
