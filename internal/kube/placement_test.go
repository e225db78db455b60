package kube

import (
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestPlacementValidate(t *testing.T) {
	seconds := 30
	tests := []struct {
		name      string
		placement Placement
		want      string // a problem's text, "" for none
	}{
		{"empty", Placement{}, ""},
		{"node pool and taint", Placement{
			NodeSelector: map[string]string{"type": "real", "cloud.google.com/gke-nodepool": "general"},
			Tolerations:  []Toleration{{Key: "platform.acme.io/real-node", Operator: "Exists", Effect: "NoSchedule"}, {Key: "dedicated", Value: "obs"}},
		}, ""},
		{"tolerate everything", Placement{Tolerations: []Toleration{{Operator: "Exists"}}}, ""},
		{"NoExecute for a while", Placement{Tolerations: []Toleration{{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seconds}}}, ""},
		{"bad label key", Placement{NodeSelector: map[string]string{"no spaces": "x"}}, `nodeSelector: "no spaces": must be a label key`},
		{"bad label value", Placement{NodeSelector: map[string]string{"type": "not/a/value"}}, `nodeSelector.type: "not/a/value": must be a label value`},
		{"unknown operator", Placement{Tolerations: []Toleration{{Key: "k", Operator: "In"}}}, `tolerations[0].operator: "In": must be one of Equal, Exists`},
		{"value with Exists", Placement{Tolerations: []Toleration{{Key: "k", Operator: "Exists", Value: "v"}}}, `tolerations[0].value: "v": must be empty with operator Exists`},
		{"empty key needs Exists", Placement{Tolerations: []Toleration{{Value: "v"}}}, `tolerations[0].operator: "": must be Exists when the key is empty`},
		{"unknown effect", Placement{Tolerations: []Toleration{{Key: "k", Operator: "Exists", Effect: "NoRun"}}}, `tolerations[0].effect: "NoRun": must be one of NoSchedule, PreferNoSchedule, NoExecute`},
		{"seconds without NoExecute", Placement{Tolerations: []Toleration{{Key: "k", Operator: "Exists", Effect: "NoSchedule", TolerationSeconds: &seconds}}}, `tolerations[0].tolerationSeconds: 30: is only for effect NoExecute`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := tt.placement.Validate()
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("problems %v, want none", problems)
			case tt.want != "" && !strings.Contains(problemsText(problems), tt.want):
				t.Errorf("problems %v, want one containing %q", problems, tt.want)
			}
		})
	}
}

func problemsText(problems interface{ Err() error }) string {
	if err := problems.Err(); err != nil {
		return err.Error()
	}
	return ""
}

// Apply sets the node selector over kubernetes.io/os: linux and adds the
// tolerations after the spec's own.
func TestPlacementApply(t *testing.T) {
	own := &corev1.TolerationArgs{Operator: pulumi.String("Exists")}
	spec := &corev1.PodSpecArgs{Tolerations: corev1.TolerationArray{own}}
	Placement{
		NodeSelector: map[string]string{"type": "real"},
		Tolerations:  []Toleration{{Key: "platform.acme.io/real-node", Operator: "Exists", Effect: "NoSchedule"}},
	}.Apply(spec)
	if got := resolve(t, spec.NodeSelector.(pulumi.StringMap)); len(got) != 2 || got["type"] != "real" || got["kubernetes.io/os"] != "linux" {
		t.Errorf("node selector %v", got)
	}
	tolerations := spec.Tolerations.(corev1.TolerationArray)
	if len(tolerations) != 2 || tolerations[0] != own {
		t.Fatalf("tolerations %v, want the spec's own then the placement's", tolerations)
	}
	added := tolerations[1].(*corev1.TolerationArgs)
	if added.Key != pulumi.String("platform.acme.io/real-node") || added.Effect != pulumi.String("NoSchedule") || added.Value != nil {
		t.Errorf("added toleration %+v", added)
	}

	empty := &corev1.PodSpecArgs{}
	Placement{}.Apply(empty)
	if got := resolve(t, empty.NodeSelector.(pulumi.StringMap)); len(got) != 1 || got["kubernetes.io/os"] != "linux" || empty.Tolerations != nil {
		t.Errorf("an empty placement: node selector %v, tolerations %v; want Linux nodes only", got, empty.Tolerations)
	}
}
