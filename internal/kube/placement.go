package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/acme/platform/internal/validate"
)

// Placement says which nodes a workload's pods may run on: a node pool of a
// real cluster, the real node of the local cluster. It is the pods' node
// selector and tolerations, spelled as Kubernetes spells them.
type Placement struct {
	// NodeSelector: labels a node must have, e.g. {"pool": "general"}.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations of node taints, added to those the workload has already.
	Tolerations []Toleration `json:"tolerations,omitempty"`
}

// Toleration lets pods onto nodes with a matching taint.
type Toleration struct {
	Key string `json:"key,omitempty"`
	// Operator is Equal (default: the taint's value must be Value) or Exists.
	Operator string `json:"operator,omitempty"`
	Value    string `json:"value,omitempty"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute; empty: all.
	Effect string `json:"effect,omitempty"`
	// TolerationSeconds bounds how long a NoExecute taint is tolerated.
	TolerationSeconds *int `json:"tolerationSeconds,omitempty"`
}

var (
	tolerationOperators = []string{"Equal", "Exists"}
	taintEffects        = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
)

// Validate checks the placement as the API server would (label and taint key
// syntax, operators, effects), so a typo fails before anything is deployed.
func (p Placement) Validate() validate.Problems {
	var problems validate.Problems
	for key, value := range p.NodeSelector {
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			problems.Add("nodeSelector", key, "must be a label key: "+strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
			problems.Add("nodeSelector."+key, value, "must be a label value: "+strings.Join(errs, "; "))
		}
	}
	for i, t := range p.Tolerations {
		path := fmt.Sprintf("tolerations[%d]", i)
		if t.Key != "" {
			if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
				problems.Add(path+".key", t.Key, "must be a taint key: "+strings.Join(errs, "; "))
			}
		}
		if t.Operator != "" && !slices.Contains(tolerationOperators, t.Operator) {
			problems.Add(path+".operator", t.Operator, "must be one of "+strings.Join(tolerationOperators, ", "))
		}
		if t.Operator == "Exists" && t.Value != "" {
			problems.Add(path+".value", t.Value, "must be empty with operator Exists")
		}
		if t.Key == "" && t.Operator != "Exists" {
			problems.Add(path+".operator", t.Operator, "must be Exists when the key is empty (tolerating every taint)")
		}
		if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
			problems.Add(path+".effect", t.Effect, "must be one of "+strings.Join(taintEffects, ", ")+", or empty for all")
		}
		if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
			problems.Add(path+".tolerationSeconds", *t.TolerationSeconds, "is only for effect NoExecute")
		}
	}
	return problems
}

// Apply puts the placement on a pod spec: its node selector, over
// kubernetes.io/os: linux (every image the platform runs is a Linux one, and
// a cluster may have Windows nodes: the label is one the kubelet sets on
// every node), and its tolerations after those the spec has.
func (p Placement) Apply(spec *corev1.PodSpecArgs) {
	selector := map[string]string{"kubernetes.io/os": "linux"}
	maps.Copy(selector, p.NodeSelector)
	spec.NodeSelector = pulumi.ToStringMap(selector)
	var tolerations corev1.TolerationArray
	if spec.Tolerations != nil {
		tolerations = spec.Tolerations.(corev1.TolerationArray)
	}
	for _, t := range p.Tolerations {
		arg := &corev1.TolerationArgs{}
		if t.Key != "" {
			arg.Key = pulumi.String(t.Key)
		}
		if t.Operator != "" {
			arg.Operator = pulumi.String(t.Operator)
		}
		if t.Value != "" {
			arg.Value = pulumi.String(t.Value)
		}
		if t.Effect != "" {
			arg.Effect = pulumi.String(t.Effect)
		}
		if t.TolerationSeconds != nil {
			arg.TolerationSeconds = pulumi.Int(*t.TolerationSeconds)
		}
		tolerations = append(tolerations, arg)
	}
	if len(tolerations) > 0 {
		spec.Tolerations = tolerations
	}
}
