package forecast

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"testing/quick"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		season  int
		want    Model
		wantErr string
	}{
		{"holt-winters", 288, HoltWinters{Season: 288}, ""},
		{"holt-winters", 0, HoltWinters{}, ""},
		{"linear", 288, Linear{}, ""},
		{"holt-winters", -1, nil, `forecast: holt-winters: season -1 is negative`},
		{"arima", 24, nil, `forecast: unknown model "arima" (accepted: "holt-winters", "linear")`},
		{"", 24, nil, `forecast: unknown model "" (accepted: "holt-winters", "linear")`},
		{"Linear", 24, nil, `unknown model "Linear"`},
	}
	for _, tt := range tests {
		got, err := New(tt.name, tt.season)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q, %d) error = %v, want %q", tt.name, tt.season, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("New(%q, %d) = %#v, %v; want %#v", tt.name, tt.season, got, err, tt.want)
			continue
		}
		if got.Name() != tt.name {
			t.Errorf("New(%q, %d).Name() = %q", tt.name, tt.season, got.Name())
		}
	}
}

// otherModel is a Model this package does not know.
type otherModel struct{}

func (otherModel) Name() string                            { return "other" }
func (otherModel) Forecast([]float64, int) (float64, bool) { return 0, true }

func TestMinHistory(t *testing.T) {
	tests := []struct {
		m    Model
		want int
	}{
		{HoltWinters{Season: 288}, 576},
		{&HoltWinters{Season: 24}, 48},
		{HoltWinters{Season: 2}, 4},
		{HoltWinters{Season: 1}, 2},
		{HoltWinters{}, 2},
		{HoltWinters{Season: -5}, 2},
		{Linear{}, 2},
		{&Linear{Window: 10}, 2},
		{(*HoltWinters)(nil), 1},
		{otherModel{}, 1},
		{nil, 1},
	}
	for _, tt := range tests {
		if got := MinHistory(tt.m); got != tt.want {
			t.Errorf("MinHistory(%#v) = %d, want %d", tt.m, got, tt.want)
		}
	}
}

// shapes are periodic functions of the phase p in [0, 1), ranging over
// [-1, 1].
var shapes = map[string]func(p float64) float64{
	"sine": func(p float64) float64 { return math.Sin(2 * math.Pi * p) },
	"square": func(p float64) float64 {
		if p < 0.5 {
			return 1
		}
		return -1
	},
	"sawtooth": func(p float64) float64 { return 2*p - 1 },
	// A narrow daily peak on a flat night, as in web traffic.
	"peaky": func(p float64) float64 { return 2*math.Exp(-50*(p-0.7)*(p-0.7)) - 1 },
}

var seasons = []int{4, 5, 7, 12, 24, 60, 144, 288}

// periodic returns n samples of shape with the given season, offset and
// amplitude, starting at phase start (in samples).
func periodic(shape func(float64) float64, season, n, start int, offset, amplitude float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = offset + amplitude*shape(float64((start+i)%season)/float64(season))
	}
	return xs
}

// relErr is the error of f relative to want, or to floor if want is smaller
// (so that actuals at or near zero do not make any error look huge).
func relErr(f, want, floor float64) float64 {
	return math.Abs(f-want) / max(math.Abs(want), floor)
}

// worst tracks the largest error seen by a test, to report it.
type worst struct {
	err  float64
	what string
}

func (w *worst) see(err float64, format string, args ...any) {
	if err > w.err || w.what == "" {
		w.err, w.what = err, fmt.Sprintf(format, args...)
	}
}

// histories are history lengths, in seasons, to test forecasts after.
var histories = []float64{2, 2.5, 3, 5.25}

// params are smoothing parameters to test models with: the defaults, the
// extremes and something in between.
var params = []HoltWinters{
	{},
	{Alpha: 1, Beta: 1, Gamma: 1},
	{Alpha: 0.01, Beta: 0.01, Gamma: 0.01},
	{Alpha: 0.2, Beta: 0.5, Gamma: 0.9},
}

func TestHoltWintersPeriodic(t *testing.T) {
	var w worst
	for name, shape := range shapes {
		for _, season := range seasons {
			for _, seasonsOfHistory := range histories {
				for _, p := range params {
					m := p
					m.Season = season
					n := int(seasonsOfHistory * float64(season))
					start := season / 3 // the history need not start at phase 0
					series := periodic(shape, season, n, start, 100, 50)
					for h := 1; h <= season; h++ {
						want := periodic(shape, season, 1, start+n-1+h, 100, 50)[0]
						got, ok := m.Forecast(series, h)
						err := relErr(got, want, 0)
						w.see(err, "%s, %v seasons of history, %+v, h=%d", name, seasonsOfHistory, m, h)
						if !ok || err > 0.05 {
							t.Fatalf("%s, season %d, %d samples, %+v: Forecast(h=%d) = %v, %v; want %v (error %.3g)", name, season, n, p, h, got, ok, want, err)
						}
					}
				}
			}
		}
	}
	t.Logf("largest relative error: %.3g (%s)", w.err, w.what)
}

// The same for a periodic series around zero: the error is measured
// against the amplitude where the actual value is smaller.
func TestHoltWintersPeriodicAroundZero(t *testing.T) {
	var w worst
	for name, shape := range shapes {
		for _, season := range seasons {
			m := HoltWinters{Season: season}
			n := 3 * season
			series := periodic(shape, season, n, 0, 0, 1)
			for h := 1; h <= season; h++ {
				want := periodic(shape, season, 1, n-1+h, 0, 1)[0]
				got, ok := m.Forecast(series, h)
				err := relErr(got, want, 1)
				w.see(err, "%s season %d h=%d", name, season, h)
				if !ok || err > 0.05 {
					t.Fatalf("%s, season %d: Forecast(h=%d) = %v, %v; want %v", name, season, h, got, ok, want)
				}
			}
		}
	}
	t.Logf("largest error relative to the amplitude: %.3g (%s)", w.err, w.what)
}

func TestHoltWintersPeriodicWithTrend(t *testing.T) {
	var w worst
	for name, shape := range shapes {
		for _, season := range seasons {
			for _, p := range params {
				m := p
				m.Season = season
				n := 3*season + 1
				line := func(i int) float64 { return 100 + 0.5*float64(i)/float64(season) }
				series := periodic(shape, season, n, 0, 0, 20)
				for i := range series {
					series[i] += line(i)
				}
				for h := 1; h <= season; h++ {
					want := periodic(shape, season, 1, n-1+h, 0, 20)[0] + line(n-1+h)
					got, ok := m.Forecast(series, h)
					err := relErr(got, want, 0)
					w.see(err, "%s, %+v, h=%d", name, m, h)
					if !ok || err > 0.05 {
						t.Fatalf("%s, season %d, %+v: Forecast(h=%d) = %v, %v; want %v", name, season, p, h, got, ok, want)
					}
				}
			}
		}
	}
	t.Logf("largest relative error: %.3g (%s)", w.err, w.what)
}

// TestHoltWintersNoisy measures how Holt-Winters with its defaults does on
// a noisy daily cycle: not a property of the model, but a guard against a
// change of defaults or algorithm making it markedly worse.
func TestHoltWintersNoisy(t *testing.T) {
	const (
		season = 288 // a day of 5-minute samples
		noise  = 0.05
	)
	rng := rand.New(rand.NewSource(1))
	n := 7 * season
	series := periodic(shapes["sine"], season, n, 0, 500, 400)
	for i := range series {
		series[i] *= 1 + noise*rng.NormFloat64()
	}
	clean := periodic(shapes["sine"], season, n+season, 0, 500, 400)
	for _, h := range []int{1, 6, 12, season} {
		var fs, as []float64
		for end := 3 * season; end+h <= n; end += 7 {
			f, ok := HoltWinters{Season: season}.Forecast(series[:end], h)
			if !ok {
				t.Fatalf("Forecast(%d samples, h=%d) not ok", end, h)
			}
			fs, as = append(fs, f), append(as, clean[end-1+h])
		}
		got := SMAPE(fs, as)
		t.Logf("h=%d: SMAPE %.4f against the noiseless cycle (noise %.0f %%)", h, got, 100*noise)
		if got > noise {
			t.Errorf("h=%d: SMAPE %.4f against the noiseless cycle, want below the noise, %v", h, got, noise)
		}
	}
}

// lines are straight series: intercept, slope per sample.
var lines = []struct{ a, b float64 }{
	{100, 1}, {100, -0.5}, {0, 3}, {1e6, 1e3}, {5, 1e-6}, {1e-3, 1e-5}, {-50, -2},
}

func TestLinearExact(t *testing.T) {
	var w worst
	for _, l := range lines {
		for _, n := range []int{2, 3, 10, 100, 2016, 10000} {
			for _, window := range []int{0, 1, 2, 7, 50, 20000} {
				series := make([]float64, n)
				for i := range series {
					series[i] = l.a + l.b*float64(i)
				}
				for _, h := range []int{1, 2, 10, 288, 10000} {
					want := l.a + l.b*float64(n-1+h)
					got, ok := Linear{Window: window}.Forecast(series, h)
					// Relative to the series' own scale, so that a
					// forecast that crosses zero is judged fairly.
					err := relErr(got, want, math.Abs(l.a)+math.Abs(l.b))
					w.see(err, "%+v n=%d window=%d h=%d", l, n, window, h)
					if !ok || err > 1e-9 {
						t.Fatalf("line %+v, %d samples, window %d: Forecast(h=%d) = %v, %v; want %v (error %.3g)", l, n, window, h, got, ok, want, err)
					}
				}
			}
		}
	}
	t.Logf("largest relative error: %.3g (%s)", w.err, w.what)
}

func TestHoltWintersLinear(t *testing.T) {
	var w worst
	for _, l := range lines {
		for _, season := range append([]int{0, 1, 2, 3}, seasons...) {
			for _, p := range params {
				m := p
				m.Season = season
				for _, n := range []int{MinHistory(m), MinHistory(m) + 1, 3*MinHistory(m) + 5} {
					series := make([]float64, n)
					for i := range series {
						series[i] = l.a + l.b*float64(i)
					}
					for _, h := range []int{1, 2, max(season, 3), 2 * max(season, 3)} {
						want := l.a + l.b*float64(n-1+h)
						got, ok := m.Forecast(series, h)
						err := relErr(got, want, math.Abs(l.a)+math.Abs(l.b))
						w.see(err, "line %+v, %+v, n=%d, h=%d", l, m, n, h)
						if !ok || err > 0.05 {
							t.Fatalf("line %+v, %+v, %d samples: Forecast(h=%d) = %v, %v; want %v (error %.3g)", l, m, n, h, got, ok, want, err)
						}
					}
				}
			}
		}
	}
	t.Logf("largest relative error: %.3g (%s)", w.err, w.what)
}

func TestConstant(t *testing.T) {
	var models []Model
	for _, season := range []int{0, 1, 4, 24, 288} {
		for _, p := range params {
			p.Season = season
			models = append(models, p)
		}
	}
	models = append(models, Linear{}, Linear{Window: 3})
	for _, m := range models {
		for _, c := range []float64{0, 1, 123.456, -7, 1e300, 5e-324} {
			n := MinHistory(m) + 3
			series := slices.Repeat([]float64{c}, n)
			for _, h := range []int{1, 5, 1000} {
				got, ok := m.Forecast(series, h)
				if !ok || relErr(got, c, 0) > 1e-12 || (c == 0 && got != 0) {
					t.Errorf("%+v: Forecast(%d × %v, h=%d) = %v, %v; want %v", m, n, c, h, got, ok, c)
				}
			}
		}
	}
}

func TestNotOK(t *testing.T) {
	series := periodic(shapes["sine"], 24, 100, 0, 10, 1)
	tests := []struct {
		name   string
		m      Model
		series []float64
		h      int
	}{
		{"holt-winters, no history", HoltWinters{Season: 24}, nil, 1},
		{"holt-winters, two seasons but one", HoltWinters{Season: 24}, series[:47], 1},
		{"holt-winters, one season", HoltWinters{Season: 24}, series[:24], 1},
		{"holt, one sample", HoltWinters{}, series[:1], 1},
		{"holt, season 1, one sample", HoltWinters{Season: 1}, series[:1], 1},
		{"linear, no history", Linear{}, nil, 1},
		{"linear, one sample", Linear{Window: 5}, series[:1], 1},
		{"holt-winters, h = 0", HoltWinters{Season: 24}, series, 0},
		{"holt-winters, h < 0", HoltWinters{Season: 24}, series, -3},
		{"linear, h = 0", Linear{}, series, 0},
		{"holt-winters, NaN", HoltWinters{Season: 24}, withAt(series, 60, math.NaN()), 1},
		{"holt-winters, +Inf", HoltWinters{Season: 24}, withAt(series, 0, math.Inf(1)), 1},
		{"holt, -Inf", HoltWinters{}, withAt(series, 99, math.Inf(-1)), 1},
		{"linear, NaN in window", Linear{Window: 10}, withAt(series, 95, math.NaN()), 1},
		{"linear, NaN", Linear{}, withAt(series, 0, math.NaN()), 1},
		{"alpha > 1", HoltWinters{Season: 24, Alpha: 1.5}, series, 1},
		{"beta < 0", HoltWinters{Season: 24, Beta: -0.1}, series, 1},
		{"gamma NaN", HoltWinters{Season: 24, Gamma: math.NaN()}, series, 1},
		{"overflowing trend", Linear{}, []float64{-math.MaxFloat64, math.MaxFloat64}, 2},
		{"overflowing holt", HoltWinters{Alpha: 1, Beta: 1}, []float64{-math.MaxFloat64, math.MaxFloat64}, 2},
	}
	for _, tt := range tests {
		if got, ok := tt.m.Forecast(tt.series, tt.h); ok {
			t.Errorf("%s: Forecast = %v, true; want ok = false", tt.name, got)
		}
	}
	// NaN outside the window does not matter.
	if _, ok := (Linear{Window: 10}).Forecast(withAt(series, 5, math.NaN()), 1); !ok {
		t.Errorf("Linear{Window: 10}: a NaN before the window made Forecast fail")
	}
}

func withAt(xs []float64, i int, v float64) []float64 {
	xs = slices.Clone(xs)
	xs[i] = v
	return xs
}

// randomSeries is a random forecasting problem: a series of random length
// and values of a random kind (including huge, tiny and wildly mixed
// magnitudes), a season and a horizon.
type randomSeries struct {
	Values []float64
	Season int
	H      int
}

// genSeries returns a random forecasting problem.
func genSeries(r *rand.Rand) randomSeries {
	s := randomSeries{Season: r.Intn(30), H: 1 + r.Intn(400)}
	n := r.Intn(200)
	kind := r.Intn(6)
	s.Values = make([]float64, n)
	for i := range s.Values {
		switch kind {
		case 0: // load-like
			s.Values[i] = 1000 * r.Float64()
		case 1: // any sign
			s.Values[i] = 1e6 * r.NormFloat64()
		case 2: // huge
			s.Values[i] = math.MaxFloat64 * (2*r.Float64() - 1)
		case 3: // tiny
			s.Values[i] = 1e-300 * r.NormFloat64()
		case 4: // any magnitude
			s.Values[i] = math.Copysign(math.Exp(r.Float64()*1400-700), r.NormFloat64())
		case 5: // bursty: mostly zeros
			if r.Intn(10) == 0 {
				s.Values[i] = 1e4 * r.Float64()
			}
		}
	}
	return s
}

// moderate reports whether xs stays within magnitudes where forecasts must
// not overflow.
func moderate(xs []float64) bool {
	for _, x := range xs {
		if math.Abs(x) > 1e100 {
			return false
		}
	}
	return true
}

func TestRandomFinite(t *testing.T) {
	models := func(s randomSeries) []Model {
		return []Model{
			HoltWinters{Season: s.Season},
			HoltWinters{Season: s.Season, Alpha: 1, Beta: 1, Gamma: 1},
			HoltWinters{Season: s.Season, Alpha: 0.9, Beta: 0.9, Gamma: 0.1},
			Linear{},
			Linear{Window: s.Season},
		}
	}
	property := func(seed int64) bool {
		s := genSeries(rand.New(rand.NewSource(seed)))
		orig := slices.Clone(s.Values)
		for _, m := range models(s) {
			got, ok := m.Forecast(s.Values, s.H)
			if ok && (math.IsNaN(got) || math.IsInf(got, 0)) {
				t.Errorf("%+v: Forecast(%v, %d) = %v", m, s.Values, s.H, got)
				return false
			}
			if enough := len(s.Values) >= MinHistory(m); ok != enough && moderate(s.Values) {
				t.Errorf("%+v: Forecast of %d moderate samples: ok = %v", m, len(s.Values), ok)
				return false
			}
			again, okAgain := m.Forecast(s.Values, s.H)
			if again != got || okAgain != ok {
				t.Errorf("%+v: Forecast is not deterministic: %v, %v then %v, %v", m, got, ok, again, okAgain)
				return false
			}
		}
		if !slices.Equal(s.Values, orig) {
			t.Errorf("Forecast modified its input")
			return false
		}
		return true
	}
	cfg := &quick.Config{MaxCount: 3000, Rand: rand.New(rand.NewSource(42))}
	if testing.Short() {
		cfg.MaxCount = 500
	}
	if err := quick.Check(property, cfg); err != nil {
		t.Error(err)
	}
}

func TestSMAPE(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		f, a []float64
		want float64
	}{
		{"identical", []float64{1, 2, 3, 1e6}, []float64{1, 2, 3, 1e6}, 0},
		{"identical with zeros", []float64{0, 5, 0}, []float64{0, 5, 0}, 0},
		{"10 over 100", []float64{110}, []float64{100}, 10.0 / 105},
		{"symmetric", []float64{100}, []float64{110}, 10.0 / 105},
		{"mean of pairs", []float64{110, 100}, []float64{100, 100}, 10.0 / 105 / 2},
		{"zero vs non-zero", []float64{0}, []float64{5}, 2},
		{"opposite signs", []float64{-3}, []float64{3}, 2},
		{"huge opposite signs", []float64{-math.MaxFloat64}, []float64{math.MaxFloat64}, 2},
		{"huge identical", []float64{math.MaxFloat64}, []float64{math.MaxFloat64}, 0},
		{"NaN", []float64{nan, 1}, []float64{1, 1}, 1},
		{"Inf", []float64{1, 1}, []float64{1, inf}, 1},
		{"lengths differ", []float64{1, 2, 3}, []float64{1, 2}, 0},
		{"empty", nil, nil, 2},
		{"one empty", []float64{1}, nil, 2},
	}
	for _, tt := range tests {
		if got := SMAPE(tt.f, tt.a); math.Abs(got-tt.want) > 1e-15 {
			t.Errorf("%s: SMAPE(%v, %v) = %v, want %v", tt.name, tt.f, tt.a, got, tt.want)
		}
	}
	// Random series: SMAPE is in [0, 2], 0 against themselves, symmetric.
	rng := rand.New(rand.NewSource(3))
	for range 1000 {
		s, u := genSeries(rng), genSeries(rng)
		got := SMAPE(s.Values, u.Values)
		if !(got >= 0 && got <= 2) || got != SMAPE(u.Values, s.Values) {
			t.Fatalf("SMAPE(%v, %v) = %v, want a symmetric value in [0, 2]", s.Values, u.Values, got)
		}
		if len(s.Values) > 0 && SMAPE(s.Values, s.Values) != 0 {
			t.Fatalf("SMAPE(%v, itself) = %v, want 0", s.Values, SMAPE(s.Values, s.Values))
		}
	}
}

func BenchmarkHoltWinters(b *testing.B) {
	// A week of 5-minute samples with a daily season.
	const season = 288
	rng := rand.New(rand.NewSource(1))
	series := periodic(shapes["sine"], season, 7*season, 0, 500, 400)
	for i := range series {
		series[i] *= 1 + 0.05*rng.NormFloat64()
	}
	m := HoltWinters{Season: season}
	for b.Loop() {
		if _, ok := m.Forecast(series, 12); !ok {
			b.Fatal("not ok")
		}
	}
}

func BenchmarkLinear(b *testing.B) {
	series := make([]float64, 2016)
	for i := range series {
		series[i] = float64(i)
	}
	for b.Loop() {
		if _, ok := (Linear{}).Forecast(series, 12); !ok {
			b.Fatal("not ok")
		}
	}
}
