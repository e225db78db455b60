package observability

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// derive returns a secret derived from the elastic password for one purpose
// (a user's password, an encryption key): 43 URL-safe characters, the same on
// every run, and a Pulumi secret like its source.
func derive(master pulumi.StringInput, purpose string) pulumi.StringOutput {
	derived := master.ToStringOutput().ApplyT(func(m string) string { return deriveValue(m, purpose) }).(pulumi.StringOutput)
	return pulumi.ToSecret(derived).(pulumi.StringOutput)
}

// deriveValue is HMAC-SHA256(master, purpose) in URL-safe base64.
func deriveValue(master, purpose string) string {
	mac := hmac.New(sha256.New, []byte(master))
	mac.Write([]byte("platform/observability/" + purpose))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
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
