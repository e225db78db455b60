package validate

import (
	"testing"
)

type secret struct{}

func (secret) String() string { return "[secret]" }

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems, yet an error")
	}
	p.Add("b.port", 70000, "must be a port number")
	p.Add("a.image", "x:latest", `must not use "latest"`)
	p.Add("c.list", Verbatim("[]"), "must not be empty")
	p.Add("d.token", secret{}, "must be a secret")
	var service Problems
	service.Add("replicas", 0, "must be at least 1")
	service.Add("port", 0, "must be a port number")
	p.Nest("svc", service)
	var list Problems
	list.Add("[1].name", "a", "is already the name of [0]")
	p.Nest("services", list)
	want := `a.image: "x:latest": must not use "latest"
b.port: 70000: must be a port number
c.list: []: must not be empty
d.token: [secret]: must be a secret
services[1].name: "a": is already the name of [0]
svc.port: 0: must be a port number
svc.replicas: 0: must be at least 1`
	if got := p.Err().Error(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if p[len(p)-1].Path != "services[1].name" || p[len(p)-1].Value != "a" {
		t.Errorf("nested problem lost its structure: %+v", p[len(p)-1])
	}
}
