package plugin

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/image"
	"github.com/acme/platform/components/repository"
	"github.com/acme/platform/components/workload"
	"github.com/acme/platform/internal/validate"
)

// secretConfig reads the secret config keys that keys names (by what they
// are the value of) from the calling program's stack config, in its
// project's namespace: `pulumi config set --secret <key>` in that program.
// Every value stays a Pulumi secret.
func secretConfig(ctx *pulumi.Context, path string, keys map[string]string, p *validate.Problems) map[string]pulumi.StringInput {
	if len(keys) == 0 {
		return nil
	}
	values := map[string]pulumi.StringInput{}
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		if v, ok := secretValue(ctx, path+"."+name, keys[name], p); ok {
			values[name] = v
		}
	}
	return values
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

func fillWorkload(ctx *pulumi.Context, a *workload.Args, p *validate.Problems) {
	a.Secrets = secretConfig(ctx, "secretEnv", a.SecretEnv, p)
}

func fillRepository(ctx *pulumi.Context, a *repository.Args, p *validate.Problems) {
	a.SecretValues = secretConfig(ctx, "secrets", a.Secrets, p)
	a.Environments = slices.Clone(a.Environments)
	for i, e := range a.Environments {
		a.Environments[i].SecretValues = secretConfig(ctx, fmt.Sprintf("environments[%d].secrets", i), e.Secrets, p)
	}
}

func fillImage(ctx *pulumi.Context, a *image.Args, p *validate.Problems) {
	if a.Build != nil && a.Build.PasswordSecret != "" {
		a.Password, _ = secretValue(ctx, "build.passwordSecret", a.Build.PasswordSecret, p)
	}
}
