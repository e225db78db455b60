package plugin

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/workload"
)

func workloadComponent(t *testing.T) Component {
	t.Helper()
	c, err := lookup(workload.TypeToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecodeOverTheProfile(t *testing.T) {
	c := workloadComponent(t)
	raw := resource.NewPropertyMapFromMap(map[string]any{
		"environment": "prod", "name": "greeter", "version": "1.2.3", "replicas": 0,
		"env": map[string]any{"GREETING": "hi"},
	})
	value, p := c.decode(raw, nil)
	if len(p) != 0 {
		t.Fatal(p.Err())
	}
	a := value.Interface().(workload.Args)
	if a.Replicas != 0 {
		t.Errorf("replicas %d: an explicit 0 is taken as written (Validate refuses it)", a.Replicas)
	}
	if !a.HighAvailability || a.Resources.Limits.Memory != "512Mi" || a.Environment != "prod" || a.Env["GREETING"] != "hi" {
		t.Errorf("want prod's profile under the inputs, got %+v", a)
	}
	if err := a.Validate().Err(); err == nil || !strings.Contains(err.Error(), "replicas: 0: must be at least 2") {
		t.Errorf("Validate: %v", err)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	c := workloadComponent(t)
	for _, tt := range []struct {
		name string
		raw  resource.PropertyMap
		want string
	}{
		{"unknown input", resource.PropertyMap{"replica": resource.NewProperty(2.0)},
			"replica: 2: unknown input; allowed: allowFrom, autoscaling, dns, drainSeconds, egress, env, environment"},
		{"environment", resource.PropertyMap{"environment": resource.NewProperty("staging")},
			`environment: "staging": must be one of dev, prod, local`},
		{"wrong kind", resource.PropertyMap{"replicas": resource.NewProperty("two")},
			`replicas: "two": must be a whole number`},
		{"nested unknown field", resource.PropertyMap{"probes": resource.NewProperty(resource.PropertyMap{"ready": resource.NewProperty("/r")})},
			`probes.ready: "/r": unknown field; allowed: liveness, readiness, startup`},
		{"unknown plain value", resource.PropertyMap{"version": resource.MakeComputed(resource.NewProperty(""))},
			"version: [unknown]: must be known when the component is declared"},
		{"secret plain value", resource.PropertyMap{"version": resource.MakeSecret(resource.NewProperty("1.0.0"))},
			"version: [secret]: must not be a secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, p := c.decode(tt.raw, nil)
			if err := p.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want %q, got %v", tt.want, err)
			}
			if err := p.Err(); err != nil && strings.Contains(err.Error(), "1.0.0") {
				t.Errorf("a secret is shown: %v", err)
			}
		})
	}
}

func TestAProviderIsRequired(t *testing.T) {
	c := workloadComponent(t)
	_, err := c.providerOf(pulumi.Protect(false))
	if err == nil || !strings.Contains(err.Error(), "a kubernetes provider is required") {
		t.Errorf("want the missing provider named, got %v", err)
	}
}

func TestUnknownType(t *testing.T) {
	if _, err := lookup("platform:workload:Nope"); err == nil || !strings.Contains(err.Error(), workload.TypeToken) {
		t.Errorf("want the served types named, got %v", err)
	}
}
