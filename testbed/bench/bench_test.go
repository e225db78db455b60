package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewFigure(t *testing.T) {
	for _, tt := range []struct {
		values           []float64
		median, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		f := NewFigure("x", "s", "", tt.values...)
		if f.Median != tt.median || f.Min != tt.min || f.Max != tt.max {
			t.Errorf("%v: median %v min %v max %v", tt.values, f.Median, f.Min, f.Max)
		}
	}
	if f := NewFigure("x", "s", "", 3, 1, 2); f.Values[0] != 3 {
		t.Error("the runs' values were reordered")
	}
}

func TestTargetsAndReport(t *testing.T) {
	r := &Report{Machine: "test"}
	r.Add(NewFigure("preview", "s", "", 2, 2, 2))
	r.Add(NewFigure("floor", "s", "", 1, 1, 1))
	r.Add(NewFigure("rebuild", "s", "", 5, 6, 4))
	r.Ratio("preview <= 4x floor", "preview", "floor", 4)
	r.Ratio("missing", "preview", "nothing", 1)
	r.Limit("rebuild <= 3 s", "rebuild", 3)
	if len(r.Targets) != 2 {
		t.Fatalf("targets %+v: a ratio of an unmeasured figure must be left out", r.Targets)
	}
	if !r.Targets[0].Met || r.Targets[0].Value != 2 {
		t.Errorf("ratio target %+v", r.Targets[0])
	}
	if r.Targets[1].Met || r.Targets[1].Value != 5 {
		t.Errorf("limit target %+v", r.Targets[1])
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"preview", "2.00 s", "2.00x", "rebuild <= 3 s", "NO"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back.Figures) != 3 || back.Targets[1].Met {
		t.Errorf("JSON does not round-trip: %v %+v", err, back)
	}
}
