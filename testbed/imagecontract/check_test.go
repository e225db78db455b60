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

// The pod's security context counts where the container's says nothing.
func TestCheckReadsThePodSecurityContext(t *testing.T) {
	spec := decode(t, `{"securityContext":{"runAsNonRoot":true}}`)
	problems, _ := Check(spec, decode(t, `{"image":"busybox:1.37.0"}`), Task)
	if len(problems) != 1 {
		t.Errorf("problems %q, want the pod's runAsNonRoot on root busybox", problems)
	}
}
