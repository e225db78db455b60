//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/testbed/localcluster"
)

// policyCell is one connection the stack's policies decide, tried for real
// from a client pod on the real node.
type policyCell struct {
	// name says what the cell proves, for the report.
	name string
	// namespace and labels are the client pod's: role=e2e-client may
	// reach anything (ingress cells); a policy's own selector makes the pod
	// a stand-in of the pods it guards (egress cells).
	namespace string
	labels    map[string]string
	// args ask the client: -tcp host:port, or -lookup name.
	args    []string
	allowed bool
}

// standIn says whether the cell's client stands for pods a policy of the
// stack guards (its labels are not the suite's client's).
func (c policyCell) standIn() bool { return c.labels["role"] != "e2e-client" }

// outsider is a namespace no policy of the stack names.
const outsider = "e2e-outsider"

// testPoliciesHold: the stack's NetworkPolicies are enforced on the real
// node (kube-router's policy controller, beside the bridge plugin). The
// matrix is generated from the policies themselves (policyMatrix): every
// rule of every policy whose pods run on the real node (the greeter's,
// Jaeger's) gets its cells, each a real connection with a 2 s timeout, all
// run at once; then a mutation: with the ingress rule removed from the
// greeter's policy, its allowed cell fails, and passes again once the rule
// is back.
func testPoliciesHold(t *testing.T) {
	requireRealNode(t)
	kubectl(t, "create", "namespace", outsider)
	t.Cleanup(func() { _, _ = env.cluster.Kubectl(t.Context(), nil, "delete", "namespace", outsider, "--wait=false") })
	listener := hostListener(t)
	kubeDNSPod(t)
	cells := policyMatrix(t, listener)
	// The listener answers where no policy applies: its denied cells
	// prove the policy, not a missing server.
	cells = append(cells, policyCell{name: "outsider → a listener on the node (no policy applies)", namespace: outsider,
		labels: map[string]string{"role": "e2e-client"}, args: []string{"-tcp", listener}, allowed: true})
	runCells(t, cells)

	const policy = "networkpolicy/greeter" // the workload's own; default-deny is the namespace's
	ingress := kubectl(t, "-n", "greeter", "get", policy, "-o", "jsonpath={.spec.ingress}")
	mark := env.cluster.PolicySyncs()
	kubectl(t, "-n", "greeter", "patch", policy, "--type=json", "-p", `[{"op":"remove","path":"/spec/ingress"}]`)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			kubectl(t, "-n", "greeter", "patch", policy, "--type=json", "-p", `[{"op":"add","path":"/spec/ingress","value":`+string(ingress)+`}]`)
		}
	}
	t.Cleanup(restore)
	if err := env.cluster.WaitPolicySync(t.Context(), mark); err != nil {
		t.Fatal(err)
	}
	target := podTarget(t, "greeter", "greeter", 8080)
	mutated := policyCell{name: "greeter ← greeter's namespace, its ingress rule removed (mutation)", namespace: "greeter",
		labels: map[string]string{"role": "e2e-client"}, args: []string{"-tcp", target}}
	if results := runCells(t, []policyCell{mutated}); results[0] {
		t.Errorf("the mutation went unnoticed: with the ingress rule removed, the greeter's namespace still connects")
	}
	restore()
	mutated.name, mutated.allowed = "greeter ← greeter's namespace, its ingress rule back", true
	runCells(t, []policyCell{mutated})
}

// policyMatrix reads the NetworkPolicies of the stack's namespaces and
// makes the cells of each that selects a pod on the real node: per ingress
// rule and port, a client from each peer's namespace (allowed) and one from
// outsider (denied); per egress rule, the policy's stand-in to each peer
// (a lookup for port 53; a connection to a pod on the real node that
// listens on the port), and once to a listener on the node that no rule
// names (denied). Peers it cannot try here are logged, not dropped.
func policyMatrix(t *testing.T, listener string) []policyCell {
	var list struct {
		Items []netpol `json:"items"`
	}
	if err := json.Unmarshal(kubectl(t, "get", "networkpolicies", "-A", "-l", "app.kubernetes.io/managed-by=pulumi", "-o", "json"), &list); err != nil {
		t.Fatal(err)
	}
	var cells []policyCell
	for _, p := range list.Items {
		selector := p.Spec.PodSelector.MatchLabels
		if len(selector) == 0 {
			continue // the namespace's default-deny: what the others leave out, it denies
		}
		pod, ok := realNodePod(t, p.Metadata.Namespace, selector)
		if !ok {
			t.Logf("policy %s/%s: its pods are kwok's, checked as objects only", p.Metadata.Namespace, p.Metadata.Name)
			continue
		}
		who := p.Metadata.Namespace + "/" + p.Metadata.Name
		client := map[string]string{"role": "e2e-client"}
		for _, rule := range p.Spec.Ingress {
			for _, port := range rule.Ports {
				target := net.JoinHostPort(pod.ip, strconv.Itoa(port.Port))
				for _, peer := range rule.From {
					namespace, ok := peer.namespace(p.Metadata.Namespace)
					if !ok {
						t.Logf("%s: ingress from %s is not tried here (no pod can stand for it)", who, peer)
						continue
					}
					ensureNamespace(t, namespace)
					cells = append(cells, policyCell{name: fmt.Sprintf("%s:%d ← %s", who, port.Port, namespace),
						namespace: namespace, labels: client, args: []string{"-tcp", target}, allowed: true})
				}
				cells = append(cells, policyCell{name: fmt.Sprintf("%s:%d ← %s", who, port.Port, outsider),
					namespace: outsider, labels: client, args: []string{"-tcp", target}})
			}
		}
		for _, rule := range p.Spec.Egress {
			for _, port := range rule.Ports {
				for _, peer := range rule.To {
					name := fmt.Sprintf("%s → %s :%d/%s", who, peer, port.Port, port.Protocol)
					switch namespace, inCluster := peer.namespace(p.Metadata.Namespace); {
					case port.Port == 53:
						server, ok := nameServer(t, peer, namespace, inCluster)
						if !ok {
							t.Logf("%s: no name server there", name)
							continue
						}
						cells = append(cells, policyCell{name: name + " (a lookup)", namespace: p.Metadata.Namespace, labels: selector,
							args: []string{"-lookup", kubeDNSLookup, "-dns", server, "-dnsnet", strings.ToLower(port.Protocol)}, allowed: true})
					case inCluster:
						peerPod, ok := listeningPod(t, namespace, peer.podLabels(), port.Port)
						if !ok {
							t.Logf("%s: no pod on the real node listens there", name)
							continue
						}
						cells = append(cells, policyCell{name: name, namespace: p.Metadata.Namespace, labels: selector,
							args: []string{"-tcp", net.JoinHostPort(peerPod.ip, strconv.Itoa(port.Port))}, allowed: true})
					default:
						t.Logf("%s: not tried here", name)
					}
				}
			}
		}
		cells = append(cells, policyCell{name: who + " → a listener on the node no rule names", namespace: p.Metadata.Namespace,
			labels: selector, args: []string{"-tcp", listener}})
	}
	if len(cells) == 0 {
		t.Fatal("no policy selects a pod on the real node: the matrix is empty")
	}
	return cells
}

// standInDelay is how long a stand-in's client (a pod with the labels of
// the pods a policy guards) waits before it tries: a new pod's own traffic
// is not filtered until the policy controller has given it its chain, which
// it must have done by then (runCells checks each against its container's
// start).
const standInDelay = 8 * time.Second

// runCells starts a client per cell at once and reports each: an allowed
// cell must connect (a client of an ingress cell retries while the
// controller learns its new address), a denied one must be refused or time
// out for 4 s.
func runCells(t *testing.T, cells []policyCell) []bool {
	t.Helper()
	names := make([]string, len(cells))
	pods := make([]clientPod, len(cells))
	started := time.Now()
	for i, c := range cells {
		names[i] = fmt.Sprintf("cell-%d-%d", started.UnixMilli()%100000, i)
		args := []string{"-grace", "10s"}
		if !c.allowed {
			args = []string{"-grace", "0s", "-for", "4s", "-every", "200ms"}
		}
		if c.standIn() {
			args = append(args, "-delay", standInDelay.String())
		}
		pods[i] = clientPod{c.namespace, names[i], c.labels, append(args, c.args...)}
	}
	startClientPods(t, pods...)
	filtered := map[string]time.Time{} // when each stand-in was first seen filtered
	waitFor(t, "the policy controller's chains for the stand-ins", func() string {
		firewalled, err := localcluster.FirewalledPods(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for i, c := range cells {
			switch key := c.namespace + "/" + names[i]; {
			case !c.standIn() || !filtered[key].IsZero():
			case firewalled[key]:
				filtered[key] = time.Now()
			default:
				missing = append(missing, key)
			}
		}
		return strings.Join(missing, " ")
	}, "")
	var lag time.Duration // the longest from a stand-in's start to its chain
	for i, c := range cells {
		if !c.standIn() {
			continue
		}
		// The container's start is known to the second: a second of margin.
		key := c.namespace + "/" + names[i]
		start := containerStarted(t, c.namespace, names[i])
		lag = max(lag, filtered[key].Sub(start))
		if tries := start.Add(standInDelay - time.Second); filtered[key].After(tries) {
			t.Fatalf("the policy controller filtered %s only at %s, after its client began to try (%s): its verdict would not be the policies'",
				key, filtered[key].Format(time.RFC3339Nano), tries.Format(time.RFC3339))
		}
	}
	if lag > 0 {
		t.Logf("the stand-ins were filtered at most %s after their containers started (they wait %s)", lag.Round(time.Second), standInDelay)
	}
	connected := make([]bool, len(cells))
	var report strings.Builder
	for i, c := range cells {
		r := clientResult(t, c.namespace, names[i], 90*time.Second)
		connected[i] = r.OK > 0
		verdict := "ok"
		switch {
		case c.allowed && !connected[i]:
			verdict = "FAILED"
			t.Errorf("allowed cell %q did not connect: %v", c.name, r.Errors)
		case !c.allowed && (connected[i] || !denied(r)):
			verdict = "FAILED"
			t.Errorf("denied cell %q connected (%d) or failed otherwise: %v", c.name, r.OK, r.Errors)
		}
		fmt.Fprintf(&report, "  %-7s %-6s %s\n", map[bool]string{true: "allowed", false: "denied"}[c.allowed], verdict, c.name)
	}
	t.Logf("network policy cells on the real node:\n%s", report.String())
	return connected
}

// netpol is what the matrix reads of a NetworkPolicy.
type netpol struct {
	Metadata struct{ Name, Namespace string } `json:"metadata"`
	Spec     struct {
		PodSelector labelSelector `json:"podSelector"`
		Ingress     []struct {
			From  []peer       `json:"from"`
			Ports []policyPort `json:"ports"`
		} `json:"ingress"`
		Egress []struct {
			To    []peer       `json:"to"`
			Ports []policyPort `json:"ports"`
		} `json:"egress"`
	} `json:"spec"`
}

type labelSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

type policyPort struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
}

type peer struct {
	PodSelector       *labelSelector `json:"podSelector"`
	NamespaceSelector *labelSelector `json:"namespaceSelector"`
	IPBlock           *struct {
		CIDR string `json:"cidr"`
	} `json:"ipBlock"`
}

// namespace is where a pod matching the peer lives: the policy's own
// namespace for a pod selector alone, or the one a namespace selector names
// by kubernetes.io/metadata.name; false for an address block or another
// namespace selector.
func (p peer) namespace(own string) (string, bool) {
	switch {
	case p.IPBlock != nil:
		return "", false
	case p.NamespaceSelector == nil:
		return own, true
	default:
		name, ok := p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
		return name, ok && len(p.NamespaceSelector.MatchLabels) == 1
	}
}

// podLabels are the labels the peer's pod selector asks for (none: any pod).
func (p peer) podLabels() map[string]string {
	if p.PodSelector == nil {
		return nil
	}
	return p.PodSelector.MatchLabels
}

func (p peer) String() string {
	switch {
	case p.IPBlock != nil:
		return p.IPBlock.CIDR
	case p.NamespaceSelector != nil && p.PodSelector != nil:
		return selected(p.NamespaceSelector.MatchLabels) + " pods " + selected(p.PodSelector.MatchLabels)
	case p.NamespaceSelector != nil:
		return selected(p.NamespaceSelector.MatchLabels)
	default:
		return "its namespace"
	}
}

// containerStarted is when the client pod's container started.
func containerStarted(t *testing.T, namespace, name string) time.Time {
	t.Helper()
	var started time.Time
	waitFor(t, "the start of "+namespace+"/"+name, func() string {
		out := kubectl(t, "-n", namespace, "get", "pod", name, "-o",
			"jsonpath={.status.containerStatuses[0].state.running.startedAt}{.status.containerStatuses[0].state.terminated.startedAt}")
		var err error
		started, err = time.Parse(time.RFC3339, string(out))
		return strconv.FormatBool(err == nil)
	}, "true")
	return started
}

// selected spells labels as a selector: k=v,k=v, or a namespace's name.
func selected(labels map[string]string) string {
	if name, ok := labels["kubernetes.io/metadata.name"]; ok && len(labels) == 1 {
		return name
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		pairs = append(pairs, k+"="+labels[k])
	}
	return strings.Join(pairs, ",")
}

type podAddress struct {
	name, ip string
	ports    []int
}

// realNodePod is a running pod of a namespace with the labels, on the real node.
func realNodePod(t *testing.T, namespace string, labels map[string]string) (podAddress, bool) {
	pods := realNodePods(t, namespace, labels)
	if len(pods) == 0 {
		return podAddress{}, false
	}
	return pods[0], true
}

// listeningPod is a pod on the real node matching labels (any, when none
// are given) whose containers declare port.
func listeningPod(t *testing.T, namespace string, labels map[string]string, port int) (podAddress, bool) {
	for _, p := range realNodePods(t, namespace, labels) {
		if slices.Contains(p.ports, port) {
			return p, true
		}
	}
	return podAddress{}, false
}

func realNodePods(t *testing.T, namespace string, labels map[string]string) []podAddress {
	args := []string{"-n", namespace, "get", "pods", "--field-selector=status.phase=Running,spec.nodeName=" + localcluster.NodeName, "-o", "json"}
	if len(labels) > 0 {
		args = append(args, "-l", selected(labels))
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Containers []struct {
					Ports []struct {
						ContainerPort int `json:"containerPort"`
					} `json:"ports"`
				} `json:"containers"`
			} `json:"spec"`
			Status struct {
				PodIP string `json:"podIP"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(kubectl(t, args...), &list); err != nil {
		t.Fatal(err)
	}
	var out []podAddress
	for _, item := range list.Items {
		if item.Metadata.Labels["role"] == "e2e-client" || strings.HasPrefix(item.Metadata.Name, "cell-") {
			continue // the test's own clients and stand-ins
		}
		p := podAddress{name: item.Metadata.Name, ip: item.Status.PodIP}
		for _, c := range item.Spec.Containers {
			for _, port := range c.Ports {
				p.ports = append(p.ports, port.ContainerPort)
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// podTarget is host:port of the first pod on the real node with the
// workload's name.
func podTarget(t *testing.T, namespace, name string, port int) string {
	t.Helper()
	pod, ok := realNodePod(t, namespace, map[string]string{"app.kubernetes.io/name": name})
	if !ok {
		t.Fatalf("no %s pod runs on the real node", name)
	}
	return net.JoinHostPort(pod.ip, strconv.Itoa(port))
}

// nameServer is host:53 of a DNS server the peer stands for: the node's
// CoreDNS at the address an ipBlock names (NodeLocal DNSCache's), or the
// suite's cluster DNS pod for a kube-dns pod selector (kubeDNSPod).
func nameServer(t *testing.T, p peer, namespace string, inCluster bool) (string, bool) {
	if p.IPBlock != nil {
		prefix, err := netip.ParsePrefix(p.IPBlock.CIDR)
		if err != nil || !prefix.IsSingleIP() {
			return "", false
		}
		return net.JoinHostPort(prefix.Addr().String(), "53"), true
	}
	if !inCluster {
		return "", false
	}
	pod, ok := listeningPod(t, namespace, p.podLabels(), 53)
	return net.JoinHostPort(pod.ip, "53"), ok
}

// kubeDNSPod runs the suite's cluster DNS pod on the real node, in
// kube-system and labelled k8s-app=kube-dns as CoreDNS's own manifests label
// theirs, until the test ends; it answers kubeDNSLookup.
func kubeDNSPod(t *testing.T) {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: e2e-kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  automountServiceAccountToken: false
  nodeSelector: {type: %s}
  tolerations: [{key: %s, operator: Exists, effect: NoSchedule}]
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
  containers:
  - name: coredns
    image: %s
    imagePullPolicy: Never
    ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]
    resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 200m, memory: 64Mi, ephemeral-storage: 8Mi}}
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, localcluster.NodeType, localcluster.NodeTaint, kubeDNSName)
	if _, err := env.cluster.Kubectl(t.Context(), []byte(manifest), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.cluster.Kubectl(t.Context(), nil, "-n", "kube-system", "delete", "pod", "e2e-kube-dns", "--ignore-not-found", "--wait=false")
	})
	kubectl(t, "-n", "kube-system", "wait", "--for=condition=Ready", "pod/e2e-kube-dns", "--timeout=60s")
}

// ensureNamespace creates a namespace a policy names (ops, say) for the
// test's clients when the cluster has none, and deletes it afterwards.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	if _, err := env.cluster.Kubectl(t.Context(), nil, "get", "namespace", name); err == nil {
		return
	}
	kubectl(t, "create", "namespace", name)
	t.Cleanup(func() {
		_, _ = env.cluster.Kubectl(context.Background(), nil, "delete", "namespace", name, "--wait=false")
	})
}

// hostListener accepts connections on the node's address on the pods'
// bridge (the test runs on the node's host) until the test ends: an
// address outside every rule of the stack's policies.
func hostListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", localcluster.BridgeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// denied says whether every failure of a client's report was a connection
// the network refused (kube-router rejects what no policy allows) or
// dropped (its timeout), not an answer.
func denied(r clientReport) bool {
	for _, e := range r.Errors {
		if !strings.Contains(e, "connection refused") && !strings.Contains(e, "i/o timeout") &&
			!strings.Contains(e, "Client.Timeout") && !strings.Contains(e, "deadline exceeded") {
			return false
		}
	}
	return r.Failed > 0
}
