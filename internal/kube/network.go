package kube

import (
	"maps"
	"net/netip"

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

// DNS is how the cluster's pods look names up (platform:kubernetes.dns):
// every default-deny policy allows it, and every in-cluster name ends with
// its domain. Zero values take the defaults.
type DNS struct {
	// Domain is the cluster's DNS domain (the kubelet's --cluster-domain;
	// default cluster.local).
	Domain string `json:"domain,omitempty"`
	// NodeLocal is the address NodeLocal DNSCache listens on (default
	// 169.254.20.10: the nodelocaldns README's "link local ip"). It runs in
	// hostNetwork pods, which no pod selector can name, so the policies
	// allow it by address (that README's note on network policies); GKE
	// Autopilot runs it by default. Where it does not run, the rule allows
	// an address nothing answers on.
	NodeLocal string `json:"nodeLocal,omitempty"`
}

// Default values of DNS.
const (
	DefaultClusterDomain = "cluster.local"
	DefaultNodeLocalDNS  = "169.254.20.10"
)

// WithDefaults fills the unset fields.
func (d DNS) WithDefaults() DNS {
	if d.Domain == "" {
		d.Domain = DefaultClusterDomain
	}
	if d.NodeLocal == "" {
		d.NodeLocal = DefaultNodeLocalDNS
	}
	return d
}

// Validate reports what is wrong, at the paths below platform:kubernetes.dns.
func (d DNS) Validate() validate.Problems {
	var p validate.Problems
	if d.Domain != "" && !IsHostName(d.Domain) {
		p.Add("domain", d.Domain, "must be a DNS name such as cluster.local (the kubelet's --cluster-domain)")
	}
	if d.NodeLocal != "" {
		if ip, err := netip.ParseAddr(d.NodeLocal); err != nil || ip.Zone() != "" {
			p.Add("nodeLocal", d.NodeLocal, "must be an IP address, such as 169.254.20.10 (NodeLocal DNSCache's)")
		}
	}
	return p
}

// ServiceHost is the cluster DNS name of a Service (or of a pod behind a
// headless Service, "pod.service").
func (d DNS) ServiceHost(service, namespace string) string {
	return service + "." + namespace + ".svc." + d.WithDefaults().Domain
}

// Egress allows name lookups on port 53, UDP and TCP: to the cluster DNS
// pods (labelled k8s-app=kube-dns, as CoreDNS's and kube-dns's manifests
// label them), and to NodeLocal DNSCache's address, so that lookups work
// whichever of the two a node's resolv.conf names.
func (d DNS) Egress() *networkingv1.NetworkPolicyEgressRuleArgs {
	ip := netip.MustParseAddr(d.WithDefaults().NodeLocal)
	return &networkingv1.NetworkPolicyEgressRuleArgs{
		To: networkingv1.NetworkPolicyPeerArray{
			PodsPeer("kube-system", pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}),
			&networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(netip.PrefixFrom(ip, ip.BitLen()).String())}},
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
