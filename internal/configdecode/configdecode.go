// Package configdecode decodes structured stack config into a component's
// arguments, over the defaults already in them: a key that is absent keeps
// its default, a key that is present is taken as it is (JSON decoding only
// writes what it reads). Before decoding, the value's shape is checked
// against the Go type, so that an unknown field or a value of the wrong kind
// is reported with its full path and value instead of being dropped.
package configdecode

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/acme/platform/internal/validate"
)

// Value is one config value as the engine hands it over: the raw string (JSON
// for structured values) and whether the stack file holds it encrypted.
type Value struct {
	Raw    string
	Secret bool
}

// Decode reads the JSON value raw, found at path, into out (a pointer), over
// what out holds. It reports every shape problem and decodes nothing then.
func Decode(path, raw string, out any) validate.Problems {
	var generic any
	var p validate.Problems
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		p.Add(path, raw, "must be structured config (a YAML object or list)")
		return p
	}
	checkShape(path, generic, reflect.TypeOf(out).Elem(), &p)
	if len(p) > 0 {
		return p
	}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		p.Add(path, raw, err.Error())
	}
	return p
}

// DecodeList reads the JSON list raw, found at path, decoding each item over
// the defaults base returns, so that every item starts from them.
func DecodeList[T any](path, raw string, base func() T) ([]T, validate.Problems) {
	var items []json.RawMessage
	var p validate.Problems
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		var generic any
		if json.Unmarshal([]byte(raw), &generic) != nil {
			p.Add(path, raw, "must be structured config (a YAML list)")
		} else {
			p.Add(path, Shown(generic), "must be a list")
		}
		return nil, p
	}
	out := make([]T, 0, len(items))
	for i, item := range items {
		v := base()
		p = append(p, Decode(fmt.Sprintf("%s[%d]", path, i), string(item), &v)...)
		out = append(out, v)
	}
	return out, p
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

// checkShape walks a decoded JSON value beside the Go type it will fill and
// reports every object key the type has no field for and every value of the
// wrong kind. A json.RawMessage is decoded later, by its owner.
func checkShape(path string, v any, t reflect.Type, p *validate.Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == rawMessage {
		return
	}
	wrong := func(want string) { p.Add(path, Shown(v), "must be "+want) }
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			wrong("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			wrong("true or false")
		}
	case reflect.Int:
		if f, ok := v.(float64); !ok || f != float64(int(f)) {
			wrong("a whole number")
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			wrong("a list")
			return
		}
		for i, item := range items {
			checkShape(fmt.Sprintf("%s[%d]", path, i), item, t.Elem(), p)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			wrong("an object")
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			checkShape(path+"."+k, m[k], t.Elem(), p)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			wrong("an object")
			return
		}
		fields := Fields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, ok := fields[k]
			if !ok {
				p.Add(path+"."+k, Shown(m[k]), "unknown field; allowed: "+strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
				continue
			}
			checkShape(path+"."+k, m[k], f.Type, p)
		}
	}
}

// Fields are the config keys of a struct type: its fields by JSON name,
// those of embedded structs included, as encoding/json flattens them.
func Fields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			maps.Copy(fields, Fields(f.Type))
			continue
		}
		if name != "" && name != "-" && f.IsExported() {
			fields[name] = f
		}
	}
	return fields
}

// Shown renders a decoded JSON value as the user wrote it.
func Shown(v any) any {
	if s, ok := v.(string); ok {
		return s
	}
	out, _ := json.Marshal(v)
	return validate.Verbatim(out)
}
