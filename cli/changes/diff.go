package changes

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
)

// diffValues records, for every property path at which two decoded JSON
// values differ (in the engine's path syntax, a.b[0].c), the old and the new
// value. Kubernetes bookkeeping that changes on every read (resourceVersion,
// managedFields, generation, status) is not drift.
func diffValues(prefix string, old, new any, out map[string]ValueChange) {
	if ignoredPath(prefix) {
		return
	}
	switch o := old.(type) {
	case map[string]any:
		n, ok := new.(map[string]any)
		if !ok {
			out[orRoot(prefix)] = ValueChange{old, new}
			return
		}
		for k := range o {
			diffValues(join(prefix, k), o[k], n[k], out)
		}
		for k := range n {
			if _, seen := o[k]; !seen {
				diffValues(join(prefix, k), nil, n[k], out)
			}
		}
		return
	case []any:
		n, ok := new.([]any)
		if !ok || len(n) != len(o) {
			out[orRoot(prefix)] = ValueChange{old, new}
			return
		}
		for i := range o {
			diffValues(fmt.Sprintf("%s[%d]", prefix, i), o[i], n[i], out)
		}
		return
	}
	if !reflect.DeepEqual(old, new) {
		out[orRoot(prefix)] = ValueChange{old, new}
	}
}

var ignoredPaths = map[string]bool{
	"metadata.resourceVersion": true,
	"metadata.managedFields":   true,
	"metadata.generation":      true,
	"status":                   true,
}

func ignoredPath(path string) bool { return ignoredPaths[path] }

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func orRoot(p string) string {
	if p == "" {
		return "(all)"
	}
	return p
}

// valueAt returns the value at an engine property path (a.b[0]["c.d"]) in
// decoded outputs. A secret on the way (masked by the engine) is returned as
// the secret itself, never looked into.
func valueAt(v any, path string) (any, bool) {
	for path != "" {
		if isSecret(v) {
			return v, true
		}
		var key string
		var index = -1
		switch {
		case strings.HasPrefix(path, `["`):
			end := strings.Index(path, `"]`)
			if end < 0 {
				return nil, false
			}
			key, path = path[2:end], path[end+2:]
		case strings.HasPrefix(path, "["):
			end := strings.Index(path, "]")
			if end < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(path[1:end])
			if err != nil {
				return nil, false
			}
			index, path = n, path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			key, path = path[:end], path[end:]
		}
		path = strings.TrimPrefix(path, ".")
		switch node := v.(type) {
		case map[string]any:
			if index >= 0 {
				return nil, false
			}
			next, ok := node[key]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			if index < 0 || index >= len(node) {
				return nil, false
			}
			v = node[index]
		default:
			return nil, false
		}
	}
	return v, true
}

// isSecret reports whether a decoded property value is, or holds, a Pulumi
// secret as the engine serializes one: {sig.Key: sig.Secret, ...}.
func isSecret(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if v[sig.Key] == sig.Secret {
			return true
		}
		for _, e := range v {
			if isSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if isSecret(e) {
				return true
			}
		}
	}
	return false
}
