//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/internal/pki"
	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
	"github.com/acme/platform/testbed/imagecontract"
)

// TestMountLayoutsOnRunc runs the main container of each stateful part
// (Kafka, Elasticsearch), as the observability component declares it for
// prod, on Debian's runc the way containerd's CRI lays it out: every
// volumeMount a bind mount (read-only where the spec says), plus an anonymous
// volume on every image VOLUME that no mount equals (the image's contract,
// testbed/imagecontract), mounts ordered parents first, the root filesystem
// read-only, as the pod's user. The process, a shell in place of the server,
// writes into every folder the image's contract says the server writes: the
// container must start, every write must succeed, and the data folder's must
// land on the claim.
func TestMountLayoutsOnRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not installed: `make e2e` installs it (Debian's runc and busybox-static)")
	}
	shell, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed: `make e2e` installs it (Debian's busybox-static)")
	}
	g := prodObservability(t)
	for _, part := range []struct {
		name, image string
		// dataDir is where the server writes its data on the claim.
		dataDir func(config map[string]string) string
	}{
		{"kafka", observability.DefaultKafkaImage, func(config map[string]string) string {
			return propertyOf(config["server.properties"], "log.dirs")
		}},
		{"elasticsearch", observability.DefaultElasticImage, func(map[string]string) string { return "/usr/share/elasticsearch/data" }},
	} {
		t.Run(part.name, func(t *testing.T) {
			contract := imagecontract.Contracts[part.image]
			spec, container := statefulSetPod(t, g, "observability-"+part.name)
			config := configMapFiles(t, g, part.name)
			dataDir := part.dataDir(config)
			if dataDir == "" {
				t.Fatal("the part names no data folder")
			}
			runLayout(t, runc, shell, spec, container, config, contract, dataDir)
		})
	}
}

// runLayout lays the container out on runc and checks its writes.
func runLayout(t *testing.T, runc, shell string, spec, container map[string]any, config map[string]string, contract imagecontract.Contract, dataDir string) {
	uid := contract.UID
	if u, ok := spec["securityContext"].(map[string]any)["runAsUser"].(float64); ok {
		uid = int(u)
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	// What the image has: its VOLUME folders and the folders it writes.
	for _, dir := range append(append([]string{"/bin", "/proc", "/dev", "/sys", "/tmp"}, contract.Volumes...), contract.Writes...) {
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
		if err := os.Chmod(source, 0o777); err != nil { // emptyDirs as the kubelet makes them
			t.Fatal(err)
		}
		if name == "config" || name == "settings" {
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
		mountedAt[filepath.Clean(dest)] = true
	}
	for i, dest := range contract.Volumes {
		if mountedAt[filepath.Clean(dest)] {
			continue
		}
		// containerd fills an anonymous volume from the image's folder,
		// ownership included: the images give their VOLUMEs to their user.
		source := filepath.Join(bundle, "anonymous", fmt.Sprint(i))
		if err := os.MkdirAll(source, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(source, contract.UID, 0); err != nil {
			t.Fatal(err)
		}
		mounts = append(mounts, map[string]any{"destination": dest, "type": "bind", "source": source, "options": []string{"rbind", "rw"}})
	}
	// containerd's CRI orders mounts by depth, parents first.
	sort.SliceStable(mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(mounts[i]["destination"].(string)), "/") < strings.Count(filepath.Clean(mounts[j]["destination"].(string)), "/")
	})
	// The claim is the pod's fsGroup's: writable by the server's user.
	if err := os.Chown(claim, uid, uid); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	for _, dir := range append(slices.Clone(contract.Writes), dataDir) {
		fmt.Fprintf(&script, "mkdir -p %[1]s && echo written > %[1]s/probe && ", dir)
	}
	script.WriteString("true")
	writeConfig(t, runc, bundle, mounts, uid, script.String())
	run := exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("platform-e2e-%d", time.Now().UnixNano()))
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the container does not start, or cannot write where its server writes, on runc: %v\n%s\nmounts: %v", err, out, mounts)
	}
	claimMount := ""
	for _, m := range container["volumeMounts"].([]any) {
		if m := m.(map[string]any); m["name"] == "data" {
			claimMount = m["mountPath"].(string)
		}
	}
	rel, err := filepath.Rel(claimMount, dataDir)
	if claimMount == "" || err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("the data folder %s is not on the claim (mounted at %q)", dataDir, claimMount)
	}
	if data, err := os.ReadFile(filepath.Join(claim, rel, "probe")); err != nil || string(data) != "written\n" {
		t.Fatalf("the server's write did not reach the claim (an anonymous volume took it?): %v", err)
	}
}

// prodObservability is the observability component as prod declares it.
func prodObservability(t *testing.T) *pulumitest.Graph {
	t.Helper()
	certs, err := observability.NewCertificates(observability.Scope{Namespace: "observability"}, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	args := observability.Profile("prod")
	args.ElasticPassword = pulumi.String("e2e")
	args.Credentials = &observability.Credentials{KibanaSystem: pulumi.String("e2e-kibana"), LogstashWriter: pulumi.String("e2e-logstash"),
		JaegerWriter: pulumi.String("e2e-jaeger"), SavedObjectsKey: pulumi.String("e2e-saved-objects-key-0123456789abcdef"),
		SecurityKey: pulumi.String("e2e-security-key-0123456789abcdef"), ReportingKey: pulumi.String("e2e-reporting-key-0123456789abcdef")}
	pair := func(p pki.KeyPair) observability.KeyPair {
		return observability.KeyPair{Certificate: pulumi.String(p.Certificate), Key: pulumi.String(p.Key)}
	}
	args.TLS = &observability.TLS{
		CA: pulumi.String(certs.CA), Elasticsearch: pair(certs.Elasticsearch), Kafka: pair(certs.Kafka),
		KafkaFilebeat: pair(certs.KafkaClients.Filebeat), KafkaLogstash: pair(certs.KafkaClients.Logstash), KafkaSetup: pair(certs.KafkaClients.Setup),
	}
	return observabilityGraph(t, args)
}

// statefulSetPod is a StatefulSet's pod spec and its first container.
func statefulSetPod(t *testing.T, g *pulumitest.Graph, name string) (spec, container map[string]any) {
	t.Helper()
	sts := g.One(t, "kubernetes:apps/v1:StatefulSet", name)
	spec = sts.MustInput(t, "spec.template.spec").(map[string]any)
	return spec, spec["containers"].([]any)[0].(map[string]any)
}

// configMapFiles are the files of a part's ConfigMap.
func configMapFiles(t *testing.T, g *pulumitest.Graph, part string) map[string]string {
	t.Helper()
	data := g.One(t, "kubernetes:core/v1:ConfigMap", "observability-"+part).MustInput(t, "data").(map[string]any)
	files := map[string]string{}
	for k, v := range data {
		files[k] = v.(string)
	}
	return files
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
// mounts added, a read-only root, the pod's user, and script as the process.
func writeConfig(t *testing.T, runc, bundle string, mounts []map[string]any, uid int, script string) {
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
	process["user"] = map[string]any{"uid": uid, "gid": uid}
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
	args.UIAuth = &observability.UIAuth{
		PasswordHash: pulumi.String(stackstest.UIAuth[stacks.JaegerUIPasswordHashKey]),
		CookieSecret: pulumi.String(stackstest.UIAuth[stacks.JaegerUICookieSecretKey]),
	}
	g, err := pulumitest.Component(t, args.Environment, func(ctx *pulumi.Context) (pulumi.ProviderResource, error) {
		return kube.NewProvider(ctx, "k8s", kube.Cluster{})
	}, func(ctx *pulumi.Context, provider pulumi.ProviderResource) error {
		_, err := observability.NewObservability(ctx, "observability", args, provider)
		return err
	})
	return pulumitest.Must(t, g, err)
}
