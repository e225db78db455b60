package shared

import (
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Secret is a value the program marked secret.
type Secret struct{ Value any }

// Unknown is a value the engine does not know yet (an output of a resource
// a preview has not created).
type Unknown struct{}

// Reveal is v without its secret wrapper.
func Reveal(v any) any {
	for {
		s, ok := v.(Secret)
		if !ok {
			return v
		}
		v = s.Value
	}
}

// IsUnknown says whether v is not known yet.
func IsUnknown(v any) bool {
	_, ok := Reveal(v).(Unknown)
	return ok
}

// Known is v as JSON-able plain data: secrets unwrapped, unknown values
// left out.
func Known(v any) any {
	switch v := Reveal(v).(type) {
	case Unknown:
		return nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if !IsUnknown(e) {
				out[k] = Known(e)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if !IsUnknown(e) {
				out = append(out, Known(e))
			}
		}
		return out
	default:
		return v
	}
}

// Show is a value as a message quotes it; a secret never shows.
func Show(v any) string {
	switch v := v.(type) {
	case Secret:
		return "[secret]"
	case Unknown:
		return "(unknown)"
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "(missing)"
	}
	data, err := json.Marshal(masked(v))
	if err != nil {
		return "(unprintable)"
	}
	return string(data)
}

// masked is v with each secret inside it shown as [secret] and each unknown
// value as (unknown).
func masked(v any) any {
	switch v := v.(type) {
	case Secret:
		return "[secret]"
	case Unknown:
		return "(unknown)"
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = masked(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = masked(e)
		}
		return out
	}
	return v
}

// Quantity parses a Kubernetes quantity, given as a string or a number.
func Quantity(v any) (resource.Quantity, error) {
	switch v := Reveal(v).(type) {
	case string:
		return resource.ParseQuantity(v)
	case float64:
		return resource.ParseQuantity(strconv.FormatFloat(v, 'f', -1, 64))
	case int:
		return *resource.NewQuantity(int64(v), resource.DecimalSI), nil
	}
	return resource.Quantity{}, fmt.Errorf("not a quantity: %v", v)
}
