package configdecode

import (
	"strings"
	"testing"
)

type inner struct {
	Size string `json:"size"`
}

type embedded struct {
	Image string `json:"image"`
}

type args struct {
	embedded
	Name     string   `json:"name"`
	Replicas int      `json:"replicas"`
	Inner    inner    `json:"inner"`
	Tags     []string `json:"tags"`
	Program  string   `json:"-"`
}

func TestDecodeOverDefaults(t *testing.T) {
	base := func() args { return args{Name: "default", Replicas: 3, Inner: inner{Size: "1Gi"}, Program: "filled"} }
	a := base()
	if p := Decode("key", `{"replicas":0,"image":"x"}`, &a); len(p) != 0 {
		t.Fatal(p.Err())
	}
	if a.Replicas != 0 || a.Name != "default" || a.Inner.Size != "1Gi" || a.Image != "x" || a.Program != "filled" {
		t.Errorf("got %+v: want 0 replicas as written, the embedded image, every other default kept", a)
	}
	list, p := DecodeList("key", `[{"name":"a"},{"inner":{"size":"2Gi"}}]`, base)
	if len(p) != 0 {
		t.Fatal(p.Err())
	}
	if list[0].Name != "a" || list[0].Replicas != 3 || list[1].Name != "default" || list[1].Inner.Size != "2Gi" {
		t.Errorf("each item starts from the defaults: %+v", list)
	}
}

func TestDecodeReportsShape(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{`{"replica":1}`, `key.replica: 1: unknown field; allowed: image, inner, name, replicas, tags`},
		{`{"replicas":"two"}`, `key.replicas: "two": must be a whole number`},
		{`{"inner":{"sise":"1Gi"}}`, `key.inner.sise: "1Gi": unknown field; allowed: size`},
		{`{"tags":"a"}`, `key.tags: "a": must be a list`},
		{`{"Program":"x"}`, `key.Program: "x": unknown field`},
		{`not json`, `key: "not json": must be structured config`},
	} {
		a := args{Name: "kept"}
		p := Decode("key", tt.raw, &a)
		if err := p.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: want %q, got %v", tt.raw, tt.want, err)
		}
		if a.Name != "kept" {
			t.Errorf("%s: decoded despite shape problems", tt.raw)
		}
	}
}
