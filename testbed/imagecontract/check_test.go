package imagecontract

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Each rule of Check, with a container that breaks it and one that fits.
func TestCheck(t *testing.T) {
	const kafka, busybox, es = `"image":"apache/kafka:4.1.0"`, `"image":"busybox:1.37.0"`, `"image":"docker.elastic.co/elasticsearch/elasticsearch:8.19.3"`
	ro := `"securityContext":{"readOnlyRootFilesystem":true}`
	tests := []struct {
		name      string
		container string
		role      Role
		want      string // "" fits
	}{
		{"VOLUME inside a read-only mount", `{` + kafka + `,"command":["/bin/sh","x"],"volumeMounts":[{"mountPath":"/etc/kafka","readOnly":true}]}`, Server, "VOLUME /etc/kafka/secrets lies inside the read-only mount /etc/kafka"},
		{"a read-only mount beside the VOLUMEs", `{` + kafka + `,"command":["/bin/sh","x"],"volumeMounts":[{"mountPath":"/etc/platform-kafka","readOnly":true}]}`, Server, ""},
		{"data under an image VOLUME", `{` + kafka + `,"command":["/bin/sh","x"],"volumeMounts":[{"mountPath":"/var/lib/kafka"}]}`, StatefulServer, "VOLUME /var/lib/kafka/data lies between"},
		{"data on no mount", `{` + kafka + `,"command":["/bin/sh","x"]}`, StatefulServer, "the data folder /var/lib/kafka/data is on no mount"},
		{"data on its claim", `{` + kafka + `,"command":["/bin/sh","x"],"volumeMounts":[{"mountPath":"/var/lib/kafka/data"}]}`, StatefulServer, ""},
		{"runAsNonRoot on a root image", `{` + busybox + `,"securityContext":{"runAsNonRoot":true}}`, Server, "runAsNonRoot on an image that runs as root"},
		{"runAsNonRoot with a user", `{` + busybox + `,"securityContext":{"runAsNonRoot":true,"runAsUser":65534}}`, Server, ""},
		{"writes on a read-only root", `{` + es + `,"command":["/bin/sh","-c","cp a b"],` + ro + `,"volumeMounts":[{"mountPath":"/usr/share/elasticsearch/data"},{"mountPath":"/usr/share/elasticsearch/config"},{"mountPath":"/tmp"}]}`, Server, "writes /usr/share/elasticsearch/logs"},
		{"writes on a read-only mount", `{` + es + `,"command":["/bin/sh","-c","cp a b"],` + ro + `,"volumeMounts":[{"mountPath":"/usr/share/elasticsearch","readOnly":true}]}`, Server, "writes /usr/share/elasticsearch/config"},
		{"kept entrypoint writes", `{` + kafka + `,` + ro + `,"volumeMounts":[{"mountPath":"/var/lib/kafka/data"},{"mountPath":"/tmp"}]}`, Server, "writes /opt/kafka/config"},
		{"a program the image lacks", `{` + busybox + `,"command":["/bin/sh","-c","curl http://x"]}`, Server, "calls curl, which the image does not have"},
		{"a probe's program", `{` + busybox + `,"readinessProbe":{"exec":{"command":["/bin/sh","-c","wget x"]}}}`, Server, "calls wget"},
		{"a task writes none of the server's folders", `{` + es + `,"command":["/bin/sh","-c","cp a b"],` + ro + `}`, Task, ""},
		{"programs the image has", `{` + busybox + `,"command":["/bin/sh","-c","cat /x || sysctl -w a=1"]}`, Server, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems, known := Check(map[string]any{}, decode(t, tt.container), tt.role)
			if !known {
				t.Fatal("the image has no contract")
			}
			got := strings.Join(problems, "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
	if _, known := Check(nil, decode(t, `{"image":"example.com/unknown:1"}`), Server); known {
		t.Error("an image without a contract is judged")
	}
}

// An emptyDir under the folders an image writes scratch into holds what the
// contract says it writes there: the sum over the folders it covers.
func TestCheckScratchVolumes(t *testing.T) {
	es := `{"image":"docker.elastic.co/elasticsearch/elasticsearch:8.19.3","command":["/bin/sh","-c","cp a b"],` +
		`"volumeMounts":[{"name":"logs","mountPath":"/usr/share/elasticsearch/logs"},{"name":"tmp","mountPath":"/tmp"}]}`
	tests := []struct {
		name, volumes, want string
	}{
		{"limits that hold the writes", `{"name":"logs","emptyDir":{"sizeLimit":"1Gi"}},{"name":"tmp","emptyDir":{"sizeLimit":"64Mi"}}`, ""},
		{"a limit below the writes", `{"name":"logs","emptyDir":{"sizeLimit":"1Gi"}},{"name":"tmp","emptyDir":{"sizeLimit":"32Mi"}}`,
			"the emptyDir tmp at /tmp is limited to 32Mi; the image writes up to 64Mi there"},
		{"no limit", `{"name":"logs","emptyDir":{}},{"name":"tmp","emptyDir":{"sizeLimit":"1Gi"}}`, "the emptyDir logs at /usr/share/elasticsearch/logs has no size limit"},
		{"a claim is not judged", `{"name":"logs","persistentVolumeClaim":{"claimName":"x"}},{"name":"tmp","emptyDir":{"sizeLimit":"1Gi"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems, _ := Check(decode(t, `{"volumes":[`+tt.volumes+`]}`), decode(t, es), Server)
			var scratch []string
			for _, p := range problems {
				if strings.Contains(p, "emptyDir") {
					scratch = append(scratch, p)
				}
			}
			got := strings.Join(scratch, "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
	// One emptyDir over two folders holds both.
	whole := `{"image":"docker.elastic.co/elasticsearch/elasticsearch:8.19.3","command":["/bin/sh","-c","cp a b"],"volumeMounts":[{"name":"es","mountPath":"/usr/share/elasticsearch"}]}`
	problems, _ := Check(decode(t, `{"volumes":[{"name":"es","emptyDir":{"sizeLimit":"70Mi"}}]}`), decode(t, whole), Server)
	if got := strings.Join(problems, "\n"); !strings.Contains(got, "limited to 70Mi; the image writes up to 72Mi") {
		t.Errorf("problems %q, want config and logs summed (72Mi) against the limit, 70Mi", got)
	}
}

// The pod's security context counts where the container's says nothing.
func TestCheckReadsThePodSecurityContext(t *testing.T) {
	spec := decode(t, `{"securityContext":{"runAsNonRoot":true}}`)
	problems, _ := Check(spec, decode(t, `{"image":"busybox:1.37.0"}`), Task)
	if len(problems) != 1 {
		t.Errorf("problems %q, want the pod's runAsNonRoot on root busybox", problems)
	}
}
