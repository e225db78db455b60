//go:build e2e

package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterServesWhatStacksNeed checks the local cluster's promises that the
// stacks rely on: nodes in three zones, pods that become ready (Deployment,
// StatefulSet with volumes, DaemonSet), claims that bind, and addresses for
// LoadBalancer Services and Ingresses, which Pulumi waits for.
func TestClusterServesWhatStacksNeed(t *testing.T) {
	zones := strings.Fields(string(kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.labels.topology\.kubernetes\.io/zone}{" "}{end}`)))
	if len(zones) < 3 || zones[0] == zones[1] || zones[1] == zones[2] || zones[0] == zones[2] {
		t.Errorf("want at least 3 nodes in 3 zones, got zones %v", zones)
	}
	// Every container of the stacks requests ephemeral storage: the nodes must have some.
	for _, disk := range strings.Fields(string(kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.status.allocatable.ephemeral-storage}{" "}{end}`))) {
		if disk == "" || disk == "0" {
			t.Errorf("a node offers no ephemeral storage: %q", disk)
		}
	}
	const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: cluster-check}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: store, namespace: cluster-check}
spec:
  serviceName: store
  replicas: 2
  selector: {matchLabels: {app: store}}
  template:
    metadata: {labels: {app: store}}
    spec:
      containers: [{name: store, image: "example/store:1", volumeMounts: [{name: data, mountPath: /data}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: cluster-check}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "example/agent:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: public, namespace: cluster-check}
spec:
  type: LoadBalancer
  selector: {app: store}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: cluster-check}
spec:
  rules:
  - host: web.local
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: public, port: {number: 80}}}}]}
`
	if _, err := env.cluster.Kubectl(t.Context(), []byte(manifest), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.cluster.Kubectl(t.Context(), nil, "delete", "namespace", "cluster-check", "--wait=true", "--timeout=60s")
	})

	kubectl(t, "-n", "cluster-check", "rollout", "status", "statefulset/store", "--timeout=60s")
	kubectl(t, "-n", "cluster-check", "rollout", "status", "daemonset/agent", "--timeout=60s")
	if ready := string(kubectl(t, "-n", "cluster-check", "get", "daemonset", "agent", "-o", "jsonpath={.status.numberReady}")); ready != "3" {
		t.Errorf("DaemonSet ready on %s nodes, want 3", ready)
	}
	phases := string(kubectl(t, "-n", "cluster-check", "get", "pvc", "-o", "jsonpath={.items[*].status.phase}"))
	if phases != "Bound Bound" {
		t.Errorf("claims %q, want two Bound", phases)
	}
	waitFor(t, "LoadBalancer address", func() string {
		return string(kubectl(t, "-n", "cluster-check", "get", "service", "public", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
	}, "127.0.0.1")
	waitFor(t, "Ingress address", func() string {
		return string(kubectl(t, "-n", "cluster-check", "get", "ingress", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
	}, "127.0.0.1")
}

func waitFor(t *testing.T, what string, get func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := get()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", what, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The API server allows privileged containers, as real clusters do, and Pod
// Security admission still refuses them where a namespace enforces more.
func TestPrivilegedPodsAreGovernedPerNamespace(t *testing.T) {
	const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s, labels: {pod-security.kubernetes.io/enforce: %[1]s}}
---
apiVersion: v1
kind: Pod
metadata: {name: tuner, namespace: %[1]s}
spec:
  containers: [{name: tuner, image: "example/tuner:1", securityContext: {privileged: true}}]
`
	for _, level := range []string{"privileged", "restricted"} {
		t.Cleanup(func() {
			_, _ = env.cluster.Kubectl(t.Context(), nil, "delete", "namespace", level, "--wait=false")
		})
		out, err := env.cluster.Kubectl(t.Context(), []byte(fmt.Sprintf(manifest, level)), "apply", "-f", "-")
		switch {
		case level == "privileged" && err != nil:
			t.Errorf("a privileged pod in a privileged namespace was refused: %v\n%s", err, out)
		case level == "restricted" && (err == nil || !strings.Contains(err.Error(), "violates PodSecurity")):
			t.Errorf("a privileged pod in a restricted namespace: %v\n%s", err, out)
		}
	}
}

// TestEtcdTakesOnlyTheAPIServer: the local cluster's etcd answers only a
// client with a certificate of its own CA, which only the API server holds;
// plain HTTP, TLS without a client certificate, and a certificate of the
// cluster's other CA are refused (any of them could write a privileged pod
// on the real node: root on the host).
func TestEtcdTakesOnlyTheAPIServer(t *testing.T) {
	health := env.cluster.EtcdURL() + "/health"
	good, err := env.cluster.EtcdClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(env.clusterDir, "pki")
	otherCA, err := tls.LoadX509KeyPair(filepath.Join(pki, "apiserver-kubelet-client.crt"), filepath.Join(pki, "apiserver-kubelet-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(url string, config *tls.Config) (int, error) {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: config}}
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := ask(health, good); err != nil || code != http.StatusOK {
		t.Fatalf("etcd with the API server's client certificate: %d, %v", code, err)
	}
	for name, try := range map[string]func() (int, error){
		"plain HTTP":            func() (int, error) { return ask(strings.Replace(health, "https://", "http://", 1), nil) },
		"no client certificate": func() (int, error) { return ask(health, &tls.Config{RootCAs: good.RootCAs}) },
		"the cluster CA's certificate": func() (int, error) {
			return ask(health, &tls.Config{RootCAs: good.RootCAs, Certificates: []tls.Certificate{otherCA}})
		},
	} {
		if code, err := try(); err == nil && code == http.StatusOK {
			t.Errorf("etcd answered a client with %s", name)
		} else {
			t.Logf("%s: refused (%d, %v)", name, code, err)
		}
	}
}
