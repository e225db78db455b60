package repository

import (
	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewProvider declares the explicit GitHub provider of an owner
// (organization or user). A nil token leaves the provider to read
// GITHUB_TOKEN; a given one must be a Pulumi secret.
func NewProvider(ctx *pulumi.Context, name, owner string, token pulumi.StringInput) (pulumi.ProviderResource, error) {
	args := &github.ProviderArgs{Owner: pulumi.String(owner)}
	if token != nil {
		args.Token = pulumi.ToSecret(token).(pulumi.StringOutput)
	}
	return github.NewProvider(ctx, name, args)
}
