package observability

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The Elasticsearch pod's config init script, taken from the pod spec the
// component declares, run for real: as the pod's user (UID 1000, group 0, no
// capabilities) against a folder the way the kubelet makes an emptyDir (root's,
// mode 0777), with GNU cp, as the image has.
func TestElasticsearchConfigInitRunsAsThePodUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the script as another user, as the kubelet does")
	}
	g := mustDeploy(t, prodArgs())
	sts := g.One(t, statefulSetType, "observability-elasticsearch")
	inits := sts.MustInput(t, "spec.template.spec.initContainers").([]any)
	var script string
	for _, c := range inits {
		c := c.(map[string]any)
		if c["name"] == "prepare-config" {
			script = c["command"].([]any)[2].(string)
		}
	}
	if script == "" {
		t.Fatal("no prepare-config init container")
	}

	base, err := os.MkdirTemp("", "es-init-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(base, "image-config") // the image's config folder, owned by its user
	for name, content := range map[string]string{"jvm.options": "-Xss1m\n", "log4j2.properties": "status = error\n"} {
		if err := os.MkdirAll(image, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(image, name), []byte(content), 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(image, elasticUID, 0); err != nil {
		t.Fatal(err)
	}
	emptyDir := filepath.Join(base, "config")
	settings := filepath.Join(base, "settings")
	for _, dir := range []string{emptyDir, settings} {
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // past the umask, as the kubelet sets it
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(settings, "elasticsearch.yml"), []byte("cluster.name: test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer("/usr/share/elasticsearch/config", image, "/config/", emptyDir+"/", "/settings/", settings+"/").Replace(script)

	cmd := exec.Command("/bin/sh", "-c", local)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: elasticUID, Gid: 0}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the init script fails as UID %d: %v\n%s\nscript: %s", elasticUID, err, out, local)
	}
	for _, name := range []string{"jvm.options", "log4j2.properties", "elasticsearch.yml"} {
		if _, err := os.Stat(filepath.Join(emptyDir, name)); err != nil {
			t.Errorf("%s not copied: %v", name, err)
		}
	}
}

// With mmap (prod), Elasticsearch waits for the node to be tuned instead of
// crash-looping on its bootstrap check; without, nothing waits.
func TestElasticsearchWaitsForNodeTuningOnlyWithMMap(t *testing.T) {
	for _, tt := range []struct {
		args Args
		want bool
	}{{devArgs(), false}, {prodArgs(), true}} {
		sts := mustDeploy(t, tt.args).One(t, statefulSetType, "observability-elasticsearch")
		first := sts.MustInput(t, "spec.template.spec.initContainers.0.name")
		if waits := first == "wait-for-node-tuning"; waits != tt.want {
			t.Errorf("%s: waits for node tuning %v, want %v", tt.args.Environment, waits, tt.want)
		}
	}
}
