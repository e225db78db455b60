//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
	"github.com/acme/platform/testbed/localcluster"
)

// The steps of TestLocalStack that need the real node: the greeter's and
// Jaeger's pods run there for real (containerd, runc, the kubelet), the rest
// of the observability stack on kwok's nodes.

const greeterURL = "http://greeter.greeter.svc.cluster.local:8080"

// greeterPod is what the API server and the host say about a pod of the greeter.
type greeterPod struct {
	Name, Node, Phase, IP string
	Ready                 bool
	Restarts              int
}

func greeterPods(t *testing.T) []greeterPod {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				Phase      string `json:"phase"`
				PodIP      string `json:"podIP"`
				Conditions []struct {
					Type, Status string
				} `json:"conditions"`
				ContainerStatuses []struct {
					RestartCount int `json:"restartCount"`
				} `json:"containerStatuses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(kubectl(t, "-n", "greeter", "get", "pods", "-l", "app=greeter", "-o", "json"), &list); err != nil {
		t.Fatal(err)
	}
	var pods []greeterPod
	for _, i := range list.Items {
		if i.Metadata.DeletionTimestamp != nil {
			continue
		}
		p := greeterPod{Name: i.Metadata.Name, Node: i.Spec.NodeName, Phase: i.Status.Phase, IP: i.Status.PodIP}
		for _, c := range i.Status.Conditions {
			p.Ready = p.Ready || (c.Type == "Ready" && c.Status == "True")
		}
		for _, c := range i.Status.ContainerStatuses {
			p.Restarts += c.RestartCount
		}
		pods = append(pods, p)
	}
	return pods
}

// testGreeterOnTheRealNode: every greeter pod runs on the real node, Ready
// through its real probes with no restart, and its process runs as the
// restricted profile says: UID 65532, seccomp filtering, no capabilities,
// no privilege gain, a read-only root filesystem.
func testGreeterOnTheRealNode(t *testing.T) {
	requireRealNode(t)
	pods := greeterPods(t)
	if len(pods) == 0 {
		t.Fatal("no greeter pod")
	}
	for _, p := range pods {
		if p.Node != localcluster.NodeName || p.Phase != "Running" || !p.Ready || p.Restarts != 0 {
			t.Errorf("pod %s: %+v; want Running and Ready on %s with 0 restarts", p.Name, p, localcluster.NodeName)
		}
	}
	pids := processesNamed(t, "/greeter")
	if len(pids) != len(pods) {
		t.Fatalf("%d greeter processes on the host, want one per pod (%d)", len(pids), len(pods))
	}
	for _, pid := range pids {
		status := procStatus(t, pid)
		for key, want := range map[string]string{"Uid": "65532", "Gid": "65532", "Seccomp": "2", "NoNewPrivs": "1", "CapEff": "0000000000000000"} {
			if got := strings.Fields(status[key]); len(got) == 0 || got[0] != want {
				t.Errorf("greeter (pid %d) %s: %q, want %s", pid, key, status[key], want)
			}
		}
		if !rootReadOnly(t, pid) {
			t.Errorf("greeter (pid %d) has a writable root filesystem", pid)
		}
		// The API token reaches it as a file (secretFiles), never in its
		// environment, which child processes inherit.
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || strings.Contains(string(environ), apiToken(t)) || !strings.Contains(string(environ), "GREETER_API_TOKEN_FILE=/run/secrets/api-token") {
			t.Errorf("greeter (pid %d): the token in its environment, or no token file named (%v)", pid, err)
		}
	}
}

// testRequestThroughTheService: a pod asks the greeter by its cluster DNS
// name (CoreDNS), through its Service (kube-proxy): without the token the
// gated path refuses, with the secret's token it answers the greeting.
func testRequestThroughTheService(t *testing.T) {
	requireRealNode(t)
	greeting := configuredGreeting(t)
	refused := runClient(t, "refused", "-url", greeterURL+"/v1/greet?name=e2e")
	if refused.LastStatus != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s, want 401", refused.LastStatus, refused.LastBody)
	}
	answered := runClient(t, "answered", "-url", greeterURL+"/v1/greet?name=e2e", "-token", apiToken(t))
	if answered.LastStatus != http.StatusOK || !strings.Contains(answered.LastBody, greeting+", e2e!") {
		t.Errorf("with the token: %d %s (errors %v), want 200 and %q", answered.LastStatus, answered.LastBody, answered.Errors, greeting+", e2e!")
	}
}

// testSpanInJaeger: the request above reached Jaeger on the real node as a
// span of the greeter, found through Jaeger's query API.
func testSpanInJaeger(t *testing.T) {
	requireRealNode(t)
	ip := strings.TrimSpace(string(kubectl(t, "-n", "observability", "get", "pods", "-l", "app.kubernetes.io/name=jaeger",
		"-o", "jsonpath={.items[0].status.podIP}")))
	node := strings.TrimSpace(string(kubectl(t, "-n", "observability", "get", "pods", "-l", "app.kubernetes.io/name=jaeger",
		"-o", "jsonpath={.items[0].spec.nodeName}")))
	if node != localcluster.NodeName || ip == "" {
		t.Fatalf("Jaeger's pod is on %q with IP %q, want the real node", node, ip)
	}
	// The UI and its API answer only with UIUser's password, through the
	// proxy; Jaeger's own query server is on the pod's loopback.
	password := stackstest.File(t, projectRoot, "local")["platform:"+stacks.JaegerUIPasswordKey].Raw
	api := fmt.Sprintf("http://%s:16686/api/services", ip)
	for _, c := range []struct {
		name, user, password string
		want                 int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"a wrong password", observability.UIUser, "not-the-password", http.StatusUnauthorized},
		{"another user", "admin", password, http.StatusUnauthorized},
		{"the UI's credentials", observability.UIUser, password, http.StatusOK},
	} {
		if status, body, err := getAs(api, c.user, c.password); err != nil || status != c.want {
			t.Errorf("Jaeger's API with %s: %d %.200s (%v), want %d", c.name, status, body, err, c.want)
		}
	}
	if status, _, _ := getAs(fmt.Sprintf("http://%s:16686/search", ip), "", ""); status != http.StatusForbidden {
		t.Errorf("Jaeger's UI without credentials: %d, want 403 and the sign-in page", status)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "16687"), 2*time.Second); err == nil {
		conn.Close()
		t.Errorf("Jaeger's query server answers on the pod's address (%s:16687), around the proxy", ip)
	}
	// The greet handler marks its span with greeter.name_length.
	url := fmt.Sprintf("http://%s:16686/api/traces?service=greeter&limit=50&lookback=1h", ip)
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body, err := getAs(url, observability.UIUser, password)
		if err == nil && strings.Contains(string(body), `"key":"greeter.name_length"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of the greet handler in Jaeger at %s: %v %.500s", url, err, body)
		}
		time.Sleep(2 * time.Second)
	}
}

// testKilledContainerRestarts: the kubelet restarts a container whose
// process died, and the pod is Ready again.
func testKilledContainerRestarts(t *testing.T) {
	requireRealNode(t)
	pids := processesNamed(t, "/greeter")
	if len(pids) == 0 {
		t.Fatal("no greeter process on the host")
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		pods := greeterPods(t)
		restarted := 0
		for _, p := range pods {
			if p.Restarts > 0 && p.Ready {
				restarted++
			}
		}
		if restarted == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed container was not restarted to Ready: %+v", pods)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// clientLoop starts a pod that asks the greeter every 50 ms for a while, so
// a rollout can be watched from a client's side; wait gives its report.
func clientLoop(t *testing.T, name string, d time.Duration, extra ...string) (wait func() clientReport) {
	t.Helper()
	startClient(t, name, append([]string{"-url", greeterURL + "/v1/greet", "-token", apiToken(t), "-for", d.String()}, extra...)...)
	waitFor(t, "phase of client pod "+name, func() string {
		return string(kubectl(t, "-n", "greeter", "get", "pod", name, "-o", "jsonpath={.status.phase}"))
	}, "Running")
	return func() clientReport { return clientResult(t, "greeter", name, d+60*time.Second) }
}

type clientReport struct {
	OK         int      `json:"ok"`
	Failed     int      `json:"failed"`
	Errors     []string `json:"errors"`
	LastStatus int      `json:"lastStatus"`
	LastBody   string   `json:"lastBody"`
}

// runClient runs the client pod once in the greeter's namespace and
// returns its report.
func runClient(t *testing.T, name string, args ...string) clientReport {
	t.Helper()
	startClient(t, name, args...)
	return clientResult(t, "greeter", name, 90*time.Second)
}

// startClient creates the client pod in the greeter's namespace (which
// enforces Pod Security restricted, which the pod meets), on the real node,
// with the label role=e2e-client, whose own policy lets it reach anything.
func startClient(t *testing.T, name string, args ...string) {
	t.Helper()
	startClientPods(t, clientPod{"greeter", name, map[string]string{"role": "e2e-client"}, args})
}

// clientPod is a client pod to start: where, named what, labelled how, and
// what it asks (the client's flags; -grace 10s unless they say otherwise).
type clientPod struct {
	namespace, name string
	labels          map[string]string
	args            []string
}

// startClientPods creates the client pods with one kubectl apply, so that
// they start together, and deletes them when the test ends.
func startClientPods(t *testing.T, pods ...clientPod) {
	t.Helper()
	var manifests []string
	namespaces := map[string]bool{}
	for _, p := range pods {
		args := p.args
		if !slices.Contains(args, "-grace") {
			args = append([]string{"-grace", "10s"}, args...)
		}
		quoted, _ := json.Marshal(args)
		labelsJSON, _ := json.Marshal(p.labels)
		manifests = append(manifests, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: %s}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  nodeSelector: {type: %s}
  tolerations: [{key: %s, operator: Exists, effect: NoSchedule}]
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: client
    image: %s
    imagePullPolicy: Never
    args: %s
    resources: {requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 1Mi}, limits: {cpu: 200m, memory: 64Mi, ephemeral-storage: 8Mi}}
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, p.name, p.namespace, labelsJSON, localcluster.NodeType, localcluster.NodeTaint, clientImage, quoted))
		if !namespaces[p.namespace] {
			namespaces[p.namespace] = true
			// The stack's namespaces deny every pod's egress by default: the
			// test's clients declare their own, as a service's clients in its
			// namespace would.
			manifests = append(manifests, fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: e2e-client, namespace: %s}
spec:
  podSelector: {matchLabels: {role: e2e-client}}
  policyTypes: [Egress]
  egress: [{}]
`, p.namespace))
		}
	}
	if _, err := env.cluster.Kubectl(t.Context(), []byte(strings.Join(manifests, "---\n")), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// Gone before the next test looks for pods by label: a stand-in carries
	// the labels of the pods it stands for.
	t.Cleanup(func() {
		names := map[string][]string{}
		for _, p := range pods {
			names[p.namespace] = append(names[p.namespace], p.name)
		}
		for namespace, names := range names {
			args := append([]string{"-n", namespace, "delete", "pod", "--ignore-not-found", "--wait=true", "--timeout=60s"}, names...)
			if _, err := env.cluster.Kubectl(context.Background(), nil, args...); err != nil {
				t.Errorf("deleting the client pods: %v", err)
			}
		}
	})
}

// clientResult waits for the client pod to end and reads its report.
func clientResult(t *testing.T, namespace, name string, timeout time.Duration) clientReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		phase := string(kubectl(t, "-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}"))
		if phase == "Succeeded" || phase == "Failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client pod %s still %s after %s", name, phase, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
	logs := kubectl(t, "-n", namespace, "logs", name)
	var r clientReport
	if err := json.Unmarshal(logs, &r); err != nil {
		t.Fatalf("client pod %s printed %q: %v", name, logs, err)
	}
	t.Logf("client %s: %d ok, %d failed, last %d %s", name, r.OK, r.Failed, r.LastStatus, r.LastBody)
	return r
}

// apiToken is the greeter's API token, as its Secret holds it.
func apiToken(t *testing.T) string {
	t.Helper()
	encoded := kubectl(t, "-n", "greeter", "get", "secret", "-l", "app=greeter", "-o", "jsonpath={.items[0].data.api-token}")
	token, err := base64.StdEncoding.DecodeString(string(encoded))
	if err != nil || len(token) == 0 {
		t.Fatalf("reading the greeter's token: %v (%q)", err, encoded)
	}
	return string(token)
}

// configuredGreeting is GREETING as the greeter's ConfigMap holds it now.
func configuredGreeting(t *testing.T) string {
	t.Helper()
	return string(kubectl(t, "-n", "greeter", "get", "configmap", "-l", "app=greeter", "-o", "jsonpath={.items[0].data.GREETING}"))
}

// processesNamed lists the host's processes whose argv[0] is name.
func processesNamed(t *testing.T, name string) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, dir := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue
		}
		if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 == name {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStatus reads /proc/<pid>/status as key: value.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if key, value, ok := strings.Cut(line, ":"); ok {
			status[key] = strings.TrimSpace(value)
		}
	}
	return status
}

// rootReadOnly says whether the process's / is mounted read-only.
func rootReadOnly(t *testing.T, pid int) bool {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 5 && fields[4] == "/" {
			return strings.Contains(","+fields[5]+",", ",ro,")
		}
	}
	return false
}

// getAs asks url with HTTP Basic credentials (none when user is empty) and
// returns the status and body.
func getAs(url, user, password string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
