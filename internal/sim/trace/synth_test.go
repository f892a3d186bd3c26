package trace

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated traces in testdata")

// generated are the traces shipped in testdata, and how they are made.
var generated = []struct {
	file string
	gen  func() *Trace
}{
	{"diurnal.csv", func() *Trace { return Diurnal(3, time.Minute, 100, 1000, 0.03, 1) }},
	{"diurnal-spikes.csv", func() *Trace {
		return DiurnalSpikes(3, time.Minute, 100, 1000, 8, 3, 20*time.Minute, 0.03, 2)
	}},
	{"trend.csv", func() *Trace { return Trend(3, time.Minute, 100, 800, 0.03, 3) }},
}

// TestGenerateTestdata checks that the generated traces in testdata are
// what the generators produce; with -update it rewrites them.
func TestGenerateTestdata(t *testing.T) {
	for _, g := range generated {
		tr := g.gen()
		var buf bytes.Buffer
		if err := WriteCSV(&buf, tr); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		shipped, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(shipped, buf.Bytes()) {
			t.Errorf("%s is not what its generator produces; rerun go test -run TestGenerateTestdata -update", path)
			continue
		}
		loaded, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Name != tr.Name || !slices.Equal(loaded.Points, tr.Points) {
			t.Errorf("Load(%s) differs from the generated trace %q", path, tr.Name)
		}
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	gens := map[string]func(seed int64) *Trace{
		"diurnal": func(seed int64) *Trace { return Diurnal(2, 5*time.Minute, 10, 100, 0.05, seed) },
		"diurnal-spikes": func(seed int64) *Trace {
			return DiurnalSpikes(2, 5*time.Minute, 10, 100, 5, 3, 20*time.Minute, 0.05, seed)
		},
		"trend": func(seed int64) *Trace { return Trend(2, 5*time.Minute, 10, 100, 0.05, seed) },
	}
	for name, gen := range gens {
		a, b, c := gen(1), gen(1), gen(2)
		if a.Name != name {
			t.Errorf("Name = %q, want %q", a.Name, name)
		}
		if len(a.Points) != 2*24*12 {
			t.Errorf("%s: %d points, want %d", name, len(a.Points), 2*24*12)
		}
		if !slices.Equal(a.Points, b.Points) {
			t.Errorf("%s: the same seed gave different traces", name)
		}
		if slices.Equal(a.Points, c.Points) {
			t.Errorf("%s: different seeds gave the same trace", name)
		}
		for i, p := range a.Points {
			if p.At != float64(i)*300 || p.RPS < 0 || p.RPS != math.Round(p.RPS*100)/100 {
				t.Fatalf("%s: point %d is %+v", name, i, p)
			}
		}
	}
}

func TestSyntheticEmpty(t *testing.T) {
	for _, tr := range []*Trace{
		Diurnal(0, time.Minute, 1, 2, 0, 1),
		Diurnal(1, 0, 1, 2, 0, 1),
		DiurnalSpikes(-1, time.Minute, 1, 2, 3, 2, time.Minute, 0, 1),
		Trend(1, -time.Second, 1, 2, 0, 1),
	} {
		if len(tr.Points) != 0 {
			t.Errorf("%s: %d points, want none", tr.Name, len(tr.Points))
		}
	}
}

func TestDiurnalShape(t *testing.T) {
	tr := Diurnal(2, time.Minute, 100, 1000, 0, 1)
	lo, hi := 0, 0
	for i, p := range tr.Points[:1440] {
		if p.RPS < tr.Points[lo].RPS {
			lo = i
		}
		if p.RPS > tr.Points[hi].RPS {
			hi = i
		}
		if p.RPS != tr.Points[i+1440].RPS {
			t.Fatalf("without noise, days differ at minute %d", i)
		}
	}
	if got := tr.Points[lo]; got.RPS != 100 || got.At < 2*3600 || got.At > 5*3600 {
		t.Errorf("daily minimum %v rps at %v h, want 100 rps between 2 and 5 h", got.RPS, got.At/3600)
	}
	if got := tr.Points[hi]; got.RPS != 1000 || got.At < 19*3600 || got.At > 22*3600 {
		t.Errorf("daily maximum %v rps at %v h, want 1000 rps between 19 and 22 h", got.RPS, got.At/3600)
	}
	// A morning hump: demand rises to noon, then dips before the evening.
	noon, four := tr.At(12*3600), tr.At(16.5*3600)
	if !(noon > 700 && four < noon && four > 500) {
		t.Errorf("demand at noon %v and 16:30 %v: want a morning hump above 700 and an afternoon dip", noon, four)
	}

	// Noise is multiplicative, mild and centred.
	noisy := Diurnal(2, time.Minute, 100, 1000, 0.03, 7)
	var sum float64
	for i, p := range noisy.Points {
		r := p.RPS / tr.Points[i].RPS
		if r < 0.85 || r > 1.15 {
			t.Errorf("noise ratio %v at point %d, want within 5 standard deviations", r, i)
		}
		sum += r
	}
	if mean := sum / float64(len(noisy.Points)); math.Abs(mean-1) > 0.005 {
		t.Errorf("mean noise ratio %v, want 1", mean)
	}
}

func TestDiurnalSpikesShape(t *testing.T) {
	const (
		days   = 3
		spikes = 8
		factor = 3.0
		step   = 10 * time.Second
	)
	spikeLen := 20 * time.Minute
	plain := Diurnal(days, step, 100, 1000, 0, 1)
	spiky := DiurnalSpikes(days, step, 100, 1000, spikes, factor, spikeLen, 0, 1)
	var (
		episodes   int
		start      = -1
		peak, prev = 1.0, 1.0
	)
	// Both traces are rounded to 0.01 rps: allow for it in the ratios.
	const tol = 0.001
	for i, p := range spiky.Points {
		r := p.RPS / plain.Points[i].RPS
		if r < 1-tol || r > factor+tol {
			t.Fatalf("point %d: spike multiplier %v, want within [1, %v]", i, r, factor)
		}
		// Ramping in over at least a minute: by at most (factor-1)/6
		// every 10 s.
		if r-prev > (factor-1)/6+tol {
			t.Errorf("point %d: demand multiplier jumps from %v to %v in 10 s", i, prev, r)
		}
		elevated := r > 1+tol
		switch {
		case elevated && start < 0:
			start, peak = i, r
			episodes++
		case elevated:
			peak = max(peak, r)
		case start >= 0:
			length := time.Duration(i-start) * step
			if length < spikeLen/4-step || length > 3*spikeLen {
				t.Errorf("spike at point %d lasts %v, want %v to %v", start, length, spikeLen/4, spikeLen)
			}
			// The peak can fall between two points: 10 s of ramp lower.
			if peak < (1+factor)/2-(factor-1)/6 {
				t.Errorf("spike at point %d peaks at ×%v, want ×%v to ×%v", start, peak, (1+factor)/2, factor)
			}
			start = -1
		}
		prev = r
	}
	// Overlapping spikes merge into one episode, so allow a few fewer.
	if episodes > days*spikes || episodes < days*spikes*3/4 {
		t.Errorf("%d spikes, want about %d", episodes, days*spikes)
	}
}

func TestTrendShape(t *testing.T) {
	const days = 4
	tr := Trend(days, time.Minute, 100, 800, 0, 1)
	perDay := 1440
	for d := range days {
		var sum float64
		for _, p := range tr.Points[d*perDay : (d+1)*perDay] {
			sum += p.RPS
		}
		// The ripple nearly averages out over a day: the day's mean is
		// close to the line's value at midday (a little above it, as the
		// ripple peaks in the afternoon, when the line is higher).
		want := 100 + 700*(float64(d)+0.5)/days
		if got := sum / float64(perDay); got < want || got > 1.02*want {
			t.Errorf("day %d: mean %v rps, want %v", d, got, want)
		}
	}
	first, last := tr.Points[0].RPS, tr.Points[len(tr.Points)-1].RPS
	ripple := 1 + 0.1*math.Cos(2*math.Pi*(0-15)/24)
	if math.Abs(first-100*ripple) > 0.01 {
		t.Errorf("first point %v rps, want %v", first, 100*ripple)
	}
	rippleLast := 1 + 0.1*math.Cos(2*math.Pi*(24-1.0/60-15)/24)
	if math.Abs(last-800*rippleLast) > 0.01 {
		t.Errorf("last point %v rps, want %v", last, 800*rippleLast)
	}
	// Highest at 15:00 and lowest at 03:00 relative to the line.
	if a, b := tr.At(15*3600), tr.At(3*3600); a < 1.15*b {
		t.Errorf("ripple: %v rps at 15:00, %v at 03:00: want the afternoon ~20 %% higher", a, b)
	}
}
