package pulumitest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// update rewrites the records that CheckRecord compares against.
var update = flag.Bool("update-records", false, "rewrite the resource records under testdata/ (pulumitest.CheckRecord)")

// Recorded is one resource of a record: its type token, its name and its
// inputs as JSON, secret values replaced by "[secret]".
type Recorded struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Inputs map[string]any `json:"inputs"`
}

// CheckRecord compares the resources of the graph whose type token starts
// with prefix against the record in file, and rewrites the file instead
// under -update-records. A record lets a check that cannot live in this module (an
// upstream provider's own validation, say) judge exactly what the program
// registers: this test fails when the record is stale, the other when the
// record is invalid.
func CheckRecord(t testing.TB, g *Graph, prefix, file string) {
	t.Helper()
	var record []Recorded
	for _, r := range g.Resources {
		if strings.HasPrefix(r.Type, prefix) {
			record = append(record, Recorded{Type: r.Type, Name: r.Name, Inputs: plain(resource.NewProperty(r.Inputs)).(map[string]any)})
		}
	}
	if len(record) == 0 {
		t.Fatalf("no resource of type %s* to record", prefix)
	}
	slices.SortFunc(record, func(a, b Recorded) int { return strings.Compare(a.Type+" "+a.Name, b.Type+" "+b.Name) })
	data, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	CheckFile(t, file, append(data, '\n'))
}

// CheckFile compares file with data, what the code generates now, and
// rewrites the file instead under -update-records: for generated files
// that are committed, so that a stale one fails its test.
func CheckFile(t testing.TB, file string, data []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(old, data) {
		t.Errorf("%s is not what the code generates now (%v): rerun this test with -update-records and commit the file", file, err)
	}
}

// plain is a property value as JSON would carry it: secrets as "[secret]",
// unknown values as "[unknown]".
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return "[secret]"
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return "[unknown]"
	case v.IsOutput():
		if v.OutputValue().Secret {
			return "[secret]"
		}
		return plain(v.OutputValue().Element)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		a := []any{}
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	}
	return v.V
}
