//go:build e2e

package e2e

import (
	"fmt"
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
