package kube

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is a namespace the platform creates for one part of itself.
type Namespace struct {
	Name string
	// PodSecurity is the Pod Security level enforced, audited and warned
	// about: "restricted" unless the pods need more (hostPath: "privileged").
	PodSecurity string
	// Labels are the owner's labels; the Pod Security labels are added.
	Labels pulumi.StringMap
	// Protect guards it against deletion (prod): deleting a namespace deletes
	// everything in it.
	Protect bool
}

// NewNamespace creates the namespace with a policy that denies all ingress
// and egress not allowed explicitly by another policy. Objects created in it
// should be DeletedWith it: a destroy then deletes one namespace rather than
// walking every object.
func NewNamespace(ctx *pulumi.Context, name string, ns Namespace, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	labels := pulumi.StringMap{}
	for k, v := range ns.Labels {
		labels[k] = v
	}
	for k, v := range PodSecurityLabels(ns.PodSecurity) {
		labels[k] = v
	}
	created, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{
		Name: pulumi.String(ns.Name), Labels: labels, Annotations: OwnerAnnotations(),
	}}, append(opts, pulumi.Protect(ns.Protect))...)
	if err != nil {
		return nil, err
	}
	_, err = networkingv1.NewNetworkPolicy(ctx, name+"-default-deny", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("default-deny"), Namespace: pulumi.String(ns.Name),
			Labels: ns.Labels, Annotations: OwnerAnnotations(),
		},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		},
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{created}), pulumi.DeletedWith(created))...)
	if err != nil {
		return nil, err
	}
	return created, nil
}
