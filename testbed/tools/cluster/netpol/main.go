// Command netpol is kube-router v2.1.0's network policy controller alone, as
// kube-router runs it with --run-firewall and without its router and
// service proxy (pkg/cmd/kube-router.go): it enforces the cluster's
// NetworkPolicies on the real node's pods with iptables and ipset, beside
// the bridge CNI plugin and kube-proxy. Built in the Kubernetes tools'
// module, it shares their client-go and build cache, and leaves out what
// the other controllers need (GoBGP, IPVS, the Docker client).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the controller's kubeconfig")
	node := flag.String("node", "", "the node whose pods it guards (its Node object's name)")
	services := flag.String("service-cidr", "10.96.0.0/12", "the cluster's Service addresses")
	klog.InitFlags(nil) // -v=1 logs each sync of the rules: its start and how long it took
	flag.Parse()
	if err := run(*kubeconfig, *node, *services); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		os.Exit(1)
	}
}

// run enforces the policies until SIGINT or SIGTERM. What it leaves in
// iptables (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-* chains) and ipset
// (KUBE-SRC-*, KUBE-DST-*) is removed by the local cluster's Down, which
// needs no API server for it (kube-router's own --cleanup-config, v2.1.0,
// cleans with a controller it never set up, and finds nothing).
func run(kubeconfig, node, services string) error {
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	config := options.NewKubeRouterConfig()
	config.HostnameOverride, config.ClusterIPCIDRs = node, []string{services}
	config.EnableIPv4, config.RunFirewall = true, true
	// Policies apply within a second of a change, and are resynced often.
	config.IPTablesSyncPeriod = 30 * time.Second

	factory := informers.NewSharedInformerFactory(client, 0)
	pods := factory.Core().V1().Pods().Informer()
	namespaces := factory.Core().V1().Namespaces().Informer()
	policies := factory.Networking().V1().NetworkPolicies().Informer()
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(stop)

	iptables, ipsets, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return err
	}
	var ipsetMutex sync.Mutex
	npc, err := netpol.NewNetworkPolicyController(client, config, pods, policies, namespaces, &ipsetMutex, iptables, ipsets)
	if err != nil {
		return err
	}
	if _, err := pods.AddEventHandler(npc.PodEventHandler); err != nil {
		return err
	}
	if _, err := namespaces.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return err
	}
	if _, err := policies.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return err
	}
	health := make(chan *healthcheck.ControllerHeartbeat, 10)
	go func() {
		for range health {
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go npc.Run(health, stop, &wg)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	close(stop)
	wg.Wait()
	return nil
}
