package observability

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/bcrypt"
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
func NewCredential() (string, error) { return randomSecret(32) }

// randomSecret is n random bytes in URL-safe base64 without padding.
func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// UIUser is the user that signs in to Jaeger's UI.
const UIUser = "ops"

// UIAuth is what the proxy in front of Jaeger's UI checks (Jaeger has no
// authentication of its own): the bcrypt hash of UIUser's password and the
// key of its session cookies, as Pulumi secrets. `platform certs` makes
// them once with the password (NewUIPassword), which the program never
// reads; each is stored as secret config.
type UIAuth struct {
	PasswordHash, CookieSecret pulumi.StringInput
}

func (u *UIAuth) complete() bool {
	return u != nil && u.PasswordHash != nil && u.CookieSecret != nil
}

// NewUIPassword is a random password for UIUser and its bcrypt hash, which
// OAuth2 Proxy's htpasswd file takes (oauth2-proxy v7.15.6,
// pkg/authentication/basic/htpasswd.go: SHA1 or bcrypt entries only).
func NewUIPassword() (password, hash string, err error) {
	if password, err = NewCredential(); err != nil {
		return "", "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return password, string(h), err
}

// NewCookieSecret is a key for the proxy's session cookies: 24 random bytes
// in URL-safe base64, 32 characters. The proxy takes a key file's bytes as
// they are, and needs 16, 24 or 32 of them (oauth2-proxy v7.15.6,
// pkg/validation/cookie.go).
func NewCookieSecret() (string, error) { return randomSecret(24) }

// IsCookieSecret says whether the proxy takes secret as its cookie key.
func IsCookieSecret(secret string) bool {
	return len(secret) == 16 || len(secret) == 24 || len(secret) == 32
}

// IsPasswordHash says whether hash is a bcrypt hash the proxy accepts.
func IsPasswordHash(hash string) bool {
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return false
	}
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
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
