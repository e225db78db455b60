package nodeimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Names the real node's images are imported under. The local stack pins the
// greeter by digest (a test checks its pin is this build's); Jaeger and the
// sandbox by these tags.
const (
	GreeterName = "ghcr.io/acme/greeter:local"
	// JaegerName is the observability component's pinned Jaeger image.
	JaegerName = "jaegertracing/jaeger:2.10.0"
	// UIAuthName is the observability component's pinned OAuth2 Proxy image.
	UIAuthName = "quay.io/oauth2-proxy/oauth2-proxy:v7.15.6"
	// PauseName is containerd's sandbox_image on the real node.
	PauseName = "localhost/platform/pause:1"
)

// mozillaCAs is where Debian's ca-certificates keeps the Mozilla roots, one
// file each: the package the greeter's Dockerfile takes its bundle from
// (golang:*-bookworm's /etc/ssl/certs/ca-certificates.crt).
const mozillaCAs = "/usr/share/ca-certificates/mozilla"

// caBundle is the CA bundle the images carry: the package's roots in the
// order update-ca-certificates writes them (by name). The host's own bundle
// is not used: it also holds the CAs a machine adds locally, which differ
// from machine to machine and would change the images' digests.
func caBundle() ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(mozillaCAs, "*.crt"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("the images carry the CA certificates of Debian's ca-certificates, none found in %s (%v)", mozillaCAs, err)
	}
	slices.Sort(files)
	var bundle []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		bundle = append(bundle, data...)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			bundle = append(bundle, '\n')
		}
	}
	return bundle, nil
}

// defaultPath is the PATH BuildKit gives an image built FROM scratch.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Greeter is the greeter's image with the content of app/Dockerfile's final
// stage: the static binary built as its build stage builds it (VERSION
// "dev"), the CA certificates, passwd and group naming UID 65532, USER
// 65532:65532, EXPOSE 8080, ENTRYPOINT ["/greeter"].
func Greeter(ctx context.Context, projectDir string) (Image, error) {
	binary, err := goBuild(ctx, filepath.Join(projectDir, "app"), ".", "-s -w -X main.version=dev")
	if err != nil {
		return Image{}, err
	}
	ca, err := caBundle()
	if err != nil {
		return Image{}, err
	}
	return Image{
		Name: GreeterName,
		Files: []File{
			{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: ca},
			{Path: "/etc/passwd", Mode: 0o644, Content: []byte("nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n")},
			{Path: "/etc/group", Mode: 0o644, Content: []byte("nonroot:x:65532:\n")},
			{Path: "/greeter", Mode: 0o755, Content: binary},
		},
		Config: v1.Config{
			User: "65532:65532", Env: []string{defaultPath}, Entrypoint: []string{"/greeter"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		},
	}, nil
}

// Jaeger is Jaeger's image as jaeger v1.73.0's cmd/jaeger/Dockerfile makes it
// on its base image (scripts/build/docker/base: alpine with CA certificates):
// the binary at /cmd/jaeger/jaeger-linux, ENV JAEGER_LISTEN_HOST=0.0.0.0,
// VOLUME ["/tmp"], USER 10001, its ports exposed. The binary is the one
// scripts/tools.sh builds statically from the same module; alpine itself is
// left out (the container runs only the binary).
func Jaeger(binary string) (Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return Image{}, fmt.Errorf("jaeger's image (scripts/tools.sh jaeger builds the binary): %w", err)
	}
	ca, err := caBundle()
	if err != nil {
		return Image{}, err
	}
	ports := map[string]struct{}{}
	for _, p := range []string{"5778", "5779", "4317", "4318", "14268", "14250", "9411", "16686", "13132", "13133"} {
		ports[p+"/tcp"] = struct{}{}
	}
	return Image{
		Name: JaegerName,
		Files: []File{
			{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: ca},
			{Path: "/tmp", Mode: 0o777 | os.ModeSticky, Dir: true},
			{Path: "/cmd/jaeger/jaeger-linux", Mode: 0o755, Content: bin},
		},
		Config: v1.Config{
			User: "10001", Env: []string{defaultPath, "JAEGER_LISTEN_HOST=0.0.0.0"},
			Entrypoint: []string{"/cmd/jaeger/jaeger-linux"}, ExposedPorts: ports,
			Volumes: map[string]struct{}{"/tmp": {}},
		},
	}, nil
}

// UIAuth is OAuth2 Proxy's image as oauth2-proxy v7.15.6's Dockerfile makes
// it on gcr.io/distroless/static:nonroot: the binary at /bin/oauth2-proxy,
// an empty /etc/ssl/private/jwt_signing_key.pem, ENTRYPOINT
// ["/bin/oauth2-proxy"]; from the base, the CA certificates, passwd and
// group naming nonroot (65532) and USER 65532. The binary is the one
// scripts/tools.sh builds statically from the same module.
func UIAuth(binary string) (Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return Image{}, fmt.Errorf("OAuth2 Proxy's image (scripts/tools.sh oauth2_proxy builds the binary): %w", err)
	}
	ca, err := caBundle()
	if err != nil {
		return Image{}, err
	}
	return Image{
		Name: UIAuthName,
		Files: []File{
			{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: ca},
			{Path: "/etc/passwd", Mode: 0o644, Content: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
			{Path: "/etc/group", Mode: 0o644, Content: []byte("root:x:0:\nnonroot:x:65532:\n")},
			{Path: "/etc/ssl/private/jwt_signing_key.pem", Mode: 0o644},
			{Path: "/bin/oauth2-proxy", Mode: 0o755, Content: bin},
		},
		Config: v1.Config{
			User: "65532", Env: []string{defaultPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			Entrypoint: []string{"/bin/oauth2-proxy"},
		},
	}, nil
}

// Pause is the pod sandbox's image: testbed/cmd/pause, run as upstream's pause image
// runs (USER 65535:65535, ENTRYPOINT ["/pause"]).
func Pause(ctx context.Context, projectDir string) (Image, error) {
	return Program(ctx, PauseName, filepath.Join(projectDir, "testbed"), "./cmd/pause", "65535:65535")
}

// Program is an image of one Go program of the module in dir, alone on
// scratch as /<name of the package's folder>, run as user.
func Program(ctx context.Context, name, dir, pkg, user string) (Image, error) {
	binary, err := goBuild(ctx, dir, pkg, "-s -w")
	if err != nil {
		return Image{}, err
	}
	path := "/" + filepath.Base(pkg)
	return Image{
		Name:   name,
		Files:  []File{{Path: path, Mode: 0o755, Content: binary}},
		Config: v1.Config{User: user, Env: []string{defaultPath}, Entrypoint: []string{path}},
	}, nil
}

// BuildAll builds the real node's images: the greeter's and the sandbox's
// from the project in projectDir, Jaeger's and OAuth2 Proxy's around their
// built binaries in bin.
func BuildAll(ctx context.Context, projectDir, bin string) ([]Built, error) {
	greeter, err := Greeter(ctx, projectDir)
	if err != nil {
		return nil, err
	}
	pause, err := Pause(ctx, projectDir)
	if err != nil {
		return nil, err
	}
	jaeger, err := Jaeger(filepath.Join(bin, "jaeger"))
	if err != nil {
		return nil, err
	}
	uiAuth, err := UIAuth(filepath.Join(bin, "oauth2-proxy"))
	if err != nil {
		return nil, err
	}
	var built []Built
	for _, image := range []Image{greeter, pause, jaeger, uiAuth} {
		b, err := image.Build()
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", image.Name, err)
		}
		built = append(built, b)
	}
	return built, nil
}

// goBuild builds a package of the module in dir as a static linux/amd64
// binary and returns it. Without VCS stamping, as in a Docker build context
// (which has no .git): the same source makes the same binary in any commit.
func goBuild(ctx context.Context, dir, pkg, ldflags string) ([]byte, error) {
	out, err := os.CreateTemp("", "nodeimage-")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out.Name(), pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, strings.TrimSpace(string(output)))
	}
	return os.ReadFile(out.Name())
}
