package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// removePodSandboxes stops and removes every pod sandbox through
// containerd's CRI, as the kubelet would: its containers are killed and the
// CNI plugins take its network down (veth, address lease).
func removePodSandboxes(ctx context.Context, socket string) error {
	abs, err := filepath.Abs(socket)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("unix://"+abs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing the real node's pods: %w", err)
	}
	var errs []error
	for _, s := range list.Items {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stopping pod %s/%s: %w", s.Metadata.GetNamespace(), s.Metadata.GetName(), err))
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, fmt.Errorf("removing pod %s/%s: %w", s.Metadata.GetNamespace(), s.Metadata.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// removeKubernetesChains removes what kube-proxy --cleanup leaves in
// iptables and ip6tables: the kubelet's KUBE-* chains (its canaries and
// firewall), the node's own forwarding chain, and the rules that jump to them.
func removeKubernetesChains() error {
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue // this family is not there
		}
		for _, cmd := range kubernetesChainRemovals(string(out)) {
			if out, err := exec.Command(tool, cmd...).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(cmd, " "), err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// policySetPrefixes name the ipsets the network policy controller makes
// (kube-router's netpol: KUBE-SRC-, KUBE-DST-, their TMP- copies while it
// restores, each inet6: for IPv6).
var policySetPrefixes = []string{"KUBE-", "TMP-", "inet6:KUBE-", "inet6:TMP-"}

// removePolicySets destroys the controller's ipsets, once no iptables rule
// refers to them (removeKubernetesChains first).
func removePolicySets() error {
	out, err := exec.Command("ipset", "list", "-n").Output()
	if err != nil {
		return nil // no ipset on this machine: nothing was made
	}
	var errs []error
	for _, name := range strings.Fields(string(out)) {
		if slices.ContainsFunc(policySetPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			if out, err := exec.Command("ipset", "destroy", name).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ipset destroy %s: %w: %s", name, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// kubernetesChainRemovals reads iptables-save output and returns the
// iptables arguments that remove every chain of the real node's (KUBE-*,
// PLATFORM-NODE-*): first the rules of other chains that jump to one, then
// the chains' rules, then the chains.
func kubernetesChainRemovals(save string) [][]string {
	var jumps, flushes, deletes [][]string
	table := ""
	scanner := bufio.NewScanner(strings.NewReader(save))
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":") && ofNode(strings.Fields(line[1:])[0]):
			chain := strings.Fields(line[1:])[0]
			flushes = append(flushes, []string{"-t", table, "-F", chain})
			deletes = append(deletes, []string{"-t", table, "-X", chain})
		case strings.HasPrefix(line, "-A "):
			rule := splitRule(line[3:])
			if len(rule) > 0 && !ofNode(rule[0]) && jumpsToNode(rule) {
				jumps = append(jumps, append([]string{"-t", table, "-D"}, rule...))
			}
		}
	}
	return append(append(jumps, flushes...), deletes...)
}

// ofNode says whether a chain is Kubernetes' or the real node's own.
func ofNode(chain string) bool {
	return strings.HasPrefix(chain, "KUBE-") || strings.HasPrefix(chain, "PLATFORM-NODE-")
}

func jumpsToNode(rule []string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if (rule[i] == "-j" || rule[i] == "-g") && ofNode(rule[i+1]) {
			return true
		}
	}
	return false
}

// splitRule splits a rule of iptables-save into its words; a quoted word
// (a comment) is one word without its quotes.
func splitRule(s string) []string {
	var words []string
	var word strings.Builder
	quoted, inWord := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && quoted && i+1 < len(s):
			i++
			word.WriteByte(s[i])
		case ch == '"':
			quoted, inWord = !quoted, true
		case ch == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// unmountUnder unmounts every mount below dir, deepest first: the kubelet's
// volumes (secrets and projected tokens are tmpfs) and containerd's
// snapshots and shm of pods that were not stopped cleanly.
func unmountUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mounts, err := mountsUnder("/proc/self/mountinfo", abs)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points below dir in a mountinfo file, deepest first.
func mountsUnder(mountinfo, dir string) ([]string, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		point := unescapeMountPath(fields[4])
		if strings.HasPrefix(point, dir+"/") {
			out = append(out, point)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeCgroups removes the cgroup named name, and everything below it, in
// every hierarchy under /sys/fs/cgroup (the kubelet's kubepods tree, which
// outlives it). A cgroup with a process left in it stays, and is reported.
func removeCgroups(name string) error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if unified := "/sys/fs/cgroup/" + name; isDir(unified) {
		roots = append(roots, unified)
	}
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// HostFootprint describes what of this machine the real node touches: the
// kernel settings it changes, the network interfaces, the iptables and
// ip6tables rules (without counters), the ipsets, and the mounts below dir. Taken before
// Up and after Down, the two are equal when the node left the host as it was.
func HostFootprint(dir string) (string, error) {
	var b strings.Builder
	for _, key := range hostSysctls {
		if data, err := os.ReadFile(filepath.Join("/proc/sys", key)); err == nil {
			fmt.Fprintf(&b, "sysctl %s = %s\n", key, strings.TrimSpace(string(data)))
		}
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return "", fmt.Errorf("ip link show: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(links)), "\n") {
		if fields := strings.Fields(line); len(fields) > 1 {
			fmt.Fprintf(&b, "link %s\n", strings.TrimSuffix(fields[1], ":"))
		}
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(tool).Output()
		if err != nil {
			continue
		}
		for _, line := range firewallFootprint(string(out)) {
			fmt.Fprintf(&b, "%s %s\n", tool, line)
		}
	}
	if sets, err := exec.Command("ipset", "list", "-n").Output(); err == nil {
		for _, name := range strings.Fields(string(sets)) {
			fmt.Fprintf(&b, "ipset %s\n", name)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	mounts, err := mountsUnder("/proc/self/mountinfo", abs)
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		fmt.Fprintf(&b, "mount %s\n", m)
	}
	return b.String(), nil
}

// builtinChains are the chains every iptables table starts with.
var builtinChains = []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

// firewallFootprint is what of an iptables-save dump changes how packets
// fare: the rules, the chains a program added, and the policy of a built-in
// chain that is not ACCEPT, each with its table. Tables with nothing else in
// them are left out, and so are counters: a table the kernel made when a
// program first listed it, all its chains empty and accepting, treats every
// packet as no table does (a new machine has none until something asks).
func firewallFootprint(dump string) []string {
	var lines []string
	table := ""
	for _, line := range strings.Split(dump, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		case strings.HasPrefix(line, "*"):
			table = line
		case strings.HasPrefix(line, ":"):
			fields := strings.Fields(line)
			if len(fields) < 2 || slices.Contains(builtinChains, fields[0][1:]) && fields[1] == "ACCEPT" {
				continue
			}
			lines = append(lines, table+" "+fields[0]+" "+fields[1]) // the chain and its policy, not its counters
		default:
			lines = append(lines, table+" "+line)
		}
	}
	return lines
}
