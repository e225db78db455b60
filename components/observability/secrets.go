package observability

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
)

// derive returns a secret derived from the elastic password for one purpose
// (a user's password, an encryption key): 43 URL-safe characters, the same on
// every run, and a Pulumi secret like its source.
func derive(master pulumi.StringInput, purpose string) pulumi.StringOutput {
	derived := master.ToStringOutput().ApplyT(func(m string) string {
		mac := hmac.New(sha256.New, []byte(m))
		mac.Write([]byte("platform/observability/" + purpose))
		return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}).(pulumi.StringOutput)
	return pulumi.ToSecret(derived).(pulumi.StringOutput)
}

// stableID is 16 bytes derived from seed, in URL-safe base64 (22 characters).
func stableID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// heapOptions gives a JVM half of the container's memory, the rest going to
// the page cache and off-heap buffers.
func heapOptions(memory string) string {
	q := resource.MustParse(memory)
	mib := q.Value() / (1 << 20) / 2
	return fmt.Sprintf("-Xms%dm -Xmx%dm", mib, mib)
}

// ninetyPercent of a quantity, in whole MiB, for a size that must leave room
// on its volume.
func ninetyPercent(size string) string {
	q := resource.MustParse(size)
	return fmt.Sprintf("%dmb", q.Value()*9/10/(1<<20))
}
