// Package component declares every component of the platform one way (New):
// its arguments' derived defaults and validation, the provider it needs, its
// type token, the options its children take, and its outputs, which come
// from the component's tagged fields so that none is forgotten.
package component

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/internal/validate"
)

// Args is what the arguments of every component do. Their per-environment
// defaults come from the component's Profile before a stack's config is
// decoded over them; Defaults fills only what derives from other fields.
type Args[A any] interface {
	// Defaults returns a copy with the fields that derive from others filled.
	Defaults() A
	// Validate reports every problem at once, at the paths of the
	// arguments' JSON names.
	Validate() validate.Problems
	// NeedsProvider says whether the component declares provider resources.
	NeedsProvider() bool
}

// New declares a component: it fills args' derived defaults, validates them
// (every problem at once), checks that a provider is given where the
// component needs one, registers c as a component of type typ and runs build
// with args and the options every child takes (see Register). Every error
// says which component: `<module> "<name>": ...`.
func New[A Args[A]](ctx *pulumi.Context, typ, name string, c pulumi.ComponentResource, args A,
	provider pulumi.ProviderResource, build func(args A, children []pulumi.ResourceOption) error, opts ...pulumi.ResourceOption) error {
	args = args.Defaults()
	if err := args.Validate().Err(); err != nil {
		return fmt.Errorf("%s %q: %w", module(typ), name, err)
	}
	if provider == nil && args.NeedsProvider() {
		return fmt.Errorf("%s %q: a provider is required: every resource goes where an explicit provider says", module(typ), name)
	}
	return Register(ctx, typ, name, c, provider, func(children []pulumi.ResourceOption) error {
		return build(args, children)
	}, opts...)
}

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
