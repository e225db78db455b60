package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/acme/platform/internal/pulumitest"
)

// Kubernetes reads an int-or-string field given as a string as a percentage
// (rollout and disruption budgets) or as a port's name (probes, Services,
// network policies): "0" is neither, and the API server rejects it. The
// fields, by name, as the Kubernetes API declares them (intstr.IntOrString in
// k8s.io/api v0.37: apps/v1 RollingUpdateDeployment, RollingUpdateDaemonSet,
// RollingUpdateStatefulSetStrategy; policy/v1 PodDisruptionBudgetSpec;
// core/v1 HTTPGetAction, TCPSocketAction, ServicePort.targetPort;
// networking/v1 NetworkPolicyPort).
var (
	percentFields = map[string]bool{"maxUnavailable": true, "maxSurge": true, "minAvailable": true}
	// Named ports: the port of a probe's httpGet or tcpSocket, a Service's
	// targetPort, a network policy's port. Container ports and Service ports
	// themselves are plain integers.
	portNameFields = map[string]bool{"targetPort": true, "httpGet.port": true, "tcpSocket.port": true, "ports.port": true}
)

// TestIntOrStringFields checks every int-or-string value that every stack's
// program writes with upstream's validators (k8s.io/apimachinery's
// IsValidPercent and IsValidPortName, what the API server runs).
func TestIntOrStringFields(t *testing.T) {
	for _, stack := range []string{"dev", "prod", "local"} {
		t.Run(stack, func(t *testing.T) {
			g, err := pulumitest.Run(t, "platform", stack, Program(stackValues(t, stack)), pulumitest.InProject(".."))
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, r := range g.Resources {
				if !strings.HasPrefix(r.Type, "kubernetes:") {
					continue
				}
				walk(resource.NewProperty(r.Inputs), "", func(path, parent, key string, v resource.PropertyValue) {
					if !v.IsString() && !v.IsNumber() {
						return
					}
					field := key
					if parent == "httpGet" || parent == "tcpSocket" || parent == "ports" {
						field = parent + "." + key
					}
					var problems []string
					switch {
					case percentFields[key]:
						checked++
						if v.IsString() {
							problems = validation.IsValidPercent(v.StringValue())
						}
					case portNameFields[field]:
						checked++
						if v.IsString() {
							problems = validation.IsValidPortName(v.StringValue())
						}
					}
					if len(problems) > 0 {
						t.Errorf("%s %s: %s = %q: %s", r.Type, r.Name, path, v.StringValue(), strings.Join(problems, "; "))
					}
				})
			}
			if checked == 0 {
				t.Fatal("no int-or-string field found: the walk is broken")
			}
		})
	}
}

// walk calls visit for every value below v with its dotted path, the key of
// the object holding it (array elements keep their array's key) and its own.
func walk(v resource.PropertyValue, path string, visit func(path, parent, key string, v resource.PropertyValue)) {
	var rec func(v resource.PropertyValue, path, parent, key string)
	rec = func(v resource.PropertyValue, path, parent, key string) {
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		if v.IsOutput() {
			v = v.OutputValue().Element
		}
		switch {
		case v.IsObject():
			for k, child := range v.ObjectValue() {
				rec(child, path+"."+string(k), key, string(k))
			}
		case v.IsArray():
			for i, child := range v.ArrayValue() {
				rec(child, fmt.Sprintf("%s[%d]", path, i), parent, key)
			}
		default:
			visit(strings.TrimPrefix(path, "."), parent, key, v)
		}
	}
	rec(v, path, "", "")
}
