package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/testbed/nodeimage"
)

// The real node: a kubelet on this machine, its containers run by
// containerd and runc from Debian, pods on a bridge of their own.
const (
	// NodeName is the real node's name.
	NodeName = "platform-node"
	// NodeTaint keeps every pod off the real node but those that tolerate it
	// (NoSchedule): the pods whose images exist here.
	NodeTaint = "platform.acme.io/real-node"
	// NodeType is the value of the node label "type" on the real node
	// ("kwok" on the simulated ones).
	NodeType = "real"

	bridgeName = "platform0"
	// BridgeIP is the node's address on the pods' bridge.
	BridgeIP = bridgeIP
	// bridgeIP is the host's address on the pods' bridge: their gateway, the
	// node's IP, and where cluster DNS listens.
	bridgeIP  = "10.88.0.1"
	podSubnet = "10.88.0.0/24"
	// nodeLocalDNS is where the cluster DNS listens, on the host: the
	// address NodeLocal DNSCache takes (kube.DefaultNodeLocalDNS), so the
	// pods reach it as they would a node-local cache, through the ipBlock
	// rule of every policy (no pod selector names a host process).
	nodeLocalDNS = kube.DefaultNodeLocalDNS
)

// NodeBinaries are the real node's programs: the kubelet, kube-proxy,
// CoreDNS and the network policy controller (kube-router's) that
// scripts/tools.sh builds, and Debian's containerd (whose package brings ctr
// and the runc shim), runc, iptables, ipset and CNI plugins.
type NodeBinaries struct {
	Kubelet, KubeProxy, CoreDNS, NetPol, Containerd, Ctr, Runc, IPTables, IPSet string
	// CNIDir holds the CNI plugins (bridge, host-local, loopback).
	CNIDir string
}

// NodeBinariesIn finds the built programs in dir, and the distribution's
// on PATH or where Debian's packages put them.
func NodeBinariesIn(dir string) NodeBinaries {
	return NodeBinaries{
		Kubelet:    filepath.Join(dir, "kubelet"),
		KubeProxy:  filepath.Join(dir, "kube-proxy"),
		CoreDNS:    filepath.Join(dir, "coredns"),
		NetPol:     filepath.Join(dir, "netpol"),
		IPSet:      installed("ipset", "/usr/sbin/ipset"),
		Containerd: installed("containerd", "/usr/bin/containerd"),
		Ctr:        installed("ctr", "/usr/bin/ctr"),
		Runc:       installed("runc", "/usr/sbin/runc"),
		IPTables:   installed("iptables", "/usr/sbin/iptables"),
		CNIDir:     "/usr/lib/cni",
	}
}

// installed is the program on PATH, else where Debian puts it.
func installed(name, debian string) string {
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	return debian
}

// NodeOptions ask Up for the real node.
type NodeOptions struct {
	Binaries NodeBinaries
	// Images are imported into containerd before the kubelet starts; the
	// one named nodeimage.PauseName is the pods' sandbox.
	Images []nodeimage.Built
	// Unavailable is a reason the caller found that the node cannot run
	// (its images could not be built, say).
	Unavailable string
}

// NodeState is what Up decided about the real node: whether it runs, and if
// not, why. Tests that need the node fail with the reason.
type NodeState struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"`
	// KubeProxy is the binary whose --cleanup Down runs; Containerd the one
	// Down starts again to remove the pods of a node that died.
	KubeProxy  string `json:"kubeProxy,omitempty"`
	Containerd string `json:"containerd,omitempty"`
}

func nodeStateFile(dir string) string { return filepath.Join(dir, "node.json") }

func writeNodeState(dir string, s NodeState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(nodeStateFile(dir), data, 0o600)
}

// ReadNodeState says whether the cluster in dir has a real node.
func ReadNodeState(dir string) (NodeState, error) {
	data, err := os.ReadFile(nodeStateFile(dir))
	if errors.Is(err, os.ErrNotExist) {
		return NodeState{Reason: "the local cluster in " + dir + " was started without a real node"}, nil
	}
	var s NodeState
	if err == nil {
		err = json.Unmarshal(data, &s)
	}
	return s, err
}

// Unsupported says why this machine cannot run the real node, or "".
func (n NodeOptions) Unsupported() string {
	if n.Unavailable != "" {
		return n.Unavailable
	}
	if os.Geteuid() != 0 {
		return "the real node needs root (containerd, the kubelet, network interfaces and iptables)"
	}
	b := n.Binaries
	need := []string{b.Kubelet, b.KubeProxy, b.CoreDNS, b.NetPol, b.Containerd, b.Ctr, b.Runc, b.IPTables, b.IPSet,
		filepath.Join(filepath.Dir(b.Containerd), "containerd-shim-runc-v2")}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		need = append(need, filepath.Join(b.CNIDir, plugin))
	}
	for _, path := range need {
		if _, err := os.Stat(path); err != nil {
			return fmt.Sprintf("%s is missing (make runtime installs Debian's containerd, runc, iptables, ipset and CNI plugins; scripts/tools.sh node builds the kubelet, kube-proxy, CoreDNS and the policy controller)", path)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			return "no cgroup hierarchy at /sys/fs/cgroup: containers cannot be limited here"
		}
	}
	if _, err := exec.Command("ip", "link", "show").CombinedOutput(); err != nil {
		return "the ip command (iproute2) does not work here: " + err.Error()
	}
	for _, image := range []string{nodeimage.PauseName} {
		if !n.has(image) {
			return "no " + image + " image was built for the pods' sandbox"
		}
	}
	return ""
}

// nodeClaim names the cluster whose real node runs on this machine: there
// can be one, since the bridge, its address and the DNS port on it are the
// machine's. A variable so that tests can move it.
var nodeClaim = "/run/platform-real-node"

// RealNodeOwner is the folder of the cluster whose real node runs on this
// machine now, or "" when none runs.
func RealNodeOwner() string {
	owner := claimant()
	if owner == "" || !nodeRunning(owner) {
		return ""
	}
	return owner
}

// claimedElsewhere says which other cluster's real node runs here, or "".
func claimedElsewhere(dir string) string {
	if owner := RealNodeOwner(); owner != dir {
		return owner
	}
	return ""
}

// abandonedClaim names another cluster that took the real node and whose
// node processes are gone without a Down (a killed test run, a killed
// cluster-up): what it left on the host (pods, bridge, chains, mounts,
// kernel settings) is in the way of the next real node. "" if none.
func abandonedClaim(dir string) string {
	owner := claimant()
	if owner == "" || owner == dir || nodeRunning(owner) {
		return ""
	}
	return owner
}

func claimant() string {
	data, err := os.ReadFile(nodeClaim)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func nodeRunning(dir string) bool {
	for _, p := range processesIn(dir, nodeProcesses) {
		if _, ok := p.running(); ok {
			return true
		}
	}
	return false
}

// RealNode asks for the real node with its images: the greeter's and the
// pods' sandbox built from the project in projectDir, Jaeger's and OAuth2
// Proxy's around the binaries in bin. Where they cannot be built, Up is told
// why and starts kwok only.
func RealNode(ctx context.Context, projectDir, bin string) *NodeOptions {
	node := &NodeOptions{Binaries: NodeBinariesIn(bin)}
	images, err := nodeimage.BuildAll(ctx, projectDir, bin)
	if err != nil {
		node.Unavailable = "building the node's images: " + err.Error()
		return node
	}
	node.Images = images
	return node
}

func (n NodeOptions) has(name string) bool {
	for _, b := range n.Images {
		if b.Name == name {
			return true
		}
	}
	return false
}

// nodeDir is where the real node keeps its state: containerd's root and
// state, the kubelet's root, CNI config and address leases, configs.
func (c *Cluster) nodeDir(parts ...string) string {
	return filepath.Join(append([]string{c.opts.Dir, "node"}, parts...)...)
}

func (c *Cluster) containerdSocket() string { return c.nodeDir("containerd.sock") }

// startNode starts the real node's processes in order and waits until the
// node is Ready: the pods' bridge, containerd with the images, CoreDNS,
// kube-proxy, the kubelet.
func (c *Cluster) startNode(ctx context.Context, ps map[string]process) error {
	n := c.opts.Node
	for _, sub := range []string{"containerd", "kubelet", "cni", "cni-ipam"} {
		if err := os.MkdirAll(c.nodeDir(sub), 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(nodeClaim, []byte(c.opts.Dir+"\n"), 0o644); err != nil {
		return err
	}
	if err := saveSysctls(c.nodeDir("sysctls.json")); err != nil {
		return err
	}
	if err := createBridge(); err != nil {
		return err
	}
	if err := c.acceptPodForwarding(); err != nil {
		return err
	}
	if err := c.writeNodeConfigs(); err != nil {
		return err
	}
	if err := ps["containerd"].start(n.Binaries.Containerd, []string{"--config", c.nodeDir("containerd.toml")}, c.opts.DieWithParent); err != nil {
		return err
	}
	if err := c.waitFor(ctx, ps["containerd"], "containerd's socket", func() bool {
		return c.ctr(ctx, "version") == nil
	}); err != nil {
		return err
	}
	if err := c.importImages(ctx); err != nil {
		return err
	}
	// The kwok stand-in of a start without the real node gives way to it.
	if out, err := c.Kubectl(ctx, nil, "get", "node", NodeName, "-o", "jsonpath={.metadata.annotations.kwok\\.x-k8s\\.io/node}"); err == nil && string(out) == "fake" {
		if err := c.kubectl(ctx, nil, "delete", "node", NodeName); err != nil {
			return err
		}
	}
	starts := []struct {
		name, binary string
		args         []string
	}{
		{"coredns", n.Binaries.CoreDNS, []string{"-conf", c.nodeDir("Corefile"), "-dns.port", "53"}},
		{"kube-proxy", n.Binaries.KubeProxy, []string{"--config=" + c.nodeDir("kube-proxy.yaml"), "--hostname-override=" + NodeName}},
		{"kubelet", n.Binaries.Kubelet, []string{
			"--config=" + c.nodeDir("kubelet.yaml"),
			"--kubeconfig=" + filepath.Join(c.opts.Dir, "kubelet.kubeconfig"),
			"--root-dir=" + c.nodeDir("kubelet"),
			"--hostname-override=" + NodeName,
			"--node-ip=" + bridgeIP,
			"--node-labels=type=" + NodeType + ",topology.kubernetes.io/zone=zone-real,topology.kubernetes.io/region=local",
		}},
	}
	for _, s := range starts {
		if err := ps[s.name].start(s.binary, s.args, c.opts.DieWithParent); err != nil {
			return err
		}
	}
	if err := c.waitFor(ctx, ps["kubelet"], "node "+NodeName+" to be Ready", func() bool {
		out, err := c.Kubectl(ctx, nil, "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && string(out) == "True"
	}); err != nil {
		return err
	}
	// The policies are enforced from here on: the controller reads the
	// node, then puts its chains in front of the pods' traffic.
	if err := ps["netpol"].start(n.Binaries.NetPol, []string{"-kubeconfig", c.Kubeconfig(), "-node", NodeName, "-service-cidr", serviceCIDR, "-v=1"}, c.opts.DieWithParent); err != nil {
		return err
	}
	return c.waitFor(ctx, ps["netpol"], "the network policy controller's chains", func() bool {
		return exec.CommandContext(ctx, n.Binaries.IPTables, "-n", "-L", "KUBE-ROUTER-FORWARD").Run() == nil
	})
}

// waitFor polls ready until it holds, failing early if p exits.
func (c *Cluster) waitFor(ctx context.Context, p process, what string, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for !ready() {
		if _, alive := p.running(); !alive {
			return fmt.Errorf("%s exited while waiting for %s; see %s", p.name, what, p.logFile)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w; see %s", what, ctx.Err(), p.logFile)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func (c *Cluster) ctr(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, c.opts.Node.Binaries.Ctr, append([]string{"--address", c.containerdSocket(), "--namespace", "k8s.io"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// importImages loads the node's images into containerd's CRI namespace.
func (c *Cluster) importImages(ctx context.Context) error {
	archive := c.nodeDir("images.tar")
	if err := nodeimage.WriteArchive(archive, c.opts.Node.Images...); err != nil {
		return fmt.Errorf("writing the node's images: %w", err)
	}
	defer os.Remove(archive)
	return c.ctr(ctx, "images", "import", archive)
}

// writeNodeConfigs writes containerd's, the CNI's, CoreDNS's, kube-proxy's
// and the kubelet's configuration, and their kubeconfigs.
func (c *Cluster) writeNodeConfigs() error {
	files := map[string]string{
		c.nodeDir("containerd.toml"):             c.containerdConfig(),
		c.nodeDir("cni", "10-platform.conflist"): c.cniConfig(),
		c.nodeDir("Corefile"):                    c.corefile(),
		c.nodeDir("kube-proxy.yaml"):             c.kubeProxyConfig(),
		c.nodeDir("kubelet.yaml"):                c.kubeletConfig(),
		c.nodeDir("resolv.conf"):                 "",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is containerd 1.6's config (version 2) for this machine:
// everything under the node's folder; restrict_oom_score_adj because the
// machine lacks CAP_SYS_RESOURCE; cgroupfs (no systemd); the project's pause
// image as the sandbox; plugins that would write outside the folder or need
// kernel features absent here disabled.
func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
oom_score = 0
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`, c.nodeDir("containerd", "root"), c.nodeDir("containerd", "state"), c.containerdSocket(), c.containerdSocket()+".ttrpc",
		nodeimage.ContainerdName(nodeimage.PauseName), c.opts.Node.Binaries.Runc, c.opts.Node.Binaries.CNIDir, c.nodeDir("cni"))
}

// cniConfig puts pods on the bridge the cluster made, with addresses from
// the node's subnet. No masquerading: nothing leaves this machine.
func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "platform",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q, "gateway": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
`, bridgeName, c.nodeDir("cni-ipam"), podSubnet, bridgeIP)
}

// corefile serves cluster.local from the API server on the node-local
// address, which the kubelet gives the pods as their name server. Nothing else is
// answered: this machine has no upstream to forward to.
func (c *Cluster) corefile() string {
	return fmt.Sprintf(`cluster.local:53 in-addr.arpa:53 {
    bind %s
    errors
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    kubernetes cluster.local in-addr.arpa {
        kubeconfig %s
        pods insecure
    }
    cache 5
}
`, nodeLocalDNS, c.ports.CoreDNSHealth, c.ports.CoreDNSReady, filepath.Join(c.opts.Dir, "coredns.kubeconfig"))
}

// kubeProxyConfig programs Services with iptables and changes no kernel
// setting: conntrack limits and timeouts are left as the host has them, and
// no localhost NodePorts (which would set route_localnet).
func (c *Cluster) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: iptables
clusterCIDR: %s
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
nodePortAddresses: ["%s/32"]
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, filepath.Join(c.opts.Dir, "kube-proxy.kubeconfig"), podSubnet, c.ports.KubeProxyHealthz, c.ports.KubeProxyMetrics, bridgeIP)
}

// kubeletConfig is the kubelet's configuration for this machine (the settings
// the real-node issue found): cgroup v1 allowed (failCgroupV1: false) with
// cgroupfs; no negative OOM score (no CAP_SYS_RESOURCE); kernel defaults not
// protected (the kubelet then sets kernel.panic and panic_on_oops, which
// cluster-down restores); image garbage collection off, since the node's
// images exist only here and containerd 1.6 does not pin the sandbox's; the
// taint that keeps other pods off.
func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
protectKernelDefaults: false
clusterDNS: [%s]
clusterDomain: cluster.local
resolvConf: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%}
maxPods: 30
serializeImagePulls: false
registerWithTaints:
- {key: %s, value: "true", effect: NoSchedule}
`, bridgeIP, c.ports.Kubelet, c.ports.KubeletHealthz, c.pki.path("ca.crt"), c.containerdSocket(), nodeLocalDNS, c.nodeDir("resolv.conf"), NodeTaint)
}

// createBridge makes the pods' bridge with the host's address on it, so
// that CoreDNS can listen there before the first pod exists.
func createBridge() error {
	if exec.Command("ip", "link", "show", bridgeName).Run() == nil {
		return nil
	}
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", bridgeIP + "/24", "dev", bridgeName},
		{"addr", "add", nodeLocalDNS + "/32", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// forwardChain holds the rule that lets the pods' traffic be forwarded
// through the host (pod to Service to pod is routed, not bridged): a host
// whose FORWARD policy is DROP, as Docker sets it on a GitHub runner, would
// drop it. Down removes it with the Kubernetes chains.
const forwardChain = "PLATFORM-NODE-FORWARD"

func (c *Cluster) acceptPodForwarding() error {
	iptables := c.opts.Node.Binaries.IPTables
	if exec.Command(iptables, "-t", "filter", "-C", "FORWARD", "-j", forwardChain).Run() == nil {
		return nil
	}
	for _, args := range [][]string{
		{"-t", "filter", "-N", forwardChain},
		{"-t", "filter", "-A", forwardChain, "-i", bridgeName, "-j", "ACCEPT"},
		{"-t", "filter", "-A", forwardChain, "-o", bridgeName, "-j", "ACCEPT"},
		{"-t", "filter", "-I", "FORWARD", "1", "-j", forwardChain},
	} {
		if out, err := exec.Command(iptables, args...).CombinedOutput(); err != nil && !strings.Contains(string(out), "already exists") {
			return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// hostSysctls are the kernel settings the real node changes: the kubelet's
// (with protectKernelDefaults off) and the bridge CNI plugin's forwarding.
var hostSysctls = []string{
	"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "vm/panic_on_oom",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward",
}

// saveSysctls records the host's values before the node first changes them;
// a file from an earlier start (its values the host's own) is kept.
func saveSysctls(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	values := map[string]string{}
	for _, key := range hostSysctls {
		data, err := os.ReadFile(filepath.Join("/proc/sys", key))
		if err != nil {
			continue // not on this kernel
		}
		values[key] = strings.TrimSpace(string(data))
	}
	data, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// restoreSysctls writes the recorded values back and removes the record.
func restoreSysctls(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var values map[string]string
	if err := json.Unmarshal(data, &values); err != nil {
		return err
	}
	var errs []error
	for key, value := range values {
		file := filepath.Join("/proc/sys", key)
		if current, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(current)) == value {
			continue
		}
		errs = append(errs, os.WriteFile(file, []byte(value), 0o644))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restoring the host's kernel settings: %w", err)
	}
	return os.Remove(path)
}

// removePods removes the real node's pods through containerd. A containerd
// that died with its cluster (a killed test) is started again for it: the
// pods' shims and containers outlive it, and only it can take them down.
func removePods(dir string, containerd process, b NodeBinaries) error {
	config := filepath.Join(dir, "node", "containerd.toml")
	socket := filepath.Join(dir, "node", "containerd.sock")
	if _, ok := containerd.running(); !ok {
		if !isDir(filepath.Join(dir, "node", "containerd", "state", "io.containerd.runtime.v2.task")) {
			return nil // no container ever ran, or all are gone
		}
		binary := b.Containerd
		if binary == "" {
			binary = installed("containerd", "/usr/bin/containerd")
		}
		if err := containerd.start(binary, []string{"--config", config}, false); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for !socketAnswers(socket) {
			if time.Now().After(deadline) {
				return fmt.Errorf("containerd, started again to remove the real node's pods, does not answer; see %s", containerd.logFile)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return removePodSandboxes(ctx, socket)
}

func socketAnswers(path string) bool {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// stopNode stops the real node and removes what it made on the host: its
// pods (through containerd, so CNI tears their network down), the iptables
// rules of kube-proxy and the kubelet, the mounts under its folder, its
// cgroups, the bridge; and it restores the kernel settings it changed.
func stopNode(dir string, ps map[string]process, b NodeBinaries) error {
	var errs []error
	errs = append(errs, ps["netpol"].stop(10*time.Second), ps["kubelet"].stop(15*time.Second))
	errs = append(errs, removePods(dir, ps["containerd"], b))

	errs = append(errs, ps["kube-proxy"].stop(10*time.Second), ps["coredns"].stop(10*time.Second), ps["containerd"].stop(15*time.Second))
	if _, err := os.Stat(b.KubeProxy); err == nil {
		if out, err := exec.Command(b.KubeProxy, "--cleanup").CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("kube-proxy --cleanup: %w: %s", err, out))
		}
	}
	errs = append(errs, removeKubernetesChains(), removePolicySets(), unmountUnder(filepath.Join(dir, "node")), removeCgroups("kubepods"))
	if exec.Command("ip", "link", "show", bridgeName).Run() == nil {
		if out, err := exec.Command("ip", "link", "del", bridgeName).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("removing the bridge %s: %w: %s", bridgeName, err, out))
		}
	}
	errs = append(errs, restoreSysctls(filepath.Join(dir, "node", "sysctls.json")))
	if data, err := os.ReadFile(nodeClaim); err == nil && strings.TrimSpace(string(data)) == dir {
		errs = append(errs, os.Remove(nodeClaim))
	}
	return errors.Join(errs...)
}

// PolicySyncs counts the network policy controller's syncs of its rules
// that have begun: a mark for WaitPolicySync.
func (c *Cluster) PolicySyncs() int {
	return strings.Count(c.policyLog(), "Starting sync of iptables")
}

// WaitPolicySync waits until a sync of the policy rules that began after
// mark (PolicySyncs, taken before a change) has ended: the rules then
// hold what the API server held when it began.
func (c *Cluster) WaitPolicySync(ctx context.Context, mark int) error {
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(c.policyLog(), "sync iptables took") <= mark {
		if time.Now().After(deadline) {
			return fmt.Errorf("the network policy controller ended no sync after %d in 30s (its log: %s)", mark, c.policyLogFile())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// FirewalledPods are the pods ("namespace/name") whose traffic the policy
// controller has put through a chain of the pod's own: until it has, a new
// pod's egress is not filtered. kube-router v2.1.0 comments the jump to
// that chain "rule to jump traffic from POD name:<pod> namespace:
// <namespace> to chain KUBE-POD-FW-…" (pkg/controllers/netpol/pod.go).
func FirewalledPods(ctx context.Context) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, "iptables-save", "-t", "filter").Output()
	if err != nil {
		return nil, fmt.Errorf("iptables-save: %w", err)
	}
	return firewalledIn(string(out)), nil
}

// firewalledIn reads FirewalledPods from iptables-save's output.
func firewalledIn(save string) map[string]bool {
	pods := map[string]bool{}
	for _, m := range firewalledPod.FindAllStringSubmatch(save, -1) {
		pods[m[2]+"/"+m[1]] = true
	}
	return pods
}

var firewalledPod = regexp.MustCompile(`rule to jump traffic from POD name:(\S+) namespace: (\S+) to chain `)

func (c *Cluster) policyLogFile() string { return filepath.Join(c.opts.Dir, "logs", "netpol.log") }

func (c *Cluster) policyLog() string {
	data, _ := os.ReadFile(c.policyLogFile())
	return string(data)
}
