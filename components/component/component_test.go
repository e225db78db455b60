package component

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/pulumitest"
)

type thing struct {
	pulumi.ResourceState

	URL   pulumi.StringOutput `pulumi:"url"`
	Count pulumi.IntOutput    `pulumi:"count"`
	note  string
}

type badThing struct {
	pulumi.ResourceState

	URL string `pulumi:"url"`
}

func TestOutputs(t *testing.T) {
	c := &thing{URL: pulumi.String("https://x").ToStringOutput(), Count: pulumi.Int(2).ToIntOutput(), note: "private"}
	outputs, err := Outputs(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(outputs) != 2 || outputs["url"] == nil || outputs["count"] == nil {
		t.Errorf("outputs %v, want url and count", outputs)
	}
	if _, err := Outputs(&badThing{URL: "x"}); err == nil || !strings.Contains(err.Error(), "output field URL (string) is not a Pulumi input") {
		t.Errorf("a plain field: %v", err)
	}
	if _, err := Outputs(thing{}); err == nil {
		t.Error("a component that is not a pointer accepted")
	}
}

func TestRegisterParentsChildrenAndRegistersOutputs(t *testing.T) {
	g, err := pulumitest.Run(t, "platform", "test", func(ctx *pulumi.Context) error {
		c := &thing{}
		return Register(ctx, "platform:test:Thing", "t", c, nil, func(children []pulumi.ResourceOption) error {
			child := &thing{}
			if err := ctx.RegisterComponentResource("platform:test:Child", "child", child, children...); err != nil {
				return err
			}
			c.URL = pulumi.String("https://x").ToStringOutput()
			c.Count = pulumi.Int(1).ToIntOutput()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	parent := g.One(t, "platform:test:Thing", "t")
	if child := g.One(t, "platform:test:Child", "child"); child.Parent != parent.URN {
		t.Errorf("child parent %q, want %q", child.Parent, parent.URN)
	}

	_, err = pulumitest.Run(t, "platform", "test", func(ctx *pulumi.Context) error {
		return Register(ctx, "platform:test:Bad", "b", &badThing{}, nil, func([]pulumi.ResourceOption) error { return nil })
	})
	if err == nil || !strings.Contains(err.Error(), `platform:test:Bad "b": output field URL (string) is not a Pulumi input`) {
		t.Errorf("a component with a plain output field: %v", err)
	}
	boom := errors.New("boom")
	_, err = pulumitest.Run(t, "platform", "test", func(ctx *pulumi.Context) error {
		return Register(ctx, "platform:test:Thing", "t", &thing{}, nil, func([]pulumi.ResourceOption) error { return boom })
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `test "t": boom`) {
		t.Errorf("build error lost or not said whose: %v", err)
	}
}
