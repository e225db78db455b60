package stacks

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks/stackstest"
)

// Every container bounds its ephemeral storage (request and limit), and each
// pod's limits cover its emptyDirs: the kubelet counts their use against the
// pod's total and evicts past it.
func TestEveryContainerBoundsItsEphemeralStorage(t *testing.T) {
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range pulumitest.Containers(spec) {
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
	stackstest.EachPodSpec(t, "..", Program, check)
}

// Liveness and readiness ask different things of every container (kube-score's
// check): liveness whether the process answers, readiness whether it serves,
// so a slow dependency takes a pod out of rotation instead of restarting it.
func TestLivenessAndReadinessDiffer(t *testing.T) {
	checked := 0
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		for _, c := range pulumitest.Containers(spec) {
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
