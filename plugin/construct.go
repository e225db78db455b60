package plugin

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/platform/components/component"
	"github.com/acme/platform/internal/configdecode"
	"github.com/acme/platform/internal/validate"
)

// environmentInput is the input that picks a component's profile.
const environmentInput = "environment"

// Construct declares the component of type token named name, from its
// inputs: raw as the engine sent them (plain values are read from it) and as
// outputs (inputs keeps their secrecy and dependencies). Every problem with
// the inputs is reported at once, before anything is registered.
func Construct(ctx *pulumi.Context, token, name string, raw resource.PropertyMap, inputs pulumi.Map,
	opts pulumi.ResourceOption,
) (pulumi.ComponentResource, error) {
	c, err := lookup(token)
	if err != nil {
		return nil, err
	}
	args, p := c.decode(raw, inputs)
	if c.fromConfig != nil && len(p) == 0 {
		c.fromConfig(ctx, args, &p)
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("%s %q: %w", c.module(), name, err)
	}
	needed, err := c.providerOf(opts)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", c.module(), name, err)
	}
	return c.construct(ctx, name, args, needed, opts)
}

// providerOf finds the provider the component needs among those of the
// resource's providers option.
func (c Component) providerOf(opts pulumi.ResourceOption) (pulumi.ProviderResource, error) {
	options, err := pulumi.NewResourceOptions(opts)
	if err != nil {
		return nil, err
	}
	for _, p := range append(options.Providers, options.Provider) {
		if p != nil && providerPackage(p) == c.Provider {
			return p, nil
		}
	}
	return nil, fmt.Errorf("a %s provider is required: pass one in the resource's providers option (there is no ambient default)", c.Provider)
}

// providerPackage is the package of a provider resource: the last part of
// its SDK's Go package (kubernetes, github, docker), which the SDK registers
// so that the engine's references come back as its own type.
func providerPackage(p pulumi.ProviderResource) string {
	t := reflect.TypeOf(p)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	path := t.PkgPath()
	return path[strings.LastIndex(path, "/")+1:]
}

// decode reads the inputs into a new value of the component's Args, over
// the profile that the input "environment" picks.
func (c Component) decode(raw resource.PropertyMap, inputs pulumi.Map) (reflect.Value, validate.Problems) {
	var p validate.Problems
	args := reflect.New(c.Args).Elem()
	fields := fieldsOf(c.Args, nil)
	allowed := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		allowed = append(allowed, f.Name)
	}
	if c.profile != nil {
		allowed = append(allowed, environmentInput)
		environment := component.Dev
		if v, ok := raw[environmentInput]; ok && !v.IsNull() {
			value, problem := plainValue(v)
			if s, ok := value.(string); problem != "" || !ok || !slices.Contains(Environments, s) {
				p.Add(environmentInput, shown(v), "must be one of "+strings.Join(Environments, ", ")+": the profile of defaults")
				return args, p
			}
			environment = value.(string)
		}
		args.Set(c.profile(environment))
	}
	slices.Sort(allowed)
	for _, key := range raw.StableKeys() {
		if !slices.Contains(allowed, string(key)) {
			p.Add(string(key), shown(raw[key]), "unknown input; allowed: "+strings.Join(allowed, ", "))
		}
	}
	for _, f := range fields {
		v, ok := raw[resource.PropertyKey(f.Name)]
		if !ok || v.IsNull() {
			continue
		}
		assign(f.Name, v, inputs[f.Name], args.FieldByIndex(f.Index), &p)
	}
	return args, p
}

// assign writes the input at path into dst: plain values through the config
// decoder (shape checked, over the default dst holds), string inputs as
// outputs that keep their secrecy and dependencies, structs field by field.
func assign(path string, v resource.PropertyValue, out pulumi.Input, dst reflect.Value, p *validate.Problems) {
	switch {
	case isPlain(dst.Type()):
		value, problem := plainValue(v)
		if problem != "" {
			p.Add(path, shown(v), problem)
			return
		}
		data, err := json.Marshal(value)
		if err != nil {
			p.Add(path, shown(v), err.Error())
			return
		}
		*p = append(*p, configdecode.Decode(path, string(data), dst.Addr().Interface())...)
	case dst.Type() == stringInput:
		dst.Set(reflect.ValueOf(stringOutput(out)))
	case dst.Kind() == reflect.Pointer && dst.Type().Elem().Kind() == reflect.Struct:
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		assign(path, v, out, dst.Elem(), p)
	case dst.Kind() == reflect.Struct:
		object := element(v)
		if !object.IsObject() {
			if !object.ContainsUnknowns() {
				p.Add(path, shown(v), "must be an object")
			}
			return
		}
		for _, f := range fieldsOf(dst.Type(), nil) {
			inner, ok := object.ObjectValue()[resource.PropertyKey(f.Name)]
			if !ok || inner.IsNull() {
				continue
			}
			assign(path+"."+f.Name, inner, member(out, f.Name), dst.FieldByIndex(f.Index), p)
		}
	default:
		p.Add(path, shown(v), fmt.Sprintf("is of a type the package cannot take (%s)", dst.Type()))
	}
}

// plainValue is v as a plain Go value, or why it cannot be one: a plain
// input must be known when the component is declared, and is not a secret
// (it is stored and shown as it is).
func plainValue(v resource.PropertyValue) (any, string) {
	if v.ContainsUnknowns() {
		return nil, "must be known when the component is declared: a plain value, not another resource's output"
	}
	if v.ContainsSecrets() {
		return nil, "must not be a secret: it is a plain setting, stored and shown as it is"
	}
	return element(v).Mappable(), ""
}

// element is v without the output wrappers around a known value.
func element(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		case v.IsSecret():
			v = v.SecretValue().Element
		default:
			return v
		}
	}
}

// shown is v for a problem's message; secrets are never shown.
func shown(v resource.PropertyValue) any {
	switch {
	case v.ContainsSecrets():
		return validate.Verbatim("[secret]")
	case v.ContainsUnknowns():
		return validate.Verbatim("[unknown]")
	}
	return element(v).Mappable()
}

// stringOutput is an input as a string output, secret and dependent as it is.
func stringOutput(in pulumi.Input) pulumi.StringOutput {
	return pulumi.ToOutput(in).ApplyT(func(v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	}).(pulumi.StringOutput)
}

// member is the field name of an object input.
func member(in pulumi.Input, name string) pulumi.Input {
	return pulumi.ToOutput(in).ApplyT(func(v any) (any, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
		return m[name], nil
	})
}
