package localcluster

import (
	"testing"

	"github.com/acme/platform/internal/kube"
	"github.com/acme/platform/stacks"
	"github.com/acme/platform/stacks/stackstest"
	"github.com/acme/platform/testbed/nodeimage"
)

// The local stack runs the images the local cluster's real node holds, and
// places them there: the greeter pinned by the digest of the image made
// from app/ now, Jaeger by the name it is imported under. A change to app/
// makes a new digest: this test names it, for Pulumi.local.yaml.
func TestLocalStackPinsTheNodesImages(t *testing.T) {
	cfg, err := stacks.Load(stackstest.Values(t, "../..", "local"), stacks.Environ{ProjectRoot: "../.."})
	if err != nil {
		t.Fatal(err)
	}
	image, err := nodeimage.Greeter(t.Context(), "../..")
	if err != nil {
		t.Fatal(err)
	}
	built, err := image.Build()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := built.Pinned()
	if err != nil {
		t.Fatal(err)
	}
	onNode := map[string]bool{}
	for _, s := range cfg.Services {
		if s.Name != "greeter" {
			continue
		}
		if s.Prebuilt != pinned {
			t.Errorf("Pulumi.local.yaml runs the greeter as %s; the real node's image of app/ is %s: pin that", s.Prebuilt, pinned)
		}
		onNode["greeter"] = s.Placement.NodeSelector["type"] == NodeType && tolerates(s.Placement.Tolerations)
	}
	o := cfg.Observability
	if o == nil {
		t.Fatal("the local stack has no observability")
	}
	if o.Jaeger.Image != nodeimage.JaegerName {
		t.Errorf("the local stack runs Jaeger as %s; the real node holds %s", o.Jaeger.Image, nodeimage.JaegerName)
	}
	if o.Jaeger.UIAuthImage != nodeimage.UIAuthName {
		t.Errorf("the local stack runs Jaeger's UI proxy as %s; the real node holds %s", o.Jaeger.UIAuthImage, nodeimage.UIAuthName)
	}
	onNode["jaeger"] = o.Jaeger.Placement.NodeSelector["type"] == NodeType && tolerates(o.Jaeger.Placement.Tolerations)
	for _, name := range []string{"greeter", "jaeger"} {
		if !onNode[name] {
			t.Errorf("the local stack does not place %s on the real node (node selector type=%s, toleration of %s)", name, NodeType, NodeTaint)
		}
	}
	// Filebeat tolerates every taint; its image cannot exist here.
	if o.Filebeat.Placement.NodeSelector["type"] != "kwok" {
		t.Errorf("Filebeat may land on the real node, which cannot have its image: placement %+v", o.Filebeat.Placement)
	}
}

func tolerates(tolerations []kube.Toleration) bool {
	for _, t := range tolerations {
		if t.Key == NodeTaint && t.Operator == "Exists" {
			return true
		}
	}
	return false
}
