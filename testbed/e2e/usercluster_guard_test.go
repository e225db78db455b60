//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The guard over the user's files fails, naming the file, on any write into
// .state or into .cluster's identity, and lets the cluster's own servers
// write their runtime folders.
func TestUserFilesGuard(t *testing.T) {
	cases := []struct {
		name, write string
		fails       bool
	}{
		{"a stack's state", ".state/.pulumi/stacks/platform/local.json", true},
		{"a new stack", ".state/.pulumi/stacks/platform/other.json", true},
		{"the cluster's PKI", ".cluster/pki/ca.crt", true},
		{"the cluster's kubeconfig", ".cluster/kubeconfig", true},
		{"etcd's data", ".cluster/etcd/member/wal", false},
		{"a server's log", ".cluster/logs/kubelet.log", false},
		{"the real node's files", ".cluster/node/containerd.toml", false},
		{"kubectl's discovery cache", ".cluster/kube-cache/http/0a1b", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			project := t.TempDir()
			for _, f := range []string{".state/.pulumi/stacks/platform/local.json", ".cluster/pki/ca.crt", ".cluster/kubeconfig",
				".cluster/etcd/member/wal", ".cluster/logs/kubelet.log", ".cluster/node/containerd.toml", ".cluster/kube-cache/http/0a1b"} {
				writeFile(t, filepath.Join(project, f), "before")
			}
			guard, err := guardUserFiles(project)
			if err != nil {
				t.Fatal(err)
			}
			if err := guard.check(); err != nil {
				t.Fatalf("nothing written, yet: %v", err)
			}
			writeFile(t, filepath.Join(project, c.write), "after")
			err = guard.check()
			if c.fails && (err == nil || !strings.Contains(err.Error(), c.write)) {
				t.Fatalf("writing %s: %v; want a failure naming it", c.write, err)
			}
			if !c.fails && err != nil {
				t.Fatalf("writing %s (the cluster's own servers do): %v", c.write, err)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
