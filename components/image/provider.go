package image

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewProvider declares the explicit Docker provider of image builds (the
// engine of DOCKER_HOST).
func NewProvider(ctx *pulumi.Context, name string) (pulumi.ProviderResource, error) {
	return docker.NewProvider(ctx, name, &docker.ProviderArgs{})
}
