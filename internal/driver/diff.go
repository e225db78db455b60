package driver

import (
	"fmt"
	"reflect"
	"sort"
)

// diffPaths lists the property paths at which two decoded JSON values differ,
// in the engine's path syntax (a.b[0].c). Kubernetes bookkeeping that changes
// on every read (resourceVersion, managedFields, generation) is not drift.
func diffPaths(prefix string, old, new any) []string {
	if ignoredPath(prefix) {
		return nil
	}
	switch o := old.(type) {
	case map[string]any:
		n, ok := new.(map[string]any)
		if !ok {
			return []string{orRoot(prefix)}
		}
		keys := map[string]bool{}
		for k := range o {
			keys[k] = true
		}
		for k := range n {
			keys[k] = true
		}
		var paths []string
		for k := range keys {
			paths = append(paths, diffPaths(join(prefix, k), o[k], n[k])...)
		}
		sort.Strings(paths)
		return paths
	case []any:
		n, ok := new.([]any)
		if !ok || len(n) != len(o) {
			return []string{orRoot(prefix)}
		}
		var paths []string
		for i := range o {
			paths = append(paths, diffPaths(fmt.Sprintf("%s[%d]", prefix, i), o[i], n[i])...)
		}
		return paths
	}
	if !reflect.DeepEqual(old, new) {
		return []string{orRoot(prefix)}
	}
	return nil
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
