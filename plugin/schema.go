package plugin

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SchemaJSON is the package's schema, generated from the components' Args
// and doc comments by Schema (TestSchemaIsCurrent keeps it so).
//
//go:embed schema.json
var SchemaJSON []byte

// Schema generates the package schema (Pulumi package schema, the format
// pkg/codegen/schema of pulumi v3.274.1 reads) from the components: their
// inputs and object types from the Args, descriptions from docs, each
// input's default per environment from the profiles, secrets and required
// inputs from the `package` tags, the outputs from the components'
// `pulumi:"name"` fields.
func Schema(d docs) ([]byte, error) {
	g := generator{docs: d, types: map[string]any{}, goTypes: map[string]reflect.Type{}}
	resources := map[string]any{}
	for _, c := range Components {
		r, err := g.resource(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Token, err)
		}
		resources[c.Token] = r
	}
	spec := map[string]any{
		"name":        Name,
		"version":     Version,
		"displayName": "Platform",
		"description": "The platform team's components: a service's Kubernetes workload, the observability stack, " +
			"a GitHub repository with its rules, and a service's container image.",
		"publisher": "acme",
		"resources": resources,
		"types":     g.types,
		"language": map[string]any{
			"nodejs": map[string]any{"packageName": "@acme/platform"},
			"python": map[string]any{"packageName": "acme_platform"},
		},
	}
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(spec); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type generator struct {
	docs    docs
	types   map[string]any
	goTypes map[string]reflect.Type
}

// resource is the schema of one component.
func (g *generator) resource(c Component) (map[string]any, error) {
	inputs := map[string]any{}
	var required []string
	if c.profile != nil {
		inputs[environmentInput] = map[string]any{
			"type":  "string",
			"plain": true,
			"description": "The profile of defaults the other inputs are decoded over, as in the Go program's stack config: " +
				strings.Join(Environments, ", ") + " (default dev). prod is highly available and protected.",
		}
	}
	for _, f := range fieldsOf(c.Args, g.docs) {
		spec, err := g.property(c.module(), f)
		if err != nil {
			return nil, err
		}
		if c.profile != nil {
			description, _ := spec["description"].(string)
			if d := strings.TrimSpace(description + "\n\n" + defaults(c, f)); d != "" {
				spec["description"] = d
			}
		}
		inputs[f.Name] = spec
		if f.Required {
			required = append(required, f.Name)
		}
	}
	outputs := map[string]any{}
	var outputNames []string
	for i := range c.Resource.NumField() {
		f := c.Resource.Field(i)
		name := f.Tag.Get("pulumi")
		if name == "" || f.Anonymous {
			continue
		}
		spec, err := outputSpec(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", c.Resource.Name(), f.Name, err)
		}
		spec["description"] = g.docs.field(c.Resource, f.Name)
		outputs[name] = spec
		outputNames = append(outputNames, name)
	}
	r := map[string]any{
		"isComponent":     true,
		"description":     g.docs.typ(c.Resource),
		"inputProperties": inputs,
		"properties":      outputs,
		"required":        outputNames,
	}
	if len(required) > 0 {
		r["requiredInputs"] = required
	}
	return r, nil
}

// property is the schema of one input.
func (g *generator) property(module string, f field) (map[string]any, error) {
	spec, err := g.typeSpec(module, f.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	description := f.Doc
	if t := elemType(f.Type); description == "" && t.Kind() == reflect.Struct {
		description = g.docs.typ(t)
	}
	if description != "" {
		spec["description"] = description
	}
	if f.Secret {
		spec["secret"] = true
	}
	if isPlain(f.Type) {
		spec["plain"] = true
	}
	return spec, nil
}

// typeSpec is the schema type of a Go type; structs become object types of
// the module, named as in Go.
func (g *generator) typeSpec(module string, t reflect.Type) (map[string]any, error) {
	if t == stringInput {
		return map[string]any{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Pointer:
		return g.typeSpec(module, t.Elem())
	case reflect.Slice:
		items, err := g.typeSpec(module, t.Elem())
		if err != nil {
			return nil, err
		}
		if isPlain(t.Elem()) {
			items["plain"] = true
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			break
		}
		values, err := g.typeSpec(module, t.Elem())
		if err != nil {
			return nil, err
		}
		if isPlain(t.Elem()) {
			values["plain"] = true
		}
		return map[string]any{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		token := Name + ":" + module + ":" + t.Name()
		if err := g.object(token, module, t); err != nil {
			return nil, err
		}
		return map[string]any{"$ref": "#/types/" + token}, nil
	}
	return nil, fmt.Errorf("the package cannot take a %s", t)
}

// object adds the object type token, made from the struct t, once.
func (g *generator) object(token, module string, t reflect.Type) error {
	if seen, ok := g.goTypes[token]; ok {
		if seen != t {
			return fmt.Errorf("%s and %s would both be %s", seen, t, token)
		}
		return nil
	}
	g.goTypes[token] = t
	properties := map[string]any{}
	for _, f := range fieldsOf(t, g.docs) {
		spec, err := g.property(module, f)
		if err != nil {
			return fmt.Errorf("%s.%w", t.Name(), err)
		}
		properties[f.Name] = spec
	}
	g.types[token] = map[string]any{
		"type":        "object",
		"description": g.docs.typ(t),
		"properties":  properties,
	}
	return nil
}

// defaults documents an input's default in each environment, from the
// component's profiles, or nothing where there is none.
func defaults(c Component, f field) string {
	values := make([]string, len(Environments))
	for i, environment := range Environments {
		v := c.profile(environment).FieldByIndex(f.Index)
		if v.IsZero() && v.Kind() != reflect.Bool || !isPlain(f.Type) {
			continue
		}
		data, err := json.Marshal(v.Interface())
		if err != nil {
			continue
		}
		values[i] = "`" + string(data) + "`"
	}
	switch {
	case values[0] == "" && values[1] == "" && values[2] == "":
		return ""
	case values[0] == values[1] && values[1] == values[2]:
		return "Default: " + values[0] + "."
	}
	var parts []string
	for i, environment := range Environments {
		v := values[i]
		if v == "" {
			v = "none"
		}
		parts = append(parts, environment+" "+v)
	}
	return "Defaults: " + strings.Join(parts, ", ") + "."
}

// elemType is the type a pointer, slice or map holds, or t.
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t
}

// outputSpec is the schema type of a component's output field.
func outputSpec(t reflect.Type) (map[string]any, error) {
	anyRef := map[string]any{"$ref": "pulumi.json#/Any"}
	switch t {
	case reflect.TypeFor[pulumi.StringOutput]():
		return map[string]any{"type": "string"}, nil
	case reflect.TypeFor[pulumi.IntOutput]():
		return map[string]any{"type": "integer"}, nil
	case reflect.TypeFor[pulumi.BoolOutput]():
		return map[string]any{"type": "boolean"}, nil
	case reflect.TypeFor[pulumi.ArrayOutput]():
		return map[string]any{"type": "array", "items": anyRef}, nil
	case reflect.TypeFor[pulumi.MapOutput]():
		return map[string]any{"type": "object", "additionalProperties": anyRef}, nil
	}
	return nil, fmt.Errorf("no schema type for output type %s", t)
}
