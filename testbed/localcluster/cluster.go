// Package localcluster runs a real Kubernetes control plane on 127.0.0.1:
// etcd, kube-apiserver (with its validation, admission including Pod
// Security, and RBAC), kube-controller-manager and kube-scheduler; kwok plays
// three nodes and their pods' lifecycle, and, where the machine can run
// containers, one real node runs pods for real: containerd and runc, a
// kubelet, kube-proxy and CoreDNS (node.go). Every server is started and
// stopped by pid; everything lives in one folder.
package localcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Binaries are the programs the cluster runs.
type Binaries struct {
	Etcd, APIServer, ControllerManager, Scheduler, Kwok, Kubectl string
}

// BinariesIn finds the programs in a folder (as scripts/tools.sh links them).
func BinariesIn(dir string) Binaries {
	return Binaries{
		Etcd:              filepath.Join(dir, "etcd"),
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Scheduler:         filepath.Join(dir, "kube-scheduler"),
		Kwok:              filepath.Join(dir, "kwok"),
		Kubectl:           filepath.Join(dir, "kubectl"),
	}
}

// Options configure a cluster.
type Options struct {
	// Dir holds everything: PKI, etcd data, logs, pid files, the kubeconfig.
	Dir string
	// Binaries to run.
	Binaries Binaries
	// Stages is kwok's stage configuration (multi-document YAML).
	Stages string
	// Zones to spread the fake nodes over, one node per zone (default 3).
	Zones []string
	// DieWithParent kills the servers when the calling process dies (tests).
	DieWithParent bool
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Node asks for the real node beside the kwok ones (nil: kwok only).
	// Where this machine cannot run it, Up says why and starts kwok only.
	Node *NodeOptions
}

// Cluster is a running local cluster.
type Cluster struct {
	opts  Options
	ports ports
	pki   clusterPKI
}

type ports struct {
	Etcd, EtcdPeer, APIServer, ControllerManager, Scheduler, KwokMetrics int
	// The real node's.
	Kubelet, KubeletHealthz, KubeProxyHealthz, KubeProxyMetrics, CoreDNSHealth, CoreDNSReady int
}

// serviceIP is the first address of the service range: the kubernetes Service.
const serviceIP = "10.96.0.1"

const frontProxyClientName = "front-proxy-client"

// ErrAlreadyRunning is returned by Up when the cluster in Dir runs already.
var ErrAlreadyRunning = errors.New("local cluster already running")

// Kubeconfig is the path of the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.opts.Dir, "kubeconfig") }

// Server is the API server's URL.
func (c *Cluster) Server() string { return fmt.Sprintf("https://127.0.0.1:%d", c.ports.APIServer) }

// controlPlane and nodeProcesses are the servers, in order of start.
var (
	controlPlane  = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
	nodeProcesses = []string{"containerd", "coredns", "kube-proxy", "kubelet", "netpol"}
)

// serviceCIDR holds the Services' cluster IPs.
const serviceCIDR = "10.96.0.0/16"

func (o Options) processes() []process { return processesIn(o.Dir, controlPlane) }

func processesIn(dir string, names []string) []process {
	var ps []process
	for _, name := range names {
		ps = append(ps, process{
			name:    name,
			pidFile: filepath.Join(dir, "run", name+".pid"),
			logFile: filepath.Join(dir, "logs", name+".log"),
		})
	}
	return ps
}

// Running reports which of the cluster's servers in dir are running: the
// control plane's, and the real node's if it has one.
func Running(dir string) (running, stopped []string) {
	names := controlPlane
	if state, err := ReadNodeState(dir); err == nil && state.Enabled {
		names = append(slices.Clone(names), nodeProcesses...)
	}
	for _, p := range processesIn(dir, names) {
		if _, ok := p.running(); ok {
			running = append(running, p.name)
		} else {
			stopped = append(stopped, p.name)
		}
	}
	return running, stopped
}

// Up starts the cluster in opts.Dir and waits until the API server is ready,
// the nodes are Ready and the default StorageClass exists. It returns
// ErrAlreadyRunning, with the running cluster, when all servers run already;
// a partly running cluster is stopped and started again.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"zone-a", "zone-b", "zone-c"}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = abs
	for _, sub := range []string{"run", "logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opts: opts, pki: clusterPKI{dir: filepath.Join(opts.Dir, "pki")}}
	if err := c.loadPorts(); err != nil {
		return nil, err
	}
	wantNode := NodeState{Reason: "not asked for"}
	if opts.Node != nil {
		wantNode = NodeState{Enabled: true, KubeProxy: opts.Node.Binaries.KubeProxy, Containerd: opts.Node.Binaries.Containerd}
		if reason := opts.Node.Unsupported(); reason != "" {
			wantNode = NodeState{Reason: reason}
		} else if other := claimedElsewhere(opts.Dir); other != "" {
			wantNode = NodeState{Reason: "the real node of the local cluster in " + other + " runs on this machine, and there can be one (its bridge " + bridgeName + ", DNS on " + bridgeIP + "): stop that cluster first"}
		} else if dead := abandonedClaim(opts.Dir); dead != "" {
			fmt.Fprintf(opts.Log, "real node: the cluster in %s stopped without taking its real node down: cleaning up after it\n", dead)
			if err := Down(dead); err != nil {
				return nil, fmt.Errorf("cleaning up after the real node of the cluster in %s: %w", dead, err)
			}
		}
	}
	running, stopped := Running(opts.Dir)
	state, _ := ReadNodeState(opts.Dir)
	switch {
	case len(running) > 0 && len(stopped) == 0 && state.Enabled == wantNode.Enabled:
		return c, ErrAlreadyRunning
	case len(running) > 0 && len(stopped) == 0:
		fmt.Fprintf(opts.Log, "local cluster running with the real node %s: restarting it\n", map[bool]string{true: "on, now off", false: "off, now on"}[state.Enabled])
	case len(running) > 0:
		fmt.Fprintf(opts.Log, "local cluster partly running (%s up, %s down): restarting it\n",
			strings.Join(running, ", "), strings.Join(stopped, ", "))
	}
	if len(running) > 0 {
		if err := Down(opts.Dir); err != nil {
			return nil, err
		}
	}
	if !wantNode.Enabled {
		opts.Node, c.opts.Node = nil, nil
		fmt.Fprintf(opts.Log, "real node: not started: %s; kwok plays every pod\n", wantNode.Reason)
	}
	if err := writeNodeState(opts.Dir, wantNode); err != nil {
		return nil, err
	}
	if err := c.pki.ensure(); err != nil {
		return nil, fmt.Errorf("creating the cluster's PKI: %w", err)
	}
	if err := c.writeKubeconfigs(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "kwok-stages.yaml"), []byte(opts.Stages), 0o600); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		_ = Down(opts.Dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	ps := c.opts.processes()
	node := map[string]process{}
	for _, p := range processesIn(c.opts.Dir, nodeProcesses) {
		node[p.name] = p
	}
	begin := time.Now()
	if err := ps[0].start(c.opts.Binaries.Etcd, c.etcdArgs(), c.opts.DieWithParent); err != nil {
		return err
	}
	etcdClient, err := c.EtcdClientTLS()
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, c.EtcdURL()+"/health", "", ps[0], etcdClient); err != nil {
		return err
	}
	if err := ps[1].start(c.opts.Binaries.APIServer, c.apiServerArgs(), c.opts.DieWithParent); err != nil {
		return err
	}
	admin, err := c.pki.token("admin")
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, c.Server()+"/readyz", admin, ps[1], nil); err != nil {
		return err
	}
	starts := []struct {
		binary string
		args   []string
	}{
		{c.opts.Binaries.ControllerManager, c.controllerManagerArgs()},
		{c.opts.Binaries.Scheduler, c.schedulerArgs()},
		{c.opts.Binaries.Kwok, c.kwokArgs()},
	}
	for i, s := range starts {
		if err := ps[2+i].start(s.binary, s.args, c.opts.DieWithParent); err != nil {
			return err
		}
	}
	if err := c.kubectlApply(ctx, c.bootstrapObjects()); err != nil {
		return fmt.Errorf("creating nodes and storage class: %w", err)
	}
	// kwok's nodes (the real one's kubelet starts below).
	kwokNodes := "--selector=type=kwok"
	if c.opts.Node == nil {
		kwokNodes = "--all"
	}
	if err := c.kubectl(ctx, nil, "wait", "--for=condition=Ready", "node", kwokNodes, "--timeout=60s"); err != nil {
		return fmt.Errorf("waiting for the nodes: %w", err)
	}
	if c.opts.Node != nil {
		nodeBegin := time.Now()
		if err := c.startNode(ctx, node); err != nil {
			return fmt.Errorf("starting the real node: %w", err)
		}
		fmt.Fprintf(c.opts.Log, "real node %s Ready in %.1fs (containerd, kubelet, kube-proxy, network policies, CoreDNS on %s)\n", NodeName, time.Since(nodeBegin).Seconds(), nodeLocalDNS)
	}
	fmt.Fprintf(c.opts.Log, "local cluster up in %.1fs: %s, kubeconfig %s\n", time.Since(begin).Seconds(), c.Server(), c.Kubeconfig())
	return nil
}

// Down stops the cluster's servers in reverse order of start (the real
// node, controllers, API server, etcd), each by its recorded pid, and removes
// what the real node made on the host. Data stays for the next Up.
func Down(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ps := (Options{Dir: dir}).processes()
	var errs []error
	if state, err := ReadNodeState(dir); err == nil && (state.Enabled || isDir(filepath.Join(dir, "node"))) {
		node := map[string]process{}
		for _, p := range processesIn(dir, nodeProcesses) {
			node[p.name] = p
		}
		errs = append(errs, stopNode(dir, node, NodeBinaries{KubeProxy: state.KubeProxy, Containerd: state.Containerd}))
	}
	for i := len(ps) - 1; i >= 0; i-- {
		errs = append(errs, ps[i].stop(10*time.Second))
	}
	return errors.Join(errs...)
}

// Delete stops the cluster and removes its folder.
func Delete(dir string) error {
	if err := Down(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// loadPorts reuses the ports of an earlier start (etcd keeps its member URLs
// in its data), or picks free ones.
func (c *Cluster) loadPorts() error {
	path := filepath.Join(c.opts.Dir, "ports.json")
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &c.ports); err != nil {
			return err
		}
	}
	// Ports a cluster of an earlier version did not have are picked now.
	missing := []*int{&c.ports.Etcd, &c.ports.EtcdPeer, &c.ports.APIServer, &c.ports.ControllerManager, &c.ports.Scheduler, &c.ports.KwokMetrics,
		&c.ports.Kubelet, &c.ports.KubeletHealthz, &c.ports.KubeProxyHealthz, &c.ports.KubeProxyMetrics, &c.ports.CoreDNSHealth, &c.ports.CoreDNSReady}
	missing = slices.DeleteFunc(missing, func(p *int) bool { return *p != 0 })
	if len(missing) == 0 {
		return nil
	}
	free, err := freePorts(len(missing))
	if err != nil {
		return err
	}
	for i, p := range missing {
		*p = free[i]
	}
	data, _ := json.Marshal(c.ports)
	return os.WriteFile(path, data, 0o600)
}

func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// EtcdURL is where etcd serves its clients: TLS, with a client certificate
// of the etcd CA required.
func (c *Cluster) EtcdURL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.ports.Etcd) }

func (c *Cluster) etcdArgs() []string {
	p := c.pki.path
	client := c.EtcdURL()
	peer := fmt.Sprintf("https://127.0.0.1:%d", c.ports.EtcdPeer)
	return []string{
		"--name=local",
		"--data-dir=" + filepath.Join(c.opts.Dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--cert-file=" + p("etcd-server.crt"), "--key-file=" + p("etcd-server.key"),
		"--client-cert-auth", "--trusted-ca-file=" + p("etcd-ca.crt"),
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--peer-cert-file=" + p("etcd-peer.crt"), "--peer-key-file=" + p("etcd-peer.key"),
		"--peer-client-cert-auth", "--peer-trusted-ca-file=" + p("etcd-ca.crt"),
		"--initial-cluster=local=" + peer,
		"--unsafe-no-fsync", // a throwaway cluster: speed over durability
		"--quota-backend-bytes=2147483648",
	}
}

func (c *Cluster) apiServerArgs() []string {
	p := c.pki.path
	return []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.APIServer),
		"--advertise-address=127.0.0.1",
		// A loopback advertise address is refused unless the endpoint
		// reconciler is off; nothing outside this machine needs the endpoints.
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + c.EtcdURL(),
		"--etcd-cafile=" + p("etcd-ca.crt"), "--etcd-certfile=" + p("apiserver-etcd-client.crt"), "--etcd-keyfile=" + p("apiserver-etcd-client.key"),
		"--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--token-auth-file=" + p("tokens.csv"),
		// The real node's kubelet is authorized as a node, as in any cluster.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate=" + p("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + p("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		// As kind, EKS and GKE run: privileged containers are allowed by the
		// server, and Pod Security admission (on by default) decides per
		// namespace, so prod's privileged pieces are tried here too.
		"--allow-privileged=true",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p("sa.pub"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		// Aggregation layer: without these the controllers log CA-bundle errors forever.
		"--requestheader-client-ca-file=" + p("front-proxy-ca.crt"),
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p("front-proxy-client.crt"),
		"--proxy-client-key-file=" + p("front-proxy-client.key"),
		"--profiling=false",
	}
}

func (c *Cluster) controllerManagerArgs() []string {
	return append(c.controlPlaneArgs("controller-manager.kubeconfig", c.ports.ControllerManager),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+c.pki.path("sa.key"),
		"--root-ca-file="+c.pki.path("ca.crt"),
		"--cluster-name=local",
		// A stack's destroy deletes its namespaces, one per service, and waits
		// for each to be emptied: the namespace controller's default of 10 at
		// a time made the 40-service destroy wait in four rounds.
		"--concurrent-namespace-syncs=50",
	)
}

func (c *Cluster) schedulerArgs() []string {
	return c.controlPlaneArgs("scheduler.kubeconfig", c.ports.Scheduler)
}

// controlPlaneArgs are the flags the controller-manager and the scheduler
// share: their identity, and a loopback-only serving port.
func (c *Cluster) controlPlaneArgs(kubeconfigFile string, port int) []string {
	kubeconfig := filepath.Join(c.opts.Dir, kubeconfigFile)
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--leader-elect=false",
		"--requestheader-client-ca-file=" + c.pki.path("front-proxy-ca.crt"),
		"--client-ca-file=" + c.pki.path("ca.crt"),
		"--profiling=false",
	}
}

func (c *Cluster) kwokArgs() []string {
	return []string{
		"--kubeconfig=" + filepath.Join(c.opts.Dir, "kwok.kubeconfig"),
		"--config=" + filepath.Join(c.opts.Dir, "kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:" + strconv.Itoa(c.ports.KwokMetrics),
	}
}

// writeKubeconfigs writes one kubeconfig per identity; the admin one is the
// cluster's kubeconfig for users, Pulumi and kubectl.
func (c *Cluster) writeKubeconfigs() error {
	files := map[string]string{
		"kubeconfig":                    "admin",
		"kwok.kubeconfig":               "kwok",
		"controller-manager.kubeconfig": "system:kube-controller-manager",
		"scheduler.kubeconfig":          "system:kube-scheduler",
		"kubelet.kubeconfig":            "system:node:" + NodeName,
		"kube-proxy.kubeconfig":         "system:kube-proxy",
		"coredns.kubeconfig":            "system:coredns",
	}
	for file, user := range files {
		token, err := c.pki.token(user)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.opts.Dir, file), []byte(c.kubeconfig(token)), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) kubeconfig(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: local
  user:
    token: %s
contexts:
- name: local
  context:
    cluster: local
    user: local
current-context: local
`, c.Server(), c.pki.path("ca.crt"), token)
}

// waitHTTP polls url until it answers 200, failing early if the server exits.
func (c *Cluster) waitHTTP(ctx context.Context, url, token string, p process, tlsConfig *tls.Config) error {
	if tlsConfig == nil {
		pool := x509.NewCertPool()
		if ca, err := os.ReadFile(c.pki.path("ca.crt")); err == nil {
			pool.AppendCertsFromPEM(ca)
		}
		tlsConfig = &tls.Config{RootCAs: pool}
	}
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig},
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if _, alive := p.running(); !alive {
			return fmt.Errorf("%s exited during start; see %s", p.name, p.logFile)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w; see %s", p.name, url, ctx.Err(), p.logFile)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kubectl runs kubectl against the cluster with the admin kubeconfig, its
// cache inside the cluster folder (never ~/.kube), and returns its output.
func (c *Cluster) Kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.opts.Binaries.Kubectl, append([]string{"--kubeconfig=" + c.Kubeconfig()}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(c.opts.Dir, "kube-cache"), "KUBECONFIG="+c.Kubeconfig())
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (c *Cluster) kubectl(ctx context.Context, stdin []byte, args ...string) error {
	_, err := c.Kubectl(ctx, stdin, args...)
	return err
}

func (c *Cluster) kubectlApply(ctx context.Context, manifest string) error {
	return c.kubectl(ctx, []byte(manifest), "apply", "--server-side", "--field-manager=localcluster", "-f", "-")
}

// bootstrapObjects are the fake nodes, one per zone (and the stand-in of
// the real node when it does not run), and the default StorageClass whose
// claims kwok provisions and binds.
func (c *Cluster) bootstrapObjects() string {
	var b strings.Builder
	for i, zone := range c.opts.Zones {
		b.WriteString(kwokNode(fmt.Sprintf("node-%d", i+1), zone, "kwok", "", "16", "64Gi", "100Gi", "110"))
	}
	if c.opts.Node == nil {
		// Without the real node, kwok plays it: the same name, labels and
		// taint, so the local stack's placement holds either way.
		b.WriteString(kwokNode(NodeName, "zone-real", NodeType, NodeTaint, "2", "8Gi", "50Gi", "30"))
	}
	// CoreDNS reads what its kubernetes plugin serves (CoreDNS's own
	// deployment manifest, coredns/deployment kubernetes/coredns.yaml.sed).
	b.WriteString(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:coredns
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: system:coredns}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kwok-volume
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
`)
	return b.String()
}

// kwokNode is a node kwok plays; with a taint key, tainted NoSchedule. Like
// a real node it has a disk for ephemeral storage: every container bounds
// its own.
func kwokNode(name, zone, nodeType, taint, cpu, memory, disk, pods string) string {
	spec := "spec: {}"
	if taint != "" {
		spec = fmt.Sprintf("spec:\n  taints:\n  - {key: %s, value: \"true\", effect: NoSchedule}", taint)
	}
	capacity := fmt.Sprintf("{cpu: %q, memory: %s, ephemeral-storage: %s, pods: %q}", cpu, memory, disk, pods)
	return fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %[1]s
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: %[1]s
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: %[2]s
    topology.kubernetes.io/region: local
    type: %[3]s
%[4]s
status:
  allocatable: %[5]s
  capacity: %[5]s
---
`, name, zone, nodeType, spec, capacity)
}

//go:embed stages.yaml
var ownStages string

// Stages returns kwok's stage configuration: upstream's stages (from the file
// scripts/tools.sh assembles out of the kwok module) followed by our own.
func Stages(upstreamFile string) (string, error) {
	upstream, err := os.ReadFile(upstreamFile)
	if err != nil {
		return "", fmt.Errorf("reading kwok's stages (built by scripts/tools.sh): %w", err)
	}
	return string(upstream) + "---\n" + ownStages, nil
}

// EtcdClientTLS is what a client of etcd needs: the etcd CA and the API
// server's client certificate, the only one etcd takes.
func (c *Cluster) EtcdClientTLS() (*tls.Config, error) {
	ca, err := os.ReadFile(c.pki.path("etcd-ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(c.pki.path("apiserver-etcd-client.crt"), c.pki.path("apiserver-etcd-client.key"))
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}
