package kube

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
)

// LogsAllowance is the node disk a container may take besides the pod's
// emptyDirs: its log files (every root filesystem here is read-only).
var LogsAllowance = resource.MustParse("256Mi")

// BoundEphemeralStorage gives every container an ephemeral-storage request
// and limit: LogsAllowance each, and the first container the size limits of
// the pod's emptyDirs too, because the kubelet counts emptyDir use against
// the pod's total, the sum of its containers' limits. Containers must be
// *corev1.ContainerArgs with resources made by Resources.Args.
func BoundEphemeralStorage(containers corev1.ContainerArray, volumes corev1.VolumeArray) {
	pod := LogsAllowance.DeepCopy()
	for _, v := range volumes {
		args, ok := v.(*corev1.VolumeArgs)
		if !ok || args.EmptyDir == nil {
			continue
		}
		if size, ok := args.EmptyDir.(*corev1.EmptyDirVolumeSourceArgs).SizeLimit.(pulumi.String); ok {
			pod.Add(resource.MustParse(string(size)))
		}
	}
	for i, c := range containers {
		amount := LogsAllowance
		if i == 0 {
			amount = pod
		}
		r := c.(*corev1.ContainerArgs).Resources.(*corev1.ResourceRequirementsArgs)
		r.Requests.(pulumi.StringMap)["ephemeral-storage"] = pulumi.String(amount.String())
		r.Limits.(pulumi.StringMap)["ephemeral-storage"] = pulumi.String(amount.String())
	}
}
