package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pinned reads the versions scripts/env.sh derives from the go.mod files.
func pinned(t *testing.T) (cli, plugin string) {
	t.Helper()
	out, err := exec.Command("bash", "-c", `source ./env.sh && printf '%s %s' "$PULUMI_VERSION" "$K8S_PLUGIN_VERSION"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	cli, plugin, _ = strings.Cut(string(out), " ")
	if !strings.HasPrefix(cli, "v3.") || plugin == "" {
		t.Fatalf("env.sh pins CLI %q, plugin %q", cli, plugin)
	}
	return cli, plugin
}

// TestToolSourcesArriveWithADownload runs every tool step that reads a Go
// module's files against an empty module cache, as on a fresh machine: each
// must download the module first. It fetches the modules, builds nothing.
func TestToolSourcesArriveWithADownload(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches modules from the Go module proxy")
	}
	cache := t.TempDir()
	cmd := exec.Command("bash", "tools.sh", "sources")
	cmd.Env = append(os.Environ(), "GOMODCACHE="+cache, "GOFLAGS=-modcacherw", "PLATFORM_TOOLS="+t.TempDir(), "PULUMI_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tools.sh sources on an empty module cache: %v\n%s", err, stderrOf(err))
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		t.Fatalf("sources printed %q, want the Kubernetes provider's and kwok's folders", out)
	}
	for _, want := range []string{
		"cmd/pulumi-resource-kubernetes/schema.json",
		"cmd/pulumi-resource-kubernetes/terraform-mapping.json",
	} {
		if _, err := os.Stat(filepath.Join(dirs[0], want)); err != nil {
			t.Errorf("the provider module lacks %s: %v", want, err)
		}
	}
	for _, dir := range dirs {
		if !strings.HasPrefix(dir, cache) {
			t.Errorf("%s is not in the test's module cache %s", dir, cache)
		}
	}
}

// Every read of a module's files goes through module_dir, which downloads
// first: a bare `go list -m` elsewhere would work on warm machines only.
func TestToolsReadModulesOnlyAfterADownload(t *testing.T) {
	data, err := os.ReadFile("tools.sh")
	if err != nil {
		t.Fatal(err)
	}
	var lists []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(line, "go list -m") {
			lists = append(lists, strings.TrimSpace(line))
		}
	}
	want := `(cd "$root/testbed/tools/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")`
	if len(lists) != 1 || lists[0] != want {
		t.Fatalf("tools.sh lists modules in %q; want only module_dir's %q", lists, want)
	}
}

// standIns puts a pulumi and a go on PATH that log their calls. pulumi
// reports version cliVersion and answers a plugin download with exit code
// download; go builds by touching its -o file and passes the rest to the
// real go.
func standIns(t *testing.T, cliVersion, download string) (bin, log string, env []string) {
	t.Helper()
	bin = t.TempDir()
	log = filepath.Join(bin, "calls.log")
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"pulumi": `#!/usr/bin/env bash
echo "pulumi $*" >> "` + log + `"
case "$1" in
version) echo "` + cliVersion + `" ;;
plugin) [[ " $* " == *" --file "* ]] || exit ` + download + ` ;;
esac
`,
		"go": `#!/usr/bin/env bash
if [[ $1 == build ]]; then
	echo "go $*" >> "` + log + `"
	while [[ $# -gt 0 && $1 != -o ]]; do shift; done
	touch "$2"
	exit 0
fi
exec "` + realGo + `" "$@"
`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PLATFORM_TOOLS="+t.TempDir(),
		"PULUMI_HOME="+t.TempDir(), "PLATFORM_USER_PULUMI_HOME="+t.TempDir(), "PLATFORM_PULUMI=", "PLATFORM_K8S_PLUGIN=", "PLATFORM_OFFLINE=")
	return bin, log, env
}

func tools(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"tools.sh"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

func TestInstalledPulumiCLI(t *testing.T) {
	cli, _ := pinned(t)
	tests := []struct {
		name      string
		installed string // the version of the pulumi on PATH
		named     bool   // named by PLATFORM_PULUMI instead
		wantErr   string
		wantBuild bool
	}{
		{name: "pinned version on PATH is used", installed: cli},
		{name: "other version on PATH is not used", installed: "v3.100.0", wantBuild: true},
		{name: "pinned version named is used", installed: cli, named: true},
		{name: "other version named is refused", installed: "v3.100.0", named: true, wantErr: "is Pulumi v3.100.0; this project pins " + cli},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, log, env := standIns(t, tt.installed, "1")
			if tt.named {
				env = append(env, "PLATFORM_PULUMI="+filepath.Join(bin, "pulumi"))
			}
			out, err := tools(t, env, "pulumi_cli")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(out, tt.wantErr) {
					t.Fatalf("want a refusal saying %q; got %v:\n%s", tt.wantErr, err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			built := strings.Contains(calls(t, log), "go build")
			if built != tt.wantBuild {
				t.Fatalf("built the CLI: %v, want %v:\n%s", built, tt.wantBuild, out)
			}
			target, err := os.Readlink(filepath.Join(envValue(env, "PLATFORM_TOOLS"), "bin", "pulumi"))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(bin, "pulumi"); !tt.wantBuild && target != want {
				t.Errorf("bin/pulumi links to %s, want the installed %s", target, want)
			}
			if tt.wantBuild && !strings.Contains(target, "pulumi-"+cli) {
				t.Errorf("bin/pulumi links to %s, want the build of %s", target, cli)
			}
		})
	}
}

func TestKubernetesPluginTakesTheFirstThatWorks(t *testing.T) {
	cli, plugin := pinned(t)
	tests := []struct {
		name        string
		userPlugin  string // the version the user's own Pulumi home has the plugin of ("script": not a Go program)
		download    string // exit code of the download
		offline     bool
		wantInstall string // what `pulumi plugin install` is given
		wantBuild   bool
	}{
		{name: "from the user's Pulumi home", userPlugin: "v" + plugin, download: "1", wantInstall: "--file " + "USER"},
		{name: "not the user's plugin of another version", userPlugin: "v4.1.0", download: "0", wantInstall: "plugin install resource kubernetes " + plugin},
		{name: "not a file that is no plugin build", userPlugin: "script", download: "0", wantInstall: "plugin install resource kubernetes " + plugin},
		{name: "downloaded", download: "0", wantInstall: "plugin install resource kubernetes " + plugin},
		{name: "built when the download fails", download: "1", wantInstall: "--file BUILT", wantBuild: true},
		{name: "built offline without trying", download: "0", offline: true, wantInstall: "--file BUILT", wantBuild: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, log, env := standIns(t, cli, tt.download)
			userPlugin := filepath.Join(envValue(env, "PLATFORM_USER_PULUMI_HOME"), "plugins", "resource-kubernetes-v"+plugin, "pulumi-resource-kubernetes")
			switch tt.userPlugin {
			case "":
			case "script":
				if err := os.MkdirAll(filepath.Dir(userPlugin), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(userPlugin, []byte("#!/bin/true\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				releaseBuild(t, userPlugin, "github.com/pulumi/pulumi-kubernetes/provider/v4", tt.userPlugin)
			}
			if tt.offline {
				env = append(env, "PLATFORM_OFFLINE=1")
			}
			// A copy of the embedded schema left by another version's build
			// (git-ignored, so it survives a checkout) is replaced before a build.
			schema := filepath.Join("..", "testbed", "tools", "pulumi-kubernetes", "schema", "schema.json")
			if tt.wantBuild {
				if err := os.MkdirAll(filepath.Dir(schema), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(schema, []byte("stale"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := tools(t, env, "kubernetes_plugin")
			if err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if data, err := os.ReadFile(schema); tt.wantBuild && (err != nil || string(data) == "stale") {
				t.Errorf("the build embeds a stale schema.json (read: %v)", err)
			}
			c := calls(t, log)
			built := strings.Contains(c, "go build")
			if built != tt.wantBuild {
				t.Fatalf("built the plugin: %v, want %v:\n%s", built, tt.wantBuild, c)
			}
			binaries, _ := filepath.Glob(filepath.Join(envValue(env, "PLATFORM_TOOLS"), "pulumi-kubernetes-"+plugin+"-*", "pulumi-kubernetes"))
			if tt.wantBuild && len(binaries) != 1 {
				t.Fatalf("builds of the plugin in PLATFORM_TOOLS: %q, want one", binaries)
			}
			want := strings.NewReplacer("USER", userPlugin, "BUILT", strings.Join(binaries, " ")).Replace(tt.wantInstall)
			if !strings.Contains(c, want) {
				t.Errorf("no plugin install with %q:\n%s", want, c)
			}
			if tt.offline && strings.Contains(c, "plugin install resource kubernetes "+plugin+"\n") {
				t.Errorf("offline, yet a download was tried:\n%s", c)
			}
		})
	}
}

// A cached tool is the build of exactly its inputs: the same inputs again
// build nothing, and a change to the module's go.mod or go.sum, or to the
// cgo setting, builds anew (a binary cached from other dependencies would
// pass on one machine and fail on a new one); prune removes the builds no
// longer linked.
func TestToolCacheIsKeyedByItsInputs(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"scripts/tools.sh", "scripts/env.sh", "go.mod", "testbed/tools/pulumi/go.mod",
		"testbed/tools/actionlint/go.mod", "testbed/tools/actionlint/go.sum"} {
		data, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, log, env := standIns(t, "v0.0.0", "1")
	builds := 0
	for _, step := range []struct {
		name      string
		change    func()
		cgo       string
		wantBuild bool
	}{
		{name: "first", wantBuild: true},
		{name: "again"},
		{name: "go.sum changed", change: func() {
			appendTo(t, filepath.Join(root, "testbed/tools/actionlint/go.sum"), "example.com/x v1.0.0 h1:x=\n")
		}, wantBuild: true},
		{name: "go.mod changed", change: func() { appendTo(t, filepath.Join(root, "testbed/tools/actionlint/go.mod"), "// changed\n") }, wantBuild: true},
		{name: "cgo off", cgo: "0", wantBuild: true},
		{name: "cgo off again", cgo: "0"},
	} {
		if step.change != nil {
			step.change()
		}
		cmd := exec.Command("bash", filepath.Join(root, "scripts/tools.sh"), "actionlint")
		cmd.Env = append(env, "CGO_ENABLED="+step.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", step.name, err, out)
		}
		n := strings.Count(calls(t, log), "go build")
		if built := n > builds; built != step.wantBuild {
			t.Errorf("%s: built %v, want %v", step.name, built, step.wantBuild)
		}
		builds = n
	}
	link, err := os.Readlink(filepath.Join(envValue(env, "PLATFORM_TOOLS"), "bin", "actionlint"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(filepath.Dir(link)), "actionlint-v") {
		t.Errorf("bin/actionlint links to %s, not a cached build", link)
	}

	// prune keeps the build bin/ links to and removes the other three.
	tools := envValue(env, "PLATFORM_TOOLS")
	if before, _ := filepath.Glob(filepath.Join(tools, "actionlint-*")); len(before) != 4 {
		t.Fatalf("cached builds before prune: %q, want 4", before)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts/tools.sh"), "prune")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prune: %v\n%s", err, out)
	}
	if after, _ := filepath.Glob(filepath.Join(tools, "actionlint-*")); len(after) != 1 || after[0] != filepath.Dir(link) {
		t.Errorf("cached builds after prune: %q, want only %s", after, filepath.Dir(link))
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// releaseBuild builds, at out, a Go program whose build information says
// it is module at version, as a release build from its tag says it (Go
// stamps the main module's version from the repository's tag).
func releaseBuild(t *testing.T, out, module, version string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module " + module + "\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"git", "init", "-q"}, {"git", "add", "."},
		{"git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "release"}, {"git", "tag", version},
		{"go", "build", "-o", out, "."},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true", "GOWORK=off")
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, output)
		}
	}
}

func stderrOf(err error) string {
	if exit, ok := err.(*exec.ExitError); ok {
		return string(exit.Stderr)
	}
	return ""
}
