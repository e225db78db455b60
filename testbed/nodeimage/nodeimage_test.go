package nodeimage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/acme/platform/testbed/imagecontract"
)

// dockerfileFinalStage reads the instructions of a Dockerfile's last stage
// that shape the image: USER, EXPOSE, ENTRYPOINT and COPY destinations.
func dockerfileFinalStage(t *testing.T, path string) (user string, expose, entrypoint, copies []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "FROM":
			user, expose, entrypoint, copies = "", nil, nil, nil
		case "USER":
			user = fields[1]
		case "EXPOSE":
			expose = append(expose, fields[1:]...)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.Join(fields[1:], " ")), &entrypoint); err != nil {
				t.Fatal(err)
			}
		case "COPY":
			copies = append(copies, fields[len(fields)-1])
		}
	}
	return user, expose, entrypoint, copies
}

func files(t *testing.T, b Built) map[string]*tar.Header {
	t.Helper()
	layers, err := b.Image.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v, %v; want one", layers, err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	r := tar.NewReader(rc)
	for {
		h, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
}

func config(t *testing.T, b Built) v1.Config {
	t.Helper()
	cfg, err := b.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("%s is %s/%s, want linux/amd64", b.Name, cfg.OS, cfg.Architecture)
	}
	return cfg.Config
}

// The greeter's image is what app/Dockerfile's final stage makes: its user,
// ports, entrypoint and files, the binary static and executable.
func TestGreeterIsTheDockerfilesFinalStage(t *testing.T) {
	image, err := Greeter(t.Context(), "../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Build()
	if err != nil {
		t.Fatal(err)
	}
	user, expose, entrypoint, copies := dockerfileFinalStage(t, "../../app/Dockerfile")
	cfg := config(t, b)
	if cfg.User != user {
		t.Errorf("user %q, the Dockerfile's %q", cfg.User, user)
	}
	if !slices.Equal(cfg.Entrypoint, entrypoint) {
		t.Errorf("entrypoint %q, the Dockerfile's %q", cfg.Entrypoint, entrypoint)
	}
	for _, port := range expose {
		if _, ok := cfg.ExposedPorts[port+"/tcp"]; !ok {
			t.Errorf("port %s not exposed: %v", port, cfg.ExposedPorts)
		}
	}
	got := files(t, b)
	for _, path := range copies {
		h, ok := got[path]
		if !ok || h.Typeflag != tar.TypeReg {
			t.Errorf("%s, which the Dockerfile copies, is not a file of the image", path)
		}
	}
	binary := got[entrypoint[0]]
	if binary == nil || binary.Mode&0o111 == 0 || binary.Uid != 0 {
		t.Fatalf("entrypoint %s: %+v, want an executable owned by root", entrypoint[0], binary)
	}
	if passwd := got["/etc/passwd"]; passwd == nil {
		t.Error("no /etc/passwd")
	}
}

// Jaeger's image meets the contract upstream's Dockerfile sets, which the
// observability component is checked against (testbed/imagecontract).
func TestJaegerMeetsItsImageContract(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "jaeger")
	if err := os.WriteFile(binary, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	image, err := Jaeger(binary)
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Build()
	if err != nil {
		t.Fatal(err)
	}
	contract, ok := imagecontract.Contracts[JaegerName]
	if !ok {
		t.Fatalf("no image contract for %s", JaegerName)
	}
	cfg := config(t, b)
	if cfg.User != "10001" || contract.UID != 10001 {
		t.Errorf("user %q, contract UID %d", cfg.User, contract.UID)
	}
	if !slices.Equal(cfg.Entrypoint, contract.Entrypoint) {
		t.Errorf("entrypoint %q, contract %q", cfg.Entrypoint, contract.Entrypoint)
	}
	for _, v := range contract.Volumes {
		if _, ok := cfg.Volumes[v]; !ok {
			t.Errorf("volume %s of the contract not declared: %v", v, cfg.Volumes)
		}
	}
	got := files(t, b)
	if tmp := got["/tmp"]; tmp == nil || tmp.Typeflag != tar.TypeDir || tmp.Mode != 0o1777 {
		t.Errorf("/tmp: %+v, want a sticky world-writable folder", tmp)
	}
	if got[contract.Entrypoint[0]] == nil {
		t.Errorf("no %s in the image", contract.Entrypoint[0])
	}
}

// The same content makes the same digest (the local stack pins it); other
// content another.
func TestBuildIsReproducible(t *testing.T) {
	image := Image{Name: "localhost/test:1", Files: []File{{Path: "/a/b/c", Mode: 0o644, Content: []byte("x")}}, Config: v1.Config{User: "1"}}
	digest := func(i Image) string {
		b, err := i.Build()
		if err != nil {
			t.Fatal(err)
		}
		d, err := b.Image.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	first := digest(image)
	if again := digest(image); again != first {
		t.Errorf("two builds of one image: %s and %s", first, again)
	}
	changed := image
	changed.Files = []File{{Path: "/a/b/c", Mode: 0o644, Content: []byte("y")}}
	if digest(changed) == first {
		t.Error("other content, same digest")
	}
	b, _ := image.Build()
	got := files(t, b)
	for _, dir := range []string{"/a", "/a/b"} {
		if h := got[dir]; h == nil || h.Typeflag != tar.TypeDir {
			t.Errorf("parent %s missing from the layer", dir)
		}
	}
}

func TestContainerdName(t *testing.T) {
	for ref, want := range map[string]string{
		"busybox:1.37.0":                        "docker.io/library/busybox:1.37.0",
		"jaegertracing/jaeger:2.10.0":           "docker.io/jaegertracing/jaeger:2.10.0",
		"ghcr.io/acme/greeter@sha256:abc":       "ghcr.io/acme/greeter@sha256:abc",
		"localhost/platform/pause:1":            "localhost/platform/pause:1",
		"registry.local:5000/team/app:2":        "registry.local:5000/team/app:2",
		"docker.io/jaegertracing/jaeger:2.10.0": "docker.io/jaegertracing/jaeger:2.10.0",
	} {
		if got := ContainerdName(ref); got != want {
			t.Errorf("ContainerdName(%q) = %q, want %q", ref, got, want)
		}
	}
}

// The archive lists every image under its name and its digest reference, as
// containerd's importer reads them (io.containerd.image.name).
func TestWriteArchiveNamesEachImageTwice(t *testing.T) {
	b, err := Image{Name: "jaegertracing/jaeger:2.10.0", Files: []File{{Path: "/x", Mode: 0o644}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteArchive(path, b); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	r := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "index.json" {
			if err := json.NewDecoder(r).Decode(&index); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Contains(names, "oci-layout") {
		t.Errorf("no oci-layout file in %v", names)
	}
	digest, _ := b.Image.Digest()
	var refs []string
	for _, m := range index.Manifests {
		if m.Digest != digest.String() {
			t.Errorf("index lists %s, want the image's %s", m.Digest, digest)
		}
		refs = append(refs, m.Annotations["io.containerd.image.name"])
	}
	want := []string{"docker.io/jaegertracing/jaeger:2.10.0", "docker.io/jaegertracing/jaeger@" + digest.String()}
	if !slices.Equal(refs, want) {
		t.Errorf("names %v, want %v", refs, want)
	}
}

// The images carry Debian's Mozilla roots and none of the CAs this machine
// adds locally (/usr/local/share/ca-certificates): those differ from machine
// to machine, and so would the greeter's digest.
func TestCABundleLeavesOutLocalCAs(t *testing.T) {
	bundle, err := caBundle()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(bundle, []byte("BEGIN CERTIFICATE")); n < 100 {
		t.Errorf("%d certificates in the bundle; Debian's ca-certificates has over a hundred", n)
	}
	local, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	for _, f := range local {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(data)) > 0 && bytes.Contains(bundle, bytes.TrimSpace(data)) {
			t.Errorf("the images' bundle holds this machine's local CA %s", f)
		}
	}
}
