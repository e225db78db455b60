package policypack

import (
	"encoding/json"
	"strings"

	"github.com/acme/platform/policypack/shared"
)

// The pack's value model (secrets and unknowns kept) is shared's.
type (
	Secret  = shared.Secret
	Unknown = shared.Unknown
)

var (
	reveal    = shared.Reveal
	isUnknown = shared.IsUnknown
	show      = shared.Show
	quantity  = shared.Quantity
)

// at is the value at path (keys separated by dots) in m, secrets unwrapped;
// nil when a key is missing.
func at(m map[string]any, path string) any {
	var v any = m
	for _, key := range strings.Split(path, ".") {
		obj, ok := reveal(v).(map[string]any)
		if !ok {
			return nil
		}
		v = obj[key]
	}
	return reveal(v)
}

// str is a known string at path; ok is false when it is missing, unknown or
// not a string.
func str(m map[string]any, path string) (string, bool) {
	s, ok := at(m, path).(string)
	return s, ok
}

func object(v any) map[string]any {
	m, _ := reveal(v).(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := reveal(v).([]any)
	return l
}

// number is a known number at path.
func number(m map[string]any, path string) (float64, bool) {
	n, ok := at(m, path).(float64)
	return n, ok
}

// decode fills out (a Kubernetes API type) from v's known values.
func decode(v any, out any) error {
	data, err := json.Marshal(shared.Known(v))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
