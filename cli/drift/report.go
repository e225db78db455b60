// Package drift turns what a refresh preview found into a drift report: each
// drifted resource with what changed (updated outside Pulumi, or gone) and the
// changed properties with their recorded and live values (secrets come masked,
// package changes).
// It renders the report as a terminal table, JSON, or Markdown for job
// summaries and issues.
package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/acme/platform/cli/changes"
)

// Report is the drift of one stack.
type Report struct {
	Stack     string     `json:"stack"`
	Drifted   bool       `json:"drifted"`
	Resources []Resource `json:"resources"`
	// Findings are what needs an operator soon though nothing drifted, such
	// as a certificate due for renewal.
	Findings []string `json:"findings,omitempty"`
}

// Resource is one drifted resource.
type Resource struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Change is "update" (changed outside Pulumi) or "delete" (gone).
	Change     string     `json:"change"`
	Properties []Property `json:"properties,omitempty"`
}

// Property is one changed property: its value in the state and as read back.
type Property struct {
	Path string `json:"path"`
	Old  any    `json:"old"`
	New  any    `json:"new"`
}

// New builds the report of a stack from the changes a refresh preview found.
func New(stack string, found changes.Changes) Report {
	r := Report{Stack: stack, Drifted: len(found) > 0, Resources: []Resource{}}
	for _, c := range found {
		res := Resource{URN: c.URN, Type: c.Type, Name: nameOf(c.URN), Change: string(c.Op)}
		for _, p := range c.Paths {
			prop := Property{Path: p}
			if v, ok := c.Values[p]; ok {
				prop.Old, prop.New = v.Old, v.New
			}
			res.Properties = append(res.Properties, prop)
		}
		r.Resources = append(r.Resources, res)
	}
	slices.SortFunc(r.Resources, func(a, b Resource) int { return strings.Compare(a.URN, b.URN) })
	return r
}

// nameOf is the resource name, the last part of its URN.
func nameOf(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

// NeedsAttention says whether the report calls for an operator: drift, or
// findings (the scheduled job then opens its issue).
func (r Report) NeedsAttention() bool {
	return r.Drifted || len(r.Findings) > 0
}

// Write renders the report in a format: table, json or markdown.
func (r Report) Write(w io.Writer, format string) error {
	switch format {
	case "table", "":
		return r.table(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown":
		return r.markdown(w)
	}
	return fmt.Errorf("unknown format %q: want table, json or markdown", format)
}

func (r Report) table(w io.Writer) error {
	for _, f := range r.Findings {
		fmt.Fprintf(w, "stack %s: %s\n", r.Stack, f)
	}
	if !r.Drifted {
		_, err := fmt.Fprintf(w, "stack %s: no drift\n", r.Stack)
		return err
	}
	fmt.Fprintf(w, "stack %s: %d resources drifted\n\n", r.Stack, len(r.Resources))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANGE\tTYPE\tNAME\tPROPERTY\tSTATE\tLIVE")
	for _, res := range r.Resources {
		if len(res.Properties) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t\t\n", res.Change, res.Type, res.Name)
		}
		for _, p := range res.Properties {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", res.Change, res.Type, res.Name, p.Path, show(p.Old), show(p.New))
		}
	}
	return tw.Flush()
}

func (r Report) markdown(w io.Writer) error {
	var b strings.Builder
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "### Stack `%s`: needs attention\n\n", r.Stack)
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	}
	if !r.Drifted {
		fmt.Fprintf(&b, "### Stack `%s`: no drift\n\nEvery resource matches the state.\n", r.Stack)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "### Stack `%s`: %d resources drifted\n\n", r.Stack, len(r.Resources))
	b.WriteString("| Change | Resource | Property | State | Live |\n|---|---|---|---|---|\n")
	for _, res := range r.Resources {
		resource := code(res.Type) + " " + code(res.Name)
		if len(res.Properties) == 0 {
			fmt.Fprintf(&b, "| %s | %s | | | |\n", code(res.Change), resource)
		}
		for _, p := range res.Properties {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(res.Change), resource, code(p.Path), cell(p.Old), cell(p.New))
		}
	}
	b.WriteString("\nRemediate with `platform up --refresh --stack " + r.Stack + "`, or adopt the change in the program.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// show renders a value compactly, JSON for structures; absent is "-".
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	}
	out, _ := json.Marshal(v)
	s := string(out)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// cell renders a value as a table cell that nothing in it can escape.
func cell(v any) string {
	if v == nil {
		return "–"
	}
	return code(show(v))
}

// maxCell is how many characters of a value a Markdown cell shows.
const maxCell = 120

// code renders s as one inline code span of a table cell, inert whatever s
// holds (the live state is anyone's who can edit the cluster): a code span's
// content is never a link, image, mention or HTML; it is fenced by a
// backtick run longer than any run in s (CommonMark 6.1), so no backtick in
// s closes it; line breaks and other control or direction-changing
// characters are shown escaped, so none starts a new row or hides text;
// "|" is escaped, as GitHub's tables require even in code (and a backslash
// right before it doubled, or it would escape the escape); and s is cut to
// maxCell characters.
func code(s string) string {
	var b strings.Builder
	n, backslashes := 0, 0
	for _, r := range s {
		if n == maxCell {
			b.WriteString(strings.Repeat("\\", backslashes) + "…")
			backslashes = 0
			break
		}
		n++
		if r == '\\' {
			backslashes++
			continue
		}
		if r == '|' {
			backslashes *= 2
		}
		b.WriteString(strings.Repeat("\\", backslashes))
		backslashes = 0
		switch {
		case r == '|':
			b.WriteString("\\|")
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029':
			b.WriteString(strconv.QuoteRune(r)[1 : len(strconv.QuoteRune(r))-1])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(strings.Repeat("\\", backslashes))
	content := b.String()
	longest, run := 0, 0
	for _, r := range content {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(content, "`") || strings.HasSuffix(content, "`") || content == "" {
		content = " " + content + " "
	}
	return fence + content + fence
}
