package stacks

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/imagecontract"
	"github.com/acme/platform/internal/pulumitest"
)

// TestPodSpecsFitTheirImages checks every container of every pod spec that
// every stack declares against its image's contract (internal/imagecontract),
// and that every recorded contract is checked somewhere.
func TestPodSpecsFitTheirImages(t *testing.T) {
	checked := map[string]bool{}
	eachPodSpec(t, func(stack string, r pulumitest.Resource, spec map[string]any) {
		servers := map[any]bool{}
		if !strings.HasPrefix(r.Type, "kubernetes:batch/") {
			for _, c := range spec["containers"].([]any) {
				servers[c.(map[string]any)["name"]] = true
			}
		}
		for _, c := range containersOf(spec) {
			role := imagecontract.Task
			switch {
			case servers[c["name"]] && r.Type == "kubernetes:apps/v1:StatefulSet":
				role = imagecontract.StatefulServer
			case servers[c["name"]]:
				role = imagecontract.Server
			}
			problems, known := imagecontract.Check(spec, c, role)
			if !known {
				continue
			}
			checked[c["image"].(string)] = true
			for _, p := range problems {
				t.Errorf("%s: %s %s, container %s: %s", stack, r.Type, r.Name, c["name"], p)
			}
		}
	})
	for image := range imagecontract.Contracts {
		if !checked[image] {
			t.Errorf("no stack runs %s: its contract checks nothing (a pinned image changed?)", image)
		}
	}
}

// Kafka's start script lives in its ConfigMap and runs as `sh start.sh`: the
// programs it calls are the image's.
func TestKafkaStartScriptFitsItsImage(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		g, err := pulumitest.Run(t, "platform", stack, NewProgram(stackValues(t, stack)), pulumitest.InProject(".."))
		if err != nil {
			t.Fatal(err)
		}
		data := g.One(t, "kubernetes:core/v1:ConfigMap", "observability-kafka").MustInput(t, "data").(map[string]any)
		script, _ := data["start.sh"].(string)
		if script == "" {
			t.Fatal("Kafka's ConfigMap has no start.sh")
		}
		if lacking := imagecontract.Contracts[observability.DefaultKafkaImage].Lacks(script); len(lacking) > 0 {
			t.Errorf("%s: start.sh calls %v, which the Kafka image does not have", stack, lacking)
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
