// Package component registers every component of the platform one way: its
// type token, the options its children take, and its outputs, which come
// from the component's tagged fields so that none is forgotten.
package component

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Register registers c as a component of type typ, runs build with the
// options every child takes (parented to c, and given the provider when there
// is one), then registers as c's outputs every field of c tagged
// `pulumi:"name"`. A tagged field that is not a Pulumi input is an error.
// Errors say which component failed: `<module> "<name>": ...`, the module
// being the middle of the type token platform:<module>:<Type>.
func Register(ctx *pulumi.Context, typ, name string, c pulumi.ComponentResource, provider pulumi.ProviderResource,
	build func(children []pulumi.ResourceOption) error, opts ...pulumi.ResourceOption) error {
	if err := ctx.RegisterComponentResource(typ, name, c, opts...); err != nil {
		return err
	}
	children := []pulumi.ResourceOption{pulumi.Parent(c)}
	if provider != nil {
		children = append(children, pulumi.Provider(provider))
	}
	if err := build(children); err != nil {
		return fmt.Errorf("%s %q: %w", module(typ), name, err)
	}
	outputs, err := Outputs(c)
	if err != nil {
		return fmt.Errorf("%s %q: %w", typ, name, err)
	}
	return ctx.RegisterResourceOutputs(c, outputs)
}

// Outputs are the fields of the component c (a pointer to a struct) tagged
// `pulumi:"name"`, by name.
func Outputs(c any) (pulumi.Map, error) {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("a component must be a pointer to a struct, not %T", c)
	}
	v = v.Elem()
	outputs := pulumi.Map{}
	for i := range v.NumField() {
		field := v.Type().Field(i)
		tag := field.Tag.Get("pulumi")
		if tag == "" || field.Anonymous {
			continue
		}
		input, ok := v.Field(i).Interface().(pulumi.Input)
		if !ok {
			return nil, fmt.Errorf("output field %s (%s) is not a Pulumi input", field.Name, field.Type)
		}
		outputs[tag] = input
	}
	return outputs, nil
}

// module is the middle part of a type token, e.g. "workload" of
// platform:workload:Workload.
func module(typ string) string {
	if parts := strings.Split(typ, ":"); len(parts) == 3 {
		return parts[1]
	}
	return typ
}
