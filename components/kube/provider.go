package kube

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewProvider declares the explicit Kubernetes provider of a cluster: a
// kubeconfig file (empty: the ambient KUBECONFIG or ~/.kube/config) and a
// context in it (empty: its current context). Declaring providers here keeps
// the SDK's types out of the packages that only wire components (stacks), so
// an edit there recompiles without loading them.
func NewProvider(ctx *pulumi.Context, name, kubeconfig, context string) (pulumi.ProviderResource, error) {
	args := &kubernetes.ProviderArgs{}
	if kubeconfig != "" {
		args.Kubeconfig = pulumi.String(kubeconfig)
	}
	if context != "" {
		args.Context = pulumi.String(context)
	}
	return kubernetes.NewProvider(ctx, name, args)
}
