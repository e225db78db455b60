// Package validate collects input problems so that one run reports all of
// them, each as "key: value: what is allowed".
package validate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Verbatim is a value shown as it is, without quotes: "[]", "[secret]".
type Verbatim string

// Problems are the problems found so far.
type Problems []string

// Add records that key holds value, which is not allowed. Strings are quoted;
// a fmt.Stringer (a secret) shows as its String.
func (p *Problems) Add(key string, value any, allowed string) {
	*p = append(*p, fmt.Sprintf("%s: %s: %s", key, show(value), allowed))
}

// AddAll records problems found elsewhere (one per line of err) under a key prefix.
func (p *Problems) AddAll(prefix string, err error) {
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		*p = append(*p, prefix+line)
	}
}

// Err returns nil when there are no problems, else all of them, one per line, sorted.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	lines := append([]string(nil), p...)
	sort.Strings(lines)
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
