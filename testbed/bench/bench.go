// Package bench holds what `make bench` reports: figures measured several
// times (median, min, max), the targets they are held to, and the report as a
// table for people and JSON for comparing runs. Figures are printed, never
// asserted: a slow machine must not fail a build.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Figure is one measured quantity over several runs.
type Figure struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"` // "s", "MB", "MiB", "ns/op", "allocs/op", "resources"
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	// Note says what exactly was measured.
	Note string `json:"note,omitempty"`
}

// NewFigure summarises the values of the runs.
func NewFigure(name, unit, note string, values ...float64) Figure {
	f := Figure{Name: name, Unit: unit, Values: values, Note: note}
	if len(values) == 0 {
		return f
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	f.Min, f.Max = sorted[0], sorted[len(sorted)-1]
	if n := len(sorted); n%2 == 1 {
		f.Median = sorted[n/2]
	} else {
		f.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return f
}

// Target holds a figure (or the ratio of two) to a limit.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"` // "x" for ratios
	Met   bool    `json:"met"`
}

// NewTarget compares value with limit (met when value <= limit).
func NewTarget(name string, value, limit float64, unit string) Target {
	return Target{Name: name, Value: value, Limit: limit, Unit: unit, Met: value <= limit}
}

// Report is one run of the benchmarks.
type Report struct {
	When    time.Time `json:"when"`
	Machine string    `json:"machine"`
	Figures []Figure  `json:"figures"`
	Targets []Target  `json:"targets"`
}

// Figure returns the figure of that name, if measured.
func (r *Report) Figure(name string) (Figure, bool) {
	i := slices.IndexFunc(r.Figures, func(f Figure) bool { return f.Name == name })
	if i < 0 {
		return Figure{}, false
	}
	return r.Figures[i], true
}

// Add records a figure.
func (r *Report) Add(f Figure) { r.Figures = append(r.Figures, f) }

// Ratio adds a target on the ratio of two medians, if both were measured.
func (r *Report) Ratio(name, numerator, denominator string, limit float64) {
	a, okA := r.Figure(numerator)
	b, okB := r.Figure(denominator)
	if okA && okB && b.Median > 0 {
		r.Targets = append(r.Targets, NewTarget(name, a.Median/b.Median, limit, "x"))
	}
}

// Limit adds a target on a figure's median, if it was measured.
func (r *Report) Limit(name, figure string, limit float64) {
	if f, ok := r.Figure(figure); ok {
		r.Targets = append(r.Targets, NewTarget(name, f.Median, limit, f.Unit))
	}
}

// WriteTable prints the figures and the targets for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "machine: %s\t\n\n", r.Machine)
	fmt.Fprintln(tw, "figure\tmedian\tmin\tmax\truns\t")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", f.Name, show(f.Median, f.Unit), show(f.Min, f.Unit), show(f.Max, f.Unit), len(f.Values))
	}
	fmt.Fprintln(tw, "\ntarget\tvalue\tlimit\tmet\t")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", t.Name, show(t.Value, t.Unit), show(t.Limit, t.Unit), met)
	}
	return tw.Flush()
}

// WriteJSON writes the report for comparing runs.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func show(v float64, unit string) string {
	switch {
	case unit == "x":
		return fmt.Sprintf("%.2fx", v)
	case unit == "resources" || v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}
