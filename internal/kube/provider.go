package kube

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/validate"
)

// Cluster is config key platform:kubernetes: the cluster a stack deploys to,
// and how fast the provider may talk to its API server.
type Cluster struct {
	// Kubeconfig is a kubeconfig file, relative to the project root, or empty
	// for the ambient one (KUBECONFIG or ~/.kube/config).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context in the kubeconfig; empty for its current context.
	Context string `json:"context,omitempty"`
	// Client is the provider's client rate limit and request timeout.
	Client Client `json:"client"`
	// DNS is how the cluster's pods look names up.
	DNS DNS `json:"dns"`
}

// Client is the Kubernetes provider's client settings (kubeClientSettings).
// The provider's own default, 50 requests per second, is what limits a
// refresh of hundreds of objects (a drift check): 200 makes the check of 40
// services 3.5 times faster on the local cluster (make bench -only scale).
type Client struct {
	// QPS is the sustained requests per second (default 200; prod 100, as a
	// real API server's priority and fairness shares its capacity with every
	// other client: lower it where the cluster's flow schema asks).
	QPS float64 `json:"qps,omitempty"`
	// Burst is how many requests may go at once above QPS (default QPS).
	Burst int `json:"burst,omitempty"`
	// TimeoutSeconds bounds one request (default 32, the provider's).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// ClusterProfile returns the defaults of an environment's platform:kubernetes
// (dev, prod or local; any other gets dev's): the one table of them.
func ClusterProfile(environment string) Cluster {
	if environment == component.Prod {
		return Cluster{Client: Client{QPS: 100, Burst: 100, TimeoutSeconds: 32}}
	}
	return Cluster{Client: Client{QPS: 200, Burst: 200, TimeoutSeconds: 32}}
}

// Validate reports what is wrong with the client settings, at their config
// paths below platform:kubernetes.
func (c Cluster) Validate() validate.Problems {
	var p validate.Problems
	if c.Client.QPS < 1 || c.Client.QPS > 10000 {
		p.Add("client.qps", c.Client.QPS, "must be from 1 to 10000 requests per second")
	}
	if c.Client.Burst < 1 || c.Client.Burst > 10000 {
		p.Add("client.burst", c.Client.Burst, "must be from 1 to 10000 requests")
	}
	if c.Client.TimeoutSeconds < 1 || c.Client.TimeoutSeconds > 600 {
		p.Add("client.timeoutSeconds", c.Client.TimeoutSeconds, "must be from 1 to 600 seconds")
	}
	p.Nest("dns", c.DNS.Validate())
	return p
}

// NewProvider declares the explicit Kubernetes provider of a cluster: a
// kubeconfig file (empty: the ambient KUBECONFIG or ~/.kube/config), a
// context in it (empty: its current context) and the client settings (zero:
// the provider's). Declaring providers here keeps the SDK's types out of the
// packages that only wire components (stacks), so an edit there recompiles
// without loading them.
func NewProvider(ctx *pulumi.Context, name string, cluster Cluster) (pulumi.ProviderResource, error) {
	args := &kubernetes.ProviderArgs{}
	if cluster.Kubeconfig != "" {
		args.Kubeconfig = pulumi.String(cluster.Kubeconfig)
	}
	if cluster.Context != "" {
		args.Context = pulumi.String(cluster.Context)
	}
	if c := cluster.Client; c != (Client{}) {
		args.KubeClientSettings = &kubernetes.KubeClientSettingsArgs{
			Qps: pulumi.Float64(c.QPS), Burst: pulumi.Int(c.Burst), Timeout: pulumi.Int(c.TimeoutSeconds),
		}
	}
	return kubernetes.NewProvider(ctx, name, args)
}
