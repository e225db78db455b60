package imagecontract

import (
	"os"
	"strings"
	"testing"

	"github.com/acme/platform/components/observability"
	"github.com/acme/platform/internal/pulumitest"
	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
)

// projectRoot is the product's project folder, holding the stack files.
const projectRoot = "../.."

// TestMain gives the stack references what the states would hold.
func TestMain(m *testing.M) {
	os.Unsetenv(stacks.ReleaseVariable)
	stackstest.Deployed()
	os.Exit(m.Run())
}

// TestPodSpecsFitTheirImages checks every container of every pod spec that
// every stack declares against its image's contract,
// and that every recorded contract is checked somewhere.
func TestPodSpecsFitTheirImages(t *testing.T) {
	checked := map[string]bool{}
	stackstest.EachPodSpec(t, projectRoot, stacks.Program, func(stack string, r pulumitest.Resource, spec map[string]any) {
		servers := map[any]bool{}
		if !strings.HasPrefix(r.Type, "kubernetes:batch/") {
			for _, c := range spec["containers"].([]any) {
				servers[c.(map[string]any)["name"]] = true
			}
		}
		for _, c := range pulumitest.Containers(spec) {
			role := Task
			switch {
			case servers[c["name"]] && r.Type == "kubernetes:apps/v1:StatefulSet":
				role = StatefulServer
			case servers[c["name"]]:
				role = Server
			}
			problems, known := Check(spec, c, role)
			if !known {
				continue
			}
			checked[c["image"].(string)] = true
			for _, p := range problems {
				t.Errorf("%s: %s %s, container %s: %s", stack, r.Type, r.Name, c["name"], p)
			}
		}
	})
	for image := range Contracts {
		if !checked[image] {
			t.Errorf("no stack runs %s: its contract checks nothing (a pinned image changed?)", image)
		}
	}
}

// Kafka's start script lives in its ConfigMap and runs as `sh start.sh`: the
// programs it calls are the image's.
func TestKafkaStartScriptFitsItsImage(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		g, err := pulumitest.Run(t, "platform", stack, stacks.Program(stackstest.Values(t, projectRoot, stack)), pulumitest.InProject(projectRoot))
		if err != nil {
			t.Fatal(err)
		}
		data := g.One(t, "kubernetes:core/v1:ConfigMap", "observability-kafka").MustInput(t, "data").(map[string]any)
		script, _ := data["start.sh"].(string)
		if script == "" {
			t.Fatal("Kafka's ConfigMap has no start.sh")
		}
		if lacking := Contracts[observability.DefaultKafkaImage].Lacks(script); len(lacking) > 0 {
			t.Errorf("%s: start.sh calls %v, which the Kafka image does not have", stack, lacking)
		}
	}
}
