package drift

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/acme/platform/cli/changes"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// recorded is a refresh preview of the local stack after five out-of-band
// changes (scale, image, ConfigMap value, Secret value, label) and a deleted
// Service, as the engine streamed it (platform drift --events).
func recorded(t *testing.T) Report {
	t.Helper()
	f, err := os.Open("testdata/refresh-preview-events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recorded changes.Recorder
	dec := json.NewDecoder(f)
	for dec.More() {
		var e apitype.EngineEvent
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		recorded.Record(e)
	}
	return New("local", recorded.Changes())
}

func TestGolden(t *testing.T) {
	report := recorded(t)
	for format, file := range map[string]string{"table": "report.txt", "json": "report.json", "markdown": "report.md"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := report.Write(&out, format); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", file)
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("%s report differs from %s (go test -update to accept):\n%s", format, golden, out.String())
			}
		})
	}
}

func TestReportFromRecordedEvents(t *testing.T) {
	report := recorded(t)
	if !report.Drifted || !report.NeedsAttention() {
		t.Fatalf("drift not reported: %+v", report)
	}
	want := map[string]struct {
		change string
		paths  []string
	}{
		"greeter":        {"", nil}, // three resources are named greeter: checked by type below
		"greeter-env":    {"update", []string{"data.GREETING"}},
		"greeter-secret": {"update", []string{"data.GREETER_API_TOKEN"}},
	}
	byType := map[string]Resource{}
	for _, r := range report.Resources {
		byType[r.Type] = r
		if w, ok := want[r.Name]; ok && w.change != "" {
			if r.Change != w.change || len(r.Properties) != len(w.paths) || r.Properties[0].Path != w.paths[0] {
				t.Errorf("%s: %+v", r.Name, r)
			}
		}
	}
	if d := byType["kubernetes:apps/v1:Deployment"]; len(d.Properties) != 2 || d.Properties[0].Old != 1.0 || d.Properties[0].New != 2.0 {
		t.Errorf("deployment drift %+v", d)
	}
	if s := byType["kubernetes:core/v1:Service"]; s.Change != "delete" {
		t.Errorf("deleted service reported as %q", s.Change)
	}
	if sa := byType["kubernetes:core/v1:ServiceAccount"]; len(sa.Properties) != 1 || sa.Properties[0].New != "tampered" {
		t.Errorf("label drift %+v", sa)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	report := recorded(t)
	for _, r := range report.Resources {
		if r.Type != "kubernetes:core/v1:Secret" {
			continue
		}
		for _, p := range r.Properties {
			if p.Old != changes.Masked || p.New != changes.Masked {
				t.Errorf("secret property %s shown as %v -> %v", p.Path, p.Old, p.New)
			}
		}
	}
}

func TestCleanReport(t *testing.T) {
	r := New("prod", nil)
	if r.Drifted || r.NeedsAttention() {
		t.Fatalf("clean stack reported as %+v", r)
	}
	for format, want := range map[string]string{
		"table": "stack prod: no drift\n", "markdown": "### Stack `prod`: no drift", "json": `"drifted": false`,
	} {
		var out bytes.Buffer
		if err := r.Write(&out, format); err != nil || !strings.Contains(out.String(), want) {
			t.Errorf("%s: %q, %v", format, out.String(), err)
		}
	}
	if err := r.Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

// A finding without drift still calls for an operator (the command exits 3),
// so that the scheduled job opens its issue, and every format says what to do.
func TestFindingsWithoutDrift(t *testing.T) {
	report := New("prod", nil)
	if report.NeedsAttention() {
		t.Fatal("a clean report calls for an operator")
	}
	report.Findings = []string{"Elasticsearch's certificate expires 2027-01-01: renew it"}
	if !report.NeedsAttention() {
		t.Error("a report with findings does not call for an operator")
	}
	for _, format := range []string{"table", "json", "markdown"} {
		var out bytes.Buffer
		if err := report.Write(&out, format); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "renew it") {
			t.Errorf("%s does not show the finding:\n%s", format, out.String())
		}
	}
}

// FuzzMarkdownIsInert: whatever a live value holds (it is anyone's who can
// edit the cluster), the Markdown report has one table row per property,
// five cells each, and every value cell is code spans alone: nothing in it
// can open a link, an image, a mention, HTML, a new row or a new cell.
func FuzzMarkdownIsInert(f *testing.F) {
	for _, seed := range []string{
		"plain", "a | b", "`x` [link](https://evil.example) ![](https://evil.example/t.png) @acme/admins",
		"```\n| injected | row |", "line\nbreak\r\n", "``` `` `", "`", "<img src=x onerror=alert(1)>", "\u202eevil",
		"<!-- hidden -->", strings.Repeat("x", 500), "\\|", "a\\", "| `` | ```",
	} {
		f.Add(seed, seed)
	}
	f.Fuzz(func(t *testing.T, old, new string) {
		r := Report{Stack: "local", Drifted: true, Resources: []Resource{{
			URN: "urn:pulumi:local::platform::kubernetes:core/v1:ConfigMap::greeter-env", Type: "kubernetes:core/v1:ConfigMap", Name: "greeter-env",
			Change: "update", Properties: []Property{{Path: "data.GREETING", Old: old, New: new}, {Path: "data.OTHER", Old: map[string]any{"k": new}, New: nil}},
		}}}
		var out strings.Builder
		if err := r.Write(&out, "markdown"); err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| Change") {
				rows = append(rows, line)
			}
		}
		if len(rows) != 2 {
			t.Fatalf("%d table rows, want 2:\n%s", len(rows), out.String())
		}
		for _, row := range rows {
			cells := splitCells(row)
			if len(cells) != 5 {
				t.Fatalf("row with %d cells, want 5: %q", len(cells), row)
			}
			for _, c := range cells {
				if c != "" && c != "–" && !onlyCodeSpans(c) {
					t.Fatalf("cell %q is not code spans alone (row %q)", c, row)
				}
			}
		}
	})
}

// splitCells splits a table row at its unescaped pipes, as GitHub does.
func splitCells(row string) []string {
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row):
			cell.WriteByte(row[i])
			cell.WriteByte(row[i+1])
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(row[i])
		}
	}
	return cells[1:] // the text before the first pipe is none
}

// onlyCodeSpans says whether s is code spans separated by single spaces:
// each opened by a run of backticks and closed by the next run of the same
// length (CommonMark 6.1).
func onlyCodeSpans(s string) bool {
	for s != "" {
		n := len(s) - len(strings.TrimLeft(s, "`"))
		if n == 0 {
			return false
		}
		rest := s[n:]
		end := -1
		for i := 0; i < len(rest); {
			if rest[i] != '`' {
				i++
				continue
			}
			j := i
			for j < len(rest) && rest[j] == '`' {
				j++
			}
			if j-i == n {
				end = i
				break
			}
			i = j
		}
		if end < 0 {
			return false
		}
		s = strings.TrimPrefix(rest[end+n:], " ")
	}
	return true
}
