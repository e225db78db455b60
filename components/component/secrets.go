package component

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SecretLookup finds the value of the secret config key that an argument at
// path names, as a Pulumi secret; ok is false when there is none (the lookup
// says why, where it reports problems). The Go program looks keys up in the
// stack's validated config, the package's plugin in its caller's config:
// each component's Args.WithSecrets is the one way they fill arguments.
type SecretLookup func(path, key string) (value pulumi.StringInput, ok bool)

// SecretValues looks up the secret config keys that refs names, by name
// (nil when refs is empty); path is where refs sits in the arguments.
func SecretValues(lookup SecretLookup, path string, refs map[string]string) map[string]pulumi.StringInput {
	if len(refs) == 0 {
		return nil
	}
	values := map[string]pulumi.StringInput{}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if v, ok := lookup(path+"."+name, refs[name]); ok {
			values[name] = v
		}
	}
	return values
}
