package kube

import (
	"maps"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/validate"
)

// NamespacePeer selects every pod of a namespace.
func NamespacePeer(namespace string) *networkingv1.NetworkPolicyPeerArgs {
	return &networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: namespaceSelector(namespace)}
}

// PodsPeer selects the pods with the given labels in a namespace.
func PodsPeer(namespace string, labels pulumi.StringMap) *networkingv1.NetworkPolicyPeerArgs {
	return &networkingv1.NetworkPolicyPeerArgs{
		NamespaceSelector: namespaceSelector(namespace),
		PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: labels},
	}
}

func namespaceSelector(namespace string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
		"kubernetes.io/metadata.name": pulumi.String(namespace),
	}}
}

// TCPPorts lists TCP ports for a policy rule.
func TCPPorts(ports ...int) networkingv1.NetworkPolicyPortArray {
	out := networkingv1.NetworkPolicyPortArray{}
	for _, p := range ports {
		out = append(out, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
	}
	return out
}

// NodeLocalDNS is the address NodeLocal DNSCache listens on by default: a
// link-local address on every node, served by a hostNetwork pod that no pod
// selector can name (kubernetes/kubernetes cluster/addons/dns/nodelocaldns
// README: "a link local ip (169.254.20.10/32 by default)", and its note that
// clusters with network policies need a rule for it). GKE Autopilot runs it
// by default.
const NodeLocalDNS = "169.254.20.10/32"

// DNSEgress allows name lookups on port 53, UDP and TCP: to the cluster DNS
// pods (labelled k8s-app=kube-dns, as CoreDNS's and kube-dns's manifests
// label them), and to NodeLocal DNSCache's address, so that lookups work
// whichever of the two a node's resolv.conf names.
func DNSEgress() *networkingv1.NetworkPolicyEgressRuleArgs {
	return &networkingv1.NetworkPolicyEgressRuleArgs{
		To: networkingv1.NetworkPolicyPeerArray{
			PodsPeer("kube-system", pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}),
			&networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(NodeLocalDNS)}},
		},
		Ports: networkingv1.NetworkPolicyPortArray{
			&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
			&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
		},
	}
}

// Spec routes every path of the host to the named port of a Service,
// through the ingress class (empty: the cluster's default), over TLS with
// the host's certificate.
func (in Ingress) Spec(service pulumi.StringInput, port string) *networkingv1.IngressSpecArgs {
	var class pulumi.StringPtrInput
	if in.ClassName != "" {
		class = pulumi.String(in.ClassName)
	}
	secret := pulumi.StringInput(pulumi.String(in.TLSSecret))
	if in.TLSSecret == "" {
		secret = pulumi.Sprintf("%s-tls", service)
	}
	return &networkingv1.IngressSpecArgs{
		IngressClassName: class,
		Tls: networkingv1.IngressTLSArray{&networkingv1.IngressTLSArgs{
			Hosts: pulumi.StringArray{pulumi.String(in.Host)}, SecretName: secret,
		}},
		Rules: networkingv1.IngressRuleArray{&networkingv1.IngressRuleArgs{
			Host: pulumi.String(in.Host),
			Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: networkingv1.HTTPIngressPathArray{
				&networkingv1.HTTPIngressPathArgs{
					Path: pulumi.String("/"), PathType: pulumi.String("Prefix"),
					Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
						Name: service,
						Port: &networkingv1.ServiceBackendPortArgs{Name: pulumi.String(port)},
					}},
				},
			}},
		}},
	}
}

// Annotations ask cert-manager for the host's certificate when a
// ClusterIssuer is named (cert-manager's ingress-shim reads
// cert-manager.io/cluster-issuer and the tls section).
func (in Ingress) Annotations(base pulumi.StringMap) pulumi.StringMap {
	out := pulumi.StringMap{}
	maps.Copy(out, base)
	if in.ClusterIssuer != "" {
		out["cert-manager.io/cluster-issuer"] = pulumi.String(in.ClusterIssuer)
	}
	return out
}

// Validate reports what is wrong with an ingress, by key under it.
func (in Ingress) Validate() validate.Problems {
	var p validate.Problems
	if !IsHostName(in.Host) {
		p.Add("host", in.Host, "must be a DNS name")
	}
	if in.ControllerNamespace != "" && !IsDNSLabel(in.ControllerNamespace) {
		p.Add("controllerNamespace", in.ControllerNamespace, "must be a namespace name")
	}
	// An object's name is a DNS subdomain, the same syntax as a host name.
	if in.ClusterIssuer != "" && !IsHostName(in.ClusterIssuer) {
		p.Add("clusterIssuer", in.ClusterIssuer, "must be a ClusterIssuer's name (a DNS subdomain)")
	}
	if in.TLSSecret != "" && !IsHostName(in.TLSSecret) {
		p.Add("tlsSecret", in.TLSSecret, "must be a Secret's name (a DNS subdomain)")
	}
	return p
}
