package plugin

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/validate"
)

// callerSecrets looks up secret config keys in the calling program's stack
// config, in its project's namespace (`pulumi config set --secret <key>` in
// that program), reporting each one that is unset or not a secret. Every
// value stays a Pulumi secret.
func callerSecrets(ctx *pulumi.Context, p *validate.Problems) component.SecretLookup {
	return func(path, key string) (pulumi.StringInput, bool) { return secretValue(ctx, path, key, p) }
}

// secretValue reads one secret config key of the calling program.
func secretValue(ctx *pulumi.Context, path, key string, p *validate.Problems) (pulumi.StringInput, bool) {
	full := ctx.Project() + ":" + key
	value, ok := ctx.GetConfig(full)
	switch {
	case !ok:
		p.Add(path, key, fmt.Sprintf("names config key %s, which is not set: set it with `pulumi config set --secret %s`", full, key))
	case !ctx.IsConfigSecret(full):
		p.Add(path, key, fmt.Sprintf("names config key %s, which is not a secret: set it again with `pulumi config set --secret %s`", full, key))
	default:
		return pulumi.ToSecret(pulumi.String(value)).(pulumi.StringOutput), true
	}
	return nil, false
}
