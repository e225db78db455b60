//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/kube"
	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/pulumitest"
)

// TestKafkaMountLayoutOnRunc runs the Kafka container's mount layout, as the
// observability component declares it for prod, on Debian's runc the way
// containerd's CRI lays it out: every volumeMount a bind mount (read-only
// where the spec says), plus an anonymous volume on every image VOLUME that no
// mount equals (apache/kafka 4.1.0 declares /etc/kafka/secrets,
// /var/lib/kafka/data, /mnt/shared/config), mounts ordered parents first, the
// root filesystem read-only, as the image's user. The process, a shell in
// place of the broker, writes where the broker writes its log (log.dirs):
// the container must start, and the write must land on the claim.
func TestKafkaMountLayoutOnRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not installed: `make e2e` installs it (Debian's runc and busybox-static)")
	}
	shell, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed: `make e2e` installs it (Debian's busybox-static)")
	}
	container, config := kafkaPodSpec(t)
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	// What the image has: its VOLUME folders, /etc/kafka and /tmp.
	imageVolumes := []string{"/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"}
	for _, dir := range append([]string{"/bin", "/proc", "/dev", "/sys", "/tmp", "/etc/kafka"}, imageVolumes...) {
		if err := os.MkdirAll(filepath.Join(rootfs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if data, err := os.ReadFile(shell); err != nil || os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755) != nil {
		t.Fatalf("copying busybox: %v", err)
	}
	if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", "sh")); err != nil {
		t.Fatal(err)
	}

	claim := filepath.Join(bundle, "claim")
	var mounts []map[string]any
	mountedAt := map[string]bool{}
	for _, m := range container["volumeMounts"].([]any) {
		m := m.(map[string]any)
		name, dest := m["name"].(string), m["mountPath"].(string)
		source := filepath.Join(bundle, "volumes", name)
		if name == "data" {
			source = claim
		}
		if err := os.MkdirAll(source, 0o777); err != nil {
			t.Fatal(err)
		}
		if name == "config" {
			for file, content := range config {
				if err := os.WriteFile(filepath.Join(source, file), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		options := []string{"rbind", "rw"}
		if ro, _ := m["readOnly"].(bool); ro {
			options = []string{"rbind", "ro"}
		}
		mounts = append(mounts, map[string]any{"destination": dest, "type": "bind", "source": source, "options": options})
		mountedAt[dest] = true
	}
	for i, dest := range imageVolumes {
		if mountedAt[dest] {
			continue
		}
		// containerd fills an anonymous volume from the image's folder,
		// ownership included: the image gives its VOLUMEs to appuser (1000).
		source := filepath.Join(bundle, "anonymous", fmt.Sprint(i))
		if err := os.MkdirAll(source, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(source, 1000, 0); err != nil {
			t.Fatal(err)
		}
		mounts = append(mounts, map[string]any{"destination": dest, "type": "bind", "source": source, "options": []string{"rbind", "rw"}})
	}
	// containerd's CRI orders mounts by depth, parents first.
	sort.SliceStable(mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(mounts[i]["destination"].(string)), "/") < strings.Count(filepath.Clean(mounts[j]["destination"].(string)), "/")
	})
	// The claim is the pod's fsGroup's: writable by the broker's user.
	if err := os.Chown(claim, 1000, 1000); err != nil {
		t.Fatal(err)
	}

	logDir := propertyOf(config["server.properties"], "log.dirs")
	if logDir == "" {
		t.Fatal("server.properties sets no log.dirs")
	}
	writeConfig(t, runc, bundle, mounts, fmt.Sprintf("mkdir -p %s && echo written > %s/probe", logDir, logDir))
	run := exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("platform-e2e-%d", time.Now().UnixNano()))
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the Kafka container does not start on runc: %v\n%s\nmounts: %v", err, out, mounts)
	}
	rel, err := filepath.Rel("/var/lib/kafka/data", logDir)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("log.dirs %s is not on the claim mounted at /var/lib/kafka/data", logDir)
	}
	if data, err := os.ReadFile(filepath.Join(claim, rel, "probe")); err != nil || string(data) != "written\n" {
		t.Fatalf("the broker's write did not reach the claim (an anonymous volume took it?): %v", err)
	}
}

// kafkaPodSpec is the Kafka container as the component declares it for prod,
// and the files of its ConfigMap.
func kafkaPodSpec(t *testing.T) (container map[string]any, config map[string]string) {
	t.Helper()
	certs, err := observability.NewCertificates("observability", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	args := observability.Profile("prod")
	args.ElasticPassword = pulumi.String("e2e")
	args.TLS = &observability.TLS{CA: pulumi.String(certs.CA), Certificate: pulumi.String(certs.Certificate), Key: pulumi.String(certs.Key)}
	g := observabilityGraph(t, args)
	sts := g.One(t, "kubernetes:apps/v1:StatefulSet", "observability-kafka")
	container = sts.MustInput(t, "spec.template.spec.containers.0").(map[string]any)
	for _, cm := range g.OfType("kubernetes:core/v1:ConfigMap") {
		data, _ := cm.Input("data")
		if d, ok := data.(map[string]any); ok && d["server.properties"] != nil {
			config = map[string]string{}
			for k, v := range d {
				config[k] = v.(string)
			}
		}
	}
	if config == nil {
		t.Fatal("no Kafka ConfigMap with server.properties")
	}
	return container, config
}

// propertyOf reads key from a Java properties text.
func propertyOf(properties, key string) string {
	for _, line := range strings.Split(properties, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// writeConfig writes the bundle's OCI config: runc's default spec with the
// mounts added, a read-only root, the image's user, and script as the process.
func writeConfig(t *testing.T, runc, bundle string, mounts []map[string]any, script string) {
	t.Helper()
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := json.Unmarshal(data, &config); err != nil {
		t.Fatal(err)
	}
	process := config["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []string{"/bin/sh", "-c", script}
	process["user"] = map[string]any{"uid": 1000, "gid": 1000}
	config["root"] = map[string]any{"path": "rootfs", "readonly": true}
	config["mounts"] = append(config["mounts"].([]any), anySlice(mounts)...)
	if data, err = json.Marshal(config); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func anySlice(mounts []map[string]any) []any {
	out := make([]any, len(mounts))
	for i, m := range mounts {
		out[i] = m
	}
	return out
}

// observabilityGraph declares the observability component with args under
// mocks, as a stack would for the greeter, and returns what it registers.
func observabilityGraph(t *testing.T, args observability.Args) *pulumitest.Graph {
	t.Helper()
	args.TelemetryFrom = []string{"greeter"}
	g, err := pulumitest.Component(t, args.Environment, func(ctx *pulumi.Context) (pulumi.ProviderResource, error) {
		return kube.NewProvider(ctx, "k8s", "", "")
	}, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		_, err := observability.NewObservability(ctx, "observability", args, provider)
		return err
	})
	return pulumitest.Must(t, g, err)
}
