// Package validate collects input problems so that one run reports all of
// them, each as a path, the value found there and what is allowed.
package validate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Verbatim is a value shown as it is, without quotes: "[]", "[secret]".
type Verbatim string

// Problem is one value that is not allowed.
type Problem struct {
	// Path is where the value is: a field path within a component's
	// arguments ("replicas", "egress[0].cidr"), or a config key once nested
	// ("platform:services[0].replicas").
	Path string
	// Value is what was given. Strings show quoted, a fmt.Stringer (a
	// secret) as its String, a Verbatim as it is.
	Value any
	// Allowed says what is allowed instead.
	Allowed string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Path, show(p.Value), p.Allowed) }

// Problems are the problems found so far.
type Problems []Problem

// Add records that path holds value, which is not allowed.
func (p *Problems) Add(path string, value any, allowed string) {
	*p = append(*p, Problem{Path: path, Value: value, Allowed: allowed})
}

// Nest records problems found at paths below prefix (a component's
// arguments under the config key that holds them).
func (p *Problems) Nest(prefix string, inner Problems) {
	for _, q := range inner {
		sep := "."
		if strings.HasPrefix(q.Path, "[") {
			sep = ""
		}
		q.Path = prefix + sep + q.Path
		*p = append(*p, q)
	}
}

// Err returns nil when there are no problems, else all of them, one per
// line, sorted by path.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	sorted := slices.SortedFunc(slices.Values(p), func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.String(), b.String()))
	})
	lines := make([]string, len(sorted))
	for i, q := range sorted {
		lines[i] = q.String()
	}
	return errors.New(strings.Join(lines, "\n"))
}

func show(v any) string {
	switch v := v.(type) {
	case Verbatim:
		return string(v)
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
