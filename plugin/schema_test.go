package plugin

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/acme/platform/internal/pulumitest"
)

// generated is the schema generated from this checkout's source.
func generated(t *testing.T) []byte {
	t.Helper()
	var types []reflect.Type
	for _, c := range Components {
		types = append(types, c.Args, c.Resource)
	}
	d, err := readDocs("..", "github.com/acme/platform", types...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Schema(d)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSchemaIsCurrent: the plugin serves schema.json, which must be what
// the components' Args and doc comments say now (-update-records rewrites it).
func TestSchemaIsCurrent(t *testing.T) {
	pulumitest.CheckFile(t, "schema.json", generated(t))
}

func TestSchemaDescribesTheComponents(t *testing.T) {
	var spec struct {
		Resources map[string]struct {
			IsComponent     bool                      `json:"isComponent"`
			Description     string                    `json:"description"`
			InputProperties map[string]map[string]any `json:"inputProperties"`
			RequiredInputs  []string                  `json:"requiredInputs"`
			Properties      map[string]map[string]any `json:"properties"`
		} `json:"resources"`
		Types map[string]struct {
			Properties map[string]map[string]any `json:"properties"`
		} `json:"types"`
	}
	data := generated(t)
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "<nil>") {
		t.Error("a description reads <nil>")
	}
	for _, token := range []string{"platform:workload:Workload", "platform:observability:Observability",
		"platform:repository:Repository", "platform:image:Image"} {
		r, ok := spec.Resources[token]
		if !ok || !r.IsComponent || r.Description == "" || len(r.Properties) == 0 {
			t.Errorf("%s: want a described component with outputs, got %+v", token, r)
		}
	}
	w := spec.Resources["platform:workload:Workload"]
	for _, tt := range []struct {
		property, key string
		want          any
	}{
		{"replicas", "type", "integer"},
		{"replicas", "plain", true},
		{"replicas", "description", "Defaults: dev `1`, prod `3`, local `1`."},
		{"port", "description", "Default: `8080`."},
		{"image", "type", "string"},
		{"image", "plain", nil},
		{"resources", "$ref", "#/types/platform:workload:Resources"},
		{"secretEnv", "description", "secret config keys of the project"},
		{"telemetry", "$ref", "#/types/platform:workload:Telemetry"},
		{"environment", "plain", true},
	} {
		got := w.InputProperties[tt.property][tt.key]
		if s, ok := tt.want.(string); ok && tt.key == "description" {
			if g, _ := got.(string); !strings.Contains(g, s) {
				t.Errorf("workload %s.%s = %q, want it to contain %q", tt.property, tt.key, g, s)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("workload %s.%s = %v, want %v", tt.property, tt.key, got, tt.want)
		}
	}
	for _, internal := range []string{"secrets", "Environment", "probes.port"} {
		if _, ok := w.InputProperties[internal]; ok {
			t.Errorf("workload exposes %s, which the component fills itself", internal)
		}
	}
	if _, ok := spec.Types["platform:workload:Probes"].Properties["port"]; ok {
		t.Error("Probes exposes port, which the component derives from the service port")
	}
	if got := strings.Join(w.RequiredInputs, ","); got != "name,version,image" {
		t.Errorf("workload requires %s, want name,version,image", got)
	}
	o := spec.Resources["platform:observability:Observability"]
	for _, secret := range []string{"elasticPassword", "tls"} {
		if o.InputProperties[secret]["secret"] != true {
			t.Errorf("observability %s is not marked secret", secret)
		}
	}
	if _, ok := spec.Resources["platform:image:Image"].InputProperties["environment"]; ok {
		t.Error("image has one set of defaults: no environment input")
	}
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{"CA": "ca", "URL": "url", "OTLPEndpoint": "otlpEndpoint", "Endpoint": "endpoint", "Kafka": "kafka"} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%s) = %s, want %s", in, got, want)
		}
	}
}
