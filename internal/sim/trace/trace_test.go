package trace

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestStep(t *testing.T) {
	tests := []struct {
		name string
		at   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one point", []float64{5}, 0},
		{"two points", []float64{0, 60}, 60},
		{"regular", []float64{0, 60, 120, 180}, 60},
		{"one gap", []float64{0, 60, 120, 3600, 3660}, 60},
		{"even count of gaps", []float64{0, 10, 30, 60, 100}, 25},
		{"uneven", []float64{0, 1, 3, 100}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &Trace{}
			for _, at := range tt.at {
				tr.Points = append(tr.Points, Point{At: at, RPS: 1})
			}
			if got := tr.Step(); got != tt.want {
				t.Errorf("Step() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAt(t *testing.T) {
	tr := &Trace{Points: pts(10, 1, 20, 2, 40, 4)}
	tests := []struct{ s, want float64 }{
		{-1e9, 0}, {0, 0}, {9.999, 0},
		{10, 1}, {15, 1}, {19.999, 1},
		{20, 2}, {39, 2},
		{40, 4}, {41, 4}, {1e12, 4},
		{math.Inf(1), 4}, {math.Inf(-1), 0},
	}
	for _, tt := range tests {
		if got := tr.At(tt.s); got != tt.want {
			t.Errorf("At(%v) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if got := (&Trace{}).At(3); got != 0 {
		t.Errorf("empty trace: At(3) = %v, want 0", got)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name string
		tr   *Trace
		want float64
	}{
		{"empty", &Trace{}, 0},
		{"one point", &Trace{Points: pts(7, 1)}, 0},
		{"from zero", &Trace{Points: pts(0, 1, 60, 1, 120, 1)}, 180},
		{"offset start", &Trace{Points: pts(100, 1, 160, 1, 220, 1)}, 180},
		{"with a gap", &Trace{Points: pts(0, 1, 60, 1, 120, 1, 600, 1)}, 660},
	}
	for _, tt := range tests {
		if got := tt.tr.Duration(); got != tt.want {
			t.Errorf("%s: Duration() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestScale(t *testing.T) {
	tr := &Trace{Name: "x", Points: pts(0, 1, 60, 2.5, 120, 0)}
	orig := slices.Clone(tr.Points)
	tests := []struct {
		f    float64
		want []Point
	}{
		{2, pts(0, 2, 60, 5, 120, 0)},
		{0.5, pts(0, 0.5, 60, 1.25, 120, 0)},
		{0, pts(0, 0, 60, 0, 120, 0)},
		{1, orig},
	}
	for _, tt := range tests {
		got := tr.Scale(tt.f)
		if got.Name != "x" || !slices.Equal(got.Points, tt.want) {
			t.Errorf("Scale(%v) = %q %v, want %q %v", tt.f, got.Name, got.Points, "x", tt.want)
		}
		got.Points[0].RPS = 99 // must not write through to tr
	}
	if !slices.Equal(tr.Points, orig) {
		t.Errorf("Scale modified its receiver: %v, was %v", tr.Points, orig)
	}
}

func TestWriteCSV(t *testing.T) {
	tr := &Trace{Name: "x", Points: pts(0, 1, 60, 0.1, 120.25, 1e6/3, 180, 0)}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, tr); err != nil {
		t.Fatal(err)
	}
	want := "time,rps\n0,1\n60,0.1\n120.25,333333.3333333333\n180,0\n"
	if buf.String() != want {
		t.Errorf("WriteCSV wrote\n%s\nwant\n%s", buf.String(), want)
	}
	// What WriteCSV writes, Load reads back exactly.
	path := writeFile(t, "x.csv", buf.String())
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != tr.Name || !slices.Equal(got.Points, tr.Points) {
		t.Errorf("round trip: got %q %v, want %q %v", got.Name, got.Points, tr.Name, tr.Points)
	}
}

func TestWriteCSVErrors(t *testing.T) {
	tests := []struct {
		name   string
		points []Point
		want   string
	}{
		{"negative rps", pts(0, 1, 60, -1), "trace x: point 1: rps -1 is negative"},
		{"NaN rps", pts(0, math.NaN()), "trace x: point 0: rps NaN is not a finite number"},
		{"infinite time", pts(math.Inf(1), 1), "trace x: point 0: time +Inf is not a finite number"},
		{"repeated time", pts(0, 1, 0, 1), "trace x: point 1: time 0 is not after the previous point's 0"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := WriteCSV(&buf, &Trace{Name: "x", Points: tt.points})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: WriteCSV error = %v, want %q", tt.name, err, tt.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: WriteCSV wrote %q despite the error", tt.name, buf.String())
		}
	}
}

func TestInterpolate(t *testing.T) {
	tr := &Trace{Points: []Point{{0, 100}, {60, 200}, {120, 100}}}
	for _, tc := range []struct{ at, want float64 }{
		{0, 100}, {30, 100}, {60, 150}, {90, 200}, {120, 150}, {150, 100}, {400, 100},
	} {
		if got := tr.Interpolate(tc.at); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Interpolate(%g) = %g, want %g", tc.at, got, tc.want)
		}
	}
	if (&Trace{}).Interpolate(5) != 0 {
		t.Error("an empty trace has demand")
	}
}
