package stacks

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/pulumitest"
)

// contract is what an image does that a pod spec must fit: who it runs as,
// the VOLUMEs it declares (a container runtime mounts an anonymous volume on
// each one no pod mount equals: containerd's CRI does, and runc cannot create
// its mount point inside a read-only mount), and where its process writes
// data that must outlive the container.
type contract struct {
	// uid the image runs as when the pod names none.
	uid int
	// volumes the image declares.
	volumes []string
	// data are the folders the server keeps its data in, in a StatefulSet: a
	// claim must be mounted on that folder or above it, with no VOLUME between.
	data []string
}

// contracts of the pinned images, each fact from the image's own source at
// that version.
var contracts = map[string]contract{
	// apache/kafka 4.1.0, docker/jvm/Dockerfile: `adduser -D appuser` (Alpine:
	// the first user, UID 1000), `USER appuser`, `VOLUME ["/etc/kafka/secrets",
	// "/var/lib/kafka/data", "/mnt/shared/config"]`; the brokers write
	// log.dirs (components/observability/kafka.go: kafkaLogDir).
	"apache/kafka:4.1.0": {uid: 1000, volumes: []string{"/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"},
		data: []string{"/var/lib/kafka/data"}},
	// busybox 1.37.0 (docker-library/busybox): `FROM scratch`, the rootfs and
	// `CMD ["sh"]`; no USER, so root.
	"busybox:1.37.0": {uid: 0},
}

// TestPodSpecsFitTheirImages checks every container of every pod spec that
// every stack declares against its image's contract.
func TestPodSpecsFitTheirImages(t *testing.T) {
	checked := 0
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range containersOf(spec) {
			image, _ := c["image"].(string)
			k, known := contracts[image]
			if !known {
				continue
			}
			checked++
			where := fmt.Sprintf("%s: %s %s, container %s", stack, r.Type, r.Name, c["name"])
			checkUser(t, where, spec, c, k)
			checkMounts(t, where, c, k, r.Type == "kubernetes:apps/v1:StatefulSet")
		}
	})
	if checked == 0 {
		t.Fatal("no container runs an image with a contract: the walk is broken")
	}
}

// checkUser: runAsNonRoot on an image that runs as root needs a named user,
// else the kubelet refuses to start the container.
func checkUser(t *testing.T, where string, spec, c map[string]any, k contract) {
	t.Helper()
	nonRoot, uid := security(spec["securityContext"])
	if n, u := security(c["securityContext"]); n != nil || u != nil {
		if n != nil {
			nonRoot = n
		}
		if u != nil {
			uid = u
		}
	}
	effective := k.uid
	if uid != nil {
		effective = *uid
	}
	if nonRoot != nil && *nonRoot && effective == 0 {
		t.Errorf("%s: runAsNonRoot on an image that runs as root, without a non-root runAsUser", where)
	}
}

// checkMounts: no image VOLUME inside a read-only mount, and data folders on
// a claim's mount, not on an anonymous volume.
func checkMounts(t *testing.T, where string, c map[string]any, k contract, stateful bool) {
	t.Helper()
	mounts, _ := c["volumeMounts"].([]any)
	for _, v := range k.volumes {
		for _, m := range mounts {
			m := m.(map[string]any)
			p, _ := m["mountPath"].(string)
			ro, _ := m["readOnly"].(bool)
			if ro && p != v && strings.HasPrefix(v, strings.TrimSuffix(p, "/")+"/") {
				t.Errorf("%s: the image's VOLUME %s lies inside the read-only mount %s", where, v, p)
			}
		}
	}
	if !stateful {
		return
	}
	for _, d := range k.data {
		covering := ""
		for _, m := range mounts {
			p, _ := m.(map[string]any)["mountPath"].(string)
			if (d == p || strings.HasPrefix(d, strings.TrimSuffix(p, "/")+"/")) && len(p) > len(covering) {
				covering = p
			}
		}
		if covering == "" {
			t.Errorf("%s: the data folder %s is on no mount", where, d)
			continue
		}
		for _, v := range k.volumes {
			// A VOLUME between the mount and the data folder hides the claim.
			if v != covering && strings.HasPrefix(v, strings.TrimSuffix(covering, "/")+"/") && (d == v || strings.HasPrefix(d, v+"/")) {
				t.Errorf("%s: the data folder %s is mounted at %s, but the image's VOLUME %s lies between: an anonymous volume takes the data",
					where, d, covering, path.Clean(v))
			}
		}
	}
}

// podSpec returns the pod spec of a workload or Job.
func podSpec(r pulumitest.Resource) (map[string]any, bool) {
	for _, p := range []string{"spec.template.spec", "spec.jobTemplate.spec.template.spec"} {
		if v, ok := r.Input(p); ok {
			spec, ok := v.(map[string]any)
			return spec, ok
		}
	}
	return nil, false
}

func containersOf(spec map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// security reads runAsNonRoot and runAsUser from a security context, nil
// where unset.
func security(v any) (nonRoot *bool, uid *int) {
	sc, _ := v.(map[string]any)
	if b, ok := sc["runAsNonRoot"].(bool); ok {
		nonRoot = &b
	}
	if f, ok := sc["runAsUser"].(float64); ok {
		u := int(f)
		uid = &u
	}
	return nonRoot, uid
}

// Every container bounds its ephemeral storage (request and limit), and each
// pod's limits cover its emptyDirs: the kubelet counts their use against the
// pod's total and evicts past it.
func TestEveryContainerBoundsItsEphemeralStorage(t *testing.T) {
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range containersOf(spec) {
			res, _ := c["resources"].(map[string]any)
			req, _ := res["requests"].(map[string]any)["ephemeral-storage"].(string)
			lim, _ := res["limits"].(map[string]any)["ephemeral-storage"].(string)
			if req == "" || lim == "" {
				t.Errorf("%s: %s %s, container %s: ephemeral-storage request %q, limit %q", stack, r.Type, r.Name, c["name"], req, lim)
			}
		}
		// The pod's total is what its containers may use at once.
		var limits, emptyDirs resource.Quantity
		running, _ := spec["containers"].([]any)
		for _, c := range running {
			res, _ := c.(map[string]any)["resources"].(map[string]any)
			if lim, ok := res["limits"].(map[string]any)["ephemeral-storage"].(string); ok {
				limits.Add(resource.MustParse(lim))
			}
		}
		volumes, _ := spec["volumes"].([]any)
		for _, v := range volumes {
			if ed, ok := v.(map[string]any)["emptyDir"].(map[string]any); ok {
				if size, ok := ed["sizeLimit"].(string); ok {
					emptyDirs.Add(resource.MustParse(size))
				}
			}
		}
		if limits.Cmp(emptyDirs) < 0 {
			t.Errorf("%s: %s %s: containers' ephemeral limits %s do not cover the emptyDirs' %s", stack, r.Type, r.Name, limits.String(), emptyDirs.String())
		}
	})
}

// eachPodSpec runs every stack's program under mocks and calls check with
// the pod spec of every workload and Job it declares.
func eachPodSpec(t *testing.T, check func(stack string, r pulumitest.Resource, spec map[string]any)) {
	t.Helper()
	for _, stack := range []string{"dev", "prod", "local"} {
		g, err := pulumitest.Run(t, "platform", stack, NewProgram(stackValues(t, stack)), pulumitest.InProject(".."))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range g.Resources {
			if spec, ok := podSpec(r); ok {
				check(stack, r, spec)
			}
		}
	}
}

// Liveness and readiness ask different things of every container (kube-score's
// check): liveness whether the process answers, readiness whether it serves,
// so a slow dependency takes a pod out of rotation instead of restarting it.
func TestLivenessAndReadinessDiffer(t *testing.T) {
	checked := 0
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range containersOf(spec) {
			live, hasLive := c["livenessProbe"].(map[string]any)
			ready, hasReady := c["readinessProbe"].(map[string]any)
			if !hasLive || !hasReady {
				continue
			}
			checked++
			if fmt.Sprint(handler(live)) == fmt.Sprint(handler(ready)) {
				t.Errorf("%s: %s %s, container %s: liveness and readiness are the same check %v", stack, r.Type, r.Name, c["name"], handler(live))
			}
		}
	})
	if checked == 0 {
		t.Fatal("no container with both probes: the walk is broken")
	}
}

// handler is what a probe checks: its HTTP, TCP or exec action.
func handler(probe map[string]any) any {
	for _, key := range []string{"httpGet", "tcpSocket", "exec", "grpc"} {
		if h, ok := probe[key]; ok {
			return map[string]any{key: h}
		}
	}
	return nil
}
