package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// maxImageBytes is the image's budget: 8 MiB.
const maxImageBytes = 8 << 20

// caBundle is the file the Dockerfile copies from its Debian builder; this
// machine's Debian has the same package.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// dockerfileBuild returns the arguments of the Dockerfile's `go build`, so the
// test builds exactly as the image does.
func dockerfileBuild(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	m := regexp.MustCompile(`CGO_ENABLED=0 .*?go build (.*?) -o \S+ \.`).FindStringSubmatch(joined)
	if m == nil {
		t.Fatal("no `CGO_ENABLED=0 ... go build ... -o ... .` in the Dockerfile")
	}
	args := regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(strings.ReplaceAll(m[1], "${VERSION}", "1.2.3-test"), -1)
	for i, a := range args {
		args[i] = strings.Trim(a, `"`)
	}
	return args
}

func TestBinaryIsStaticAndSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "greeter")
	cmd := exec.Command("go", append(append([]string{"build"}, dockerfileBuild(t)...), "-o", out, ".")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	// The image is scratch plus four files: its size is theirs.
	certs, err := os.Stat(caBundle)
	if err != nil {
		t.Skipf("no %s to size the CA layer: %v", caBundle, err)
	}
	const passwdAndGroup = 100
	image := info.Size() + certs.Size() + passwdAndGroup
	t.Logf("binary: %d bytes (%.2f MiB); image: %d bytes (%.2f MiB), budget %.0f MiB",
		info.Size(), float64(info.Size())/(1<<20), image, float64(image)/(1<<20), float64(maxImageBytes)/(1<<20))
	if image > maxImageBytes {
		t.Errorf("image would be %d bytes, over its %d budget", image, maxImageBytes)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: -s was not applied")
	}
	stamped, err := exec.Command("go", "version", "-m", out).CombinedOutput()
	if err != nil || !strings.Contains(string(stamped), "-trimpath=true") || !strings.Contains(string(stamped), "CGO_ENABLED=0") {
		t.Errorf("build settings not as the Dockerfile's: %s", stamped)
	}
}
