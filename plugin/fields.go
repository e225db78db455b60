package plugin

import (
	"reflect"
	"strings"
	"unicode"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// field is one input of a component, or of an object type inside one,
// found on its Go struct: the JSON name of a config key, or the name a
// `package:"name"` tag gives a field the program fills (json:"-"). Fields
// with neither are not inputs of the package. The tag's flags mark a
// secret input (`package:",secret"`) and a required one (`,required`).
type field struct {
	Name     string
	Index    []int
	Type     reflect.Type
	Doc      string
	Secret   bool
	Required bool
}

var (
	stringInput = reflect.TypeFor[pulumi.StringInput]()
	inputType   = reflect.TypeFor[pulumi.Input]()
)

// fieldsOf lists the inputs of struct type t, embedded structs flattened as
// encoding/json flattens them; docs gives each field's doc comment.
func fieldsOf(t reflect.Type, docs docs) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		jsonName, jsonTagged := f.Tag.Lookup("json")
		jsonName, _, _ = strings.Cut(jsonName, ",")
		if f.Anonymous && jsonName == "" && f.Type.Kind() == reflect.Struct {
			for _, inner := range fieldsOf(f.Type, docs) {
				inner.Index = append([]int{i}, inner.Index...)
				out = append(out, inner)
			}
			continue
		}
		tag := strings.Split(f.Tag.Get("package"), ",")
		name := tag[0]
		switch {
		case name != "":
		case jsonName != "" && jsonName != "-":
			name = jsonName
		case !jsonTagged:
			name = lowerFirst(f.Name)
		default:
			continue
		}
		fd := field{Name: name, Index: []int{i}, Type: f.Type, Doc: docs.field(t, f.Name)}
		for _, flag := range tag[1:] {
			switch flag {
			case "secret":
				fd.Secret = true
			case "required":
				fd.Required = true
			}
		}
		out = append(out, fd)
	}
	return out
}

// lowerFirst is a Go name as a schema property: CA becomes ca, URL url,
// Endpoint endpoint.
func lowerFirst(s string) string {
	r := []rune(s)
	i := 0
	for i < len(r) && unicode.IsUpper(r[i]) && (i == 0 || i+1 == len(r) || unicode.IsUpper(r[i+1])) {
		r[i] = unicode.ToLower(r[i])
		i++
	}
	return string(r)
}

// isPlain says a type holds no Pulumi input: its value must be known when
// the component is declared (a plain value in the schema).
func isPlain(t reflect.Type) bool {
	return !holdsInput(t, map[reflect.Type]bool{})
}

func holdsInput(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t.Implements(inputType) {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return holdsInput(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsInput(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
