package localcluster

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/internal/proc"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPKI(t *testing.T) {
	p := clusterPKI{dir: filepath.Join(t.TempDir(), "pki")}
	if err := p.ensure(); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, p.path("ca.crt")))
	serving := readCert(t, p.path("apiserver.crt"))
	for _, host := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", serviceIP} {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("serving certificate not valid for %s: %v", host, err)
		}
	}
	frontRoots := x509.NewCertPool()
	frontRoots.AddCert(readCert(t, p.path("front-proxy-ca.crt")))
	client := readCert(t, p.path("front-proxy-client.crt"))
	if _, err := client.Verify(x509.VerifyOptions{Roots: frontRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("front-proxy client certificate: %v", err)
	}
	if client.Subject.CommonName != frontProxyClientName {
		t.Errorf("front-proxy client CN %q", client.Subject.CommonName)
	}
	admin, err := p.token("admin")
	if err != nil || len(admin) < 32 {
		t.Fatalf("admin token %q, %v", admin, err)
	}
	data, _ := os.ReadFile(p.path("tokens.csv"))
	if !strings.Contains(string(data), admin+",admin,uid-0,system:masters\n") {
		t.Errorf("token file line for admin: %s", data)
	}
	for _, f := range []string{"ca.key", "sa.key", "tokens.csv"} {
		if info, err := os.Stat(p.path(f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, info.Mode().Perm(), err)
		}
	}
	// A second ensure keeps the identity: kubeconfigs handed out stay valid.
	if err := p.ensure(); err != nil {
		t.Fatal(err)
	}
	if again, _ := p.token("admin"); again != admin {
		t.Error("a second ensure replaced the tokens")
	}
}

func TestProcessStartStop(t *testing.T) {
	dir := t.TempDir()
	p := process{name: "sleeper", pidFile: filepath.Join(dir, "sleeper.pid"), logFile: filepath.Join(dir, "sleeper.log")}
	if err := p.start("/bin/sleep", []string{"60"}, true); err != nil {
		t.Fatal(err)
	}
	pid, ok := p.running()
	if !ok {
		t.Fatal("started process not running")
	}
	t.Cleanup(func() { _ = p.stop(time.Second) })
	if err := p.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.running(); ok {
		t.Fatalf("pid %d still running after stop", pid)
	}
	if _, err := os.Stat(p.pidFile); !os.IsNotExist(err) {
		t.Error("pid file left after stop")
	}
}

// A pid file whose process is gone, and whose pid now belongs to another
// process, must never lead to signalling that process.
func TestStopNeverSignalsAReusedPid(t *testing.T) {
	dir := t.TempDir()
	p := process{name: "stale", pidFile: filepath.Join(dir, "stale.pid")}
	self := os.Getpid()
	started, err := proc.StartTicks(self)
	if err != nil {
		t.Fatal(err)
	}
	record := fmt.Sprintf("%d %d /bin/sleep\n", self, started+1) // same pid, another start time
	if err := os.WriteFile(p.pidFile, []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.running(); ok {
		t.Fatal("a pid with another start time counts as our process")
	}
	if err := p.stop(time.Second); err != nil {
		t.Fatal(err)
	}
	// Still alive to run this line: stop did not signal us.
}

func TestRunningReportsEachServer(t *testing.T) {
	running, stopped := Running(t.TempDir())
	if len(running) != 0 || len(stopped) != 5 {
		t.Fatalf("empty folder: running %v, stopped %v", running, stopped)
	}
}

func TestStagesAppendOurOwn(t *testing.T) {
	upstream := filepath.Join(t.TempDir(), "stages.yaml")
	if err := os.WriteFile(upstream, []byte("kind: Stage\nmetadata:\n  name: pod-ready\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stages, err := Stages(upstream)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pod-ready", "service-load-balancer", "ingress-address"} {
		if !strings.Contains(stages, "name: "+name) {
			t.Errorf("stage %s missing", name)
		}
	}
	if _, err := Stages(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "scripts/tools.sh") {
		t.Errorf("missing upstream stages: %v", err)
	}
}

// The machine's real node belongs to the cluster that claimed it while its
// node processes run; a claim whose processes are gone is abandoned, and
// the next cluster to start a real node cleans up after it.
func TestRealNodeClaim(t *testing.T) {
	nodeClaim = filepath.Join(t.TempDir(), "claim")
	t.Cleanup(func() { nodeClaim = "/run/platform-real-node" })
	live, dead, self := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{live, dead} {
		if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	kubelet := processesIn(live, []string{"kubelet"})[0]
	kubelet.logFile = filepath.Join(live, "kubelet.log")
	if err := kubelet.start("/bin/sleep", []string{"60"}, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kubelet.stop(time.Second) })

	cases := []struct {
		name, claim                 string
		owner, elsewhere, abandoned string
	}{
		{"no claim", "", "", "", ""},
		{"a running cluster's", live, live, live, ""},
		{"our own", self, "", "", ""},
		{"a dead cluster's", dead, "", "", dead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(nodeClaim)
			if c.claim != "" {
				if err := os.WriteFile(nodeClaim, []byte(c.claim+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := RealNodeOwner(); got != c.owner {
				t.Errorf("RealNodeOwner() = %q, want %q", got, c.owner)
			}
			if got := claimedElsewhere(self); got != c.elsewhere {
				t.Errorf("claimedElsewhere(self) = %q, want %q", got, c.elsewhere)
			}
			if got := abandonedClaim(self); got != c.abandoned {
				t.Errorf("abandonedClaim(self) = %q, want %q", got, c.abandoned)
			}
		})
	}
}
