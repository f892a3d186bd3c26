package predict

import (
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want *Config
		err  string
	}{
		{"off", map[string]string{"other": "x"}, nil, ""},
		{"holt-winters defaults", map[string]string{AnnotationModel: "holt-winters"},
			&Config{Model: "holt-winters", Season: 24 * time.Hour, Step: time.Minute, History: 72 * time.Hour, MaxError: 0.3}, ""},
		{"linear defaults", map[string]string{AnnotationModel: "linear"},
			&Config{Model: "linear", Season: 24 * time.Hour, Step: 15 * time.Second, History: time.Minute, MaxError: 0.3}, ""},
		{"all set", map[string]string{AnnotationModel: "holt-winters", AnnotationSeason: "1h", AnnotationStep: "15s", AnnotationHistory: "3h", AnnotationHorizon: "45s", AnnotationMaxError: "0.5"},
			&Config{Model: "holt-winters", Season: time.Hour, Step: 15 * time.Second, History: 3 * time.Hour, Horizon: 45 * time.Second, MaxError: 0.5}, ""},
		{"unknown model", map[string]string{AnnotationModel: "arima"}, nil, "annotation berth.io/predictive-model"},
		{"tuning without model", map[string]string{AnnotationHorizon: "1m"}, nil, "needs berth.io/predictive-model"},
		{"bad duration", map[string]string{AnnotationModel: "linear", AnnotationStep: "soon"}, nil, "not a duration"},
		{"step too small", map[string]string{AnnotationModel: "linear", AnnotationStep: "100ms"}, nil, "less than 1s"},
		{"linear history of one step", map[string]string{AnnotationModel: "linear", AnnotationHistory: "15s"}, nil, "needs at least 2"},
		{"season not a multiple", map[string]string{AnnotationModel: "holt-winters", AnnotationSeason: "90s"}, nil, "not a multiple of the step"},
		{"too little history", map[string]string{AnnotationModel: "holt-winters", AnnotationHistory: "36h"}, nil, "needs at least 2880"},
		{"too much history", map[string]string{AnnotationModel: "linear", AnnotationStep: "1s", AnnotationHistory: "24h"}, nil, "at most 20000"},
		{"max error", map[string]string{AnnotationModel: "linear", AnnotationMaxError: "0"}, nil, "not a number in (0, 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAnnotations(tc.ann)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSeriesSteps(t *testing.T) {
	var s Series
	step := time.Minute
	// Two samples in the first minute, none in the second, one in the third.
	s.Observe(2, t0.Add(10*time.Second), step, 100)
	s.Observe(4, t0.Add(50*time.Second), step, 100)
	if len(s.Values) != 0 {
		t.Fatalf("a step completed early: %v", s.Values)
	}
	if n := s.Observe(9, t0.Add(150*time.Second), step, 100); n != 2 {
		t.Fatalf("completed %d steps, want 2", n)
	}
	// The empty step repeats the previous one so the series stays even.
	if want := []float64{3, 3}; !equal(s.Values, want) {
		t.Fatalf("values %v, want %v", s.Values, want)
	}
	if v, ok := s.Current(); !ok || v != 9 {
		t.Fatalf("current %v %v, want 9", v, ok)
	}
	// Bad samples are ignored.
	s.Observe(math.NaN(), t0.Add(151*time.Second), step, 100)
	s.Observe(-1, t0.Add(152*time.Second), step, 100)
	if s.N != 1 {
		t.Fatalf("bad samples were counted: n=%d", s.N)
	}
	// Trimming keeps the newest values and moves Start.
	for i := 3; i < 10; i++ {
		s.Observe(float64(i), t0.Add(time.Duration(i)*step), step, 4)
	}
	if len(s.Values) != 4 || !s.Start.Equal(t0.Add(5*step)) || s.Values[3] != 8 {
		t.Fatalf("after trimming: start %v values %v", s.Start, s.Values)
	}
}

func TestForecastScoredAndDistrusted(t *testing.T) {
	p, err := New(Config{Model: "linear", Step: time.Minute, History: time.Hour, MaxError: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	// A line: the forecast of the next steps is exact and trusted.
	now := t0
	for i := 0; i < 20; i++ {
		now = t0.Add(time.Duration(i) * time.Minute)
		p.Observe("m", float64(10+i), now)
		p.Forecast("m", now, 30*time.Second, 90*time.Second)
	}
	r := p.Forecast("m", now.Add(10*time.Second), 30*time.Second, 45*time.Second)
	if !r.OK || math.Abs(r.Demand-29) > 1e-9 || r.Error < 0 || r.Error > 1e-9 {
		t.Fatalf("line: %+v, want demand 29 (the step after the current one), error 0", r)
	}
	// An alternating series makes a line forecast wrong: it is distrusted.
	for i := 20; i < 60; i++ {
		now = t0.Add(time.Duration(i) * time.Minute)
		p.Observe("m", float64(10+90*(i%2)), now)
		p.Forecast("m", now, 30*time.Second, 90*time.Second)
	}
	r = p.Forecast("m", now, 30*time.Second, 90*time.Second)
	if r.OK || r.Error <= 0.3 || !strings.Contains(r.Reason, "recent forecast error") {
		t.Fatalf("alternating: %+v, want distrusted", r)
	}
	// Too little history says so.
	if r := p.Forecast("other", now, 0, time.Minute); r.OK || !strings.Contains(r.Reason, "0 of the 2 samples") {
		t.Fatalf("no history: %+v", r)
	}
}

func TestPeriodicForecastWithin5Percent(t *testing.T) {
	cfg, err := ParseAnnotations(map[string]string{AnnotationModel: "holt-winters", AnnotationSeason: "1h", AnnotationStep: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(*cfg)
	f := func(min int) float64 { return 500 + 400*math.Sin(2*math.Pi*float64(min%60)/60) }
	var now time.Time
	for i := 0; i <= 150; i++ {
		now = t0.Add(time.Duration(i) * time.Minute)
		p.Observe("m", f(i), now)
	}
	for h := 1; h <= 60; h++ {
		r := p.Forecast("m", now, time.Duration(h)*time.Minute, time.Duration(h)*time.Minute)
		if want := f(150 + h); !r.OK || math.Abs(r.Demand-want) > 0.05*want {
			t.Fatalf("h=%d: %+v, want %.1f within 5%%", h, r, want)
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	cfg := Config{Model: "linear", Step: time.Minute, History: time.Hour, MaxError: 0.3}
	p, _ := New(cfg)
	for i := 0; i < 10; i++ {
		p.Observe("a", float64(i), t0.Add(time.Duration(i)*time.Minute))
	}
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	q, _ := New(cfg)
	if err := q.Restore(data); err != nil {
		t.Fatal(err)
	}
	if q.Samples("a") != 9 {
		t.Fatalf("restored %d samples, want 9", q.Samples("a"))
	}
	// Another step: the samples would mean something else, so none is kept.
	cfg.Step = 30 * time.Second
	r, _ := New(cfg)
	if err := r.Restore(data); err != nil || r.Samples("a") != 0 {
		t.Fatalf("restore across steps: %v, %d samples", err, r.Samples("a"))
	}
	if err := r.Restore([]byte("{")); err == nil {
		t.Fatal("a broken history was accepted")
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
