package imagecontract

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Role is what a container runs: the image's server, or a task (an init
// container, a Job's) that runs a script of the program's and exits.
type Role int

const (
	// Task runs a script or tool to completion: the server's writes and data
	// are not its own.
	Task Role = iota
	// Server runs the image's server.
	Server
	// StatefulServer runs the server in a StatefulSet: its data must be on a claim.
	StatefulServer
)

// Check judges one container of a pod spec against its image's contract and
// returns what does not fit, one problem a line. The maps are the pod spec
// and container as registered (JSON shapes). A container whose image has no
// contract is not judged: known reports whether it had one.
func Check(spec, container map[string]any, role Role) (problems []string, known bool) {
	image, _ := container["image"].(string)
	k, known := Contracts[image]
	if !known {
		return nil, false
	}
	c := containerView{spec: spec, c: container}
	problems = append(problems, k.checkUser(c)...)
	problems = append(problems, k.checkVolumes(c)...)
	if role == StatefulServer {
		problems = append(problems, k.checkData(c)...)
	}
	if role != Task {
		problems = append(problems, k.checkWrites(c)...)
		problems = append(problems, k.checkScratch(c)...)
	}
	problems = append(problems, k.checkTools(c)...)
	return problems, true
}

type containerView struct {
	spec, c map[string]any
}

type mountPoint struct {
	name, path string
	readOnly   bool
}

func (v containerView) mounts() []mountPoint {
	var out []mountPoint
	list, _ := v.c["volumeMounts"].([]any)
	for _, m := range list {
		m, _ := m.(map[string]any)
		name, _ := m["name"].(string)
		p, _ := m["mountPath"].(string)
		ro, _ := m["readOnly"].(bool)
		out = append(out, mountPoint{name: name, path: path.Clean(p), readOnly: ro})
	}
	return out
}

// covering is the deepest mount at or above dir.
func (v containerView) covering(dir string) (mountPoint, bool) {
	var best mountPoint
	found := false
	for _, m := range v.mounts() {
		if under(dir, m.path) && (!found || len(m.path) > len(best.path)) {
			best, found = m, true
		}
	}
	return best, found
}

// security reads a setting of the container's security context, else the pod's.
func (v containerView) security(key string) (any, bool) {
	for _, sc := range []any{v.c["securityContext"], v.spec["securityContext"]} {
		if m, ok := sc.(map[string]any); ok {
			if value, ok := m[key]; ok {
				return value, true
			}
		}
	}
	return nil, false
}

// keepsEntrypoint: a container that sets no command runs the image's entrypoint.
func (v containerView) keepsEntrypoint() bool {
	command, _ := v.c["command"].([]any)
	return len(command) == 0
}

// under says whether dir is parent or the same folder.
func under(dir, parent string) bool {
	dir, parent = path.Clean(dir), path.Clean(parent)
	return dir == parent || parent == "/" || strings.HasPrefix(dir, parent+"/")
}

// checkUser: runAsNonRoot on an image that runs as root needs a named
// non-root user, else the kubelet refuses to start the container
// (CreateContainerConfigError).
func (k Contract) checkUser(v containerView) []string {
	nonRoot, _ := v.security("runAsNonRoot")
	uid := k.UID
	if u, ok := v.security("runAsUser"); ok {
		if f, ok := u.(float64); ok {
			uid = int(f)
		}
	}
	if nonRoot == true && uid == 0 {
		return []string{"runAsNonRoot on an image that runs as root, without a non-root runAsUser"}
	}
	return nil
}

// checkVolumes: no image VOLUME inside a read-only mount.
func (k Contract) checkVolumes(v containerView) []string {
	var problems []string
	for _, vol := range k.Volumes {
		for _, m := range v.mounts() {
			if m.readOnly && m.path != path.Clean(vol) && under(vol, m.path) {
				problems = append(problems, fmt.Sprintf("the image's VOLUME %s lies inside the read-only mount %s", vol, m.path))
			}
		}
	}
	return problems
}

// checkData: each data folder on a mount, with no image VOLUME between the
// mount and the folder (an anonymous volume would take the data).
func (k Contract) checkData(v containerView) []string {
	var problems []string
	for _, d := range k.Data {
		m, ok := v.covering(d)
		if !ok {
			problems = append(problems, fmt.Sprintf("the data folder %s is on no mount", d))
			continue
		}
		for _, vol := range k.Volumes {
			vol = path.Clean(vol)
			if vol != m.path && under(vol, m.path) && under(d, vol) {
				problems = append(problems, fmt.Sprintf("the data folder %s is mounted at %s, but the image's VOLUME %s lies between: an anonymous volume takes the data", d, m.path, vol))
			}
		}
	}
	return problems
}

// checkWrites: under a read-only root filesystem, every folder the process
// writes (and the entrypoint's, when kept) is on a writable mount.
func (k Contract) checkWrites(v containerView) []string {
	if ro, _ := v.security("readOnlyRootFilesystem"); ro != true {
		return nil
	}
	writes := k.Writes
	if v.keepsEntrypoint() {
		writes = append(slices.Clone(writes), k.EntrypointWrites...)
	}
	var problems []string
	for _, w := range writes {
		if m, ok := v.covering(w); ok && !m.readOnly {
			continue
		}
		// A folder the image declares as a VOLUME gets an anonymous, writable volume.
		if slices.ContainsFunc(k.Volumes, func(vol string) bool { return under(w, vol) }) {
			continue
		}
		problems = append(problems, fmt.Sprintf("the image writes %s, which is on no writable mount under a read-only root filesystem", w))
	}
	return problems
}

// checkScratch: an emptyDir under a folder the server writes scratch into
// has a size limit, and the limit holds what the contract says the server
// writes into every such folder it covers; else the kubelet evicts the pod
// when the folder fills.
func (k Contract) checkScratch(v containerView) []string {
	need := map[mountPoint]int64{}
	var order []mountPoint
	for _, dir := range slices.Sorted(maps.Keys(k.Scratch)) {
		m, ok := v.covering(dir)
		if !ok {
			continue
		}
		if _, seen := need[m]; !seen {
			order = append(order, m)
		}
		size := resource.MustParse(k.Scratch[dir])
		need[m] += size.Value()
	}
	var problems []string
	for _, m := range order {
		volume, ok := v.volume(m.name)
		emptyDir, isEmptyDir := volume["emptyDir"].(map[string]any)
		if !ok || !isEmptyDir {
			continue
		}
		limit, _ := emptyDir["sizeLimit"].(string)
		if limit == "" {
			problems = append(problems, fmt.Sprintf("the emptyDir %s at %s has no size limit; the image writes up to %s there", m.name, m.path, quantity(need[m])))
			continue
		}
		if q, err := resource.ParseQuantity(limit); err != nil || q.Value() < need[m] {
			problems = append(problems, fmt.Sprintf("the emptyDir %s at %s is limited to %s; the image writes up to %s there", m.name, m.path, limit, quantity(need[m])))
		}
	}
	return problems
}

func quantity(bytes int64) string {
	return resource.NewQuantity(bytes, resource.BinarySI).String()
}

// volume is the pod's volume of a name.
func (v containerView) volume(name string) (map[string]any, bool) {
	list, _ := v.spec["volumes"].([]any)
	for _, item := range list {
		if vol, ok := item.(map[string]any); ok && vol["name"] == name {
			return vol, true
		}
	}
	return nil, false
}

// checkTools: every program the container's shell scripts and exec probes
// call is one the image has.
func (k Contract) checkTools(v containerView) []string {
	var commands [][]string
	if command := stringList(v.c["command"]); len(command) > 0 {
		commands = append(commands, append(command, stringList(v.c["args"])...))
	}
	for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
		if p, ok := v.c[probe].(map[string]any); ok {
			if exec, ok := p["exec"].(map[string]any); ok {
				commands = append(commands, stringList(exec["command"]))
			}
		}
	}
	var problems []string
	for _, command := range commands {
		var lacking []string
		if !k.has(command[0]) {
			lacking = append(lacking, command[0])
		}
		if len(command) >= 3 && isShell(command[0]) && command[1] == "-c" {
			lacking = append(lacking, k.Lacks(command[2])...)
		}
		for _, p := range lacking {
			problems = append(problems, fmt.Sprintf("calls %s, which the image does not have (it has %s)", p, strings.Join(k.Tools, ", ")))
		}
	}
	return problems
}

// Lacks lists the programs a shell script calls that the image does not have.
func (k Contract) Lacks(script string) []string {
	var lacking []string
	for _, p := range Programs(script) {
		if !k.has(p) {
			lacking = append(lacking, p)
		}
	}
	return lacking
}

func (k Contract) has(program string) bool {
	if slices.Contains(k.Tools, program) {
		return true
	}
	// /bin/sh, /usr/bin/curl: the name on PATH.
	for _, dir := range []string{"/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/"} {
		if name, ok := strings.CutPrefix(program, dir); ok && !strings.Contains(name, "/") && slices.Contains(k.Tools, name) {
			return true
		}
	}
	return false
}

func isShell(program string) bool {
	return slices.Contains([]string{"sh", "bash", "/bin/sh", "/bin/bash"}, program)
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, s := range list {
		if s, ok := s.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
