package forecast

import (
	"fmt"
	"math"
)

// Model forecasts a series sampled at a fixed step.
type Model interface {
	// Name is the model's annotation value ("holt-winters", "linear").
	Name() string
	// Forecast returns the value expected h steps after the last sample of
	// series (h >= 1). ok is false when the history is too short for this
	// model.
	Forecast(series []float64, h int) (v float64, ok bool)
}

// Names of the models, as accepted by New and returned by Model.Name.
const (
	NameHoltWinters = "holt-winters"
	NameLinear      = "linear"
)

// New returns the model named name ("holt-winters" or "linear") or an error
// naming the accepted values. season is the season length in samples used by
// Holt-Winters (0 or 1: no seasonality); Linear ignores it and fits its trend
// over the whole series it is given.
func New(name string, season int) (Model, error) {
	switch name {
	case NameHoltWinters:
		if season < 0 {
			return nil, fmt.Errorf("forecast: %s: season %d is negative", name, season)
		}
		return HoltWinters{Season: season}, nil
	case NameLinear:
		return Linear{}, nil
	}
	return nil, fmt.Errorf("forecast: unknown model %q (accepted: %q, %q)", name, NameHoltWinters, NameLinear)
}

// MinHistory returns how many samples m needs before Forecast answers
// (HoltWinters: 2 seasons, at least 2 samples; Linear: 2). A model this
// package does not define is reported as needing 1 sample.
func MinHistory(m Model) int {
	switch m := m.(type) {
	case HoltWinters:
		return m.minHistory()
	case *HoltWinters:
		if m != nil {
			return m.minHistory()
		}
	case Linear, *Linear:
		return 2
	}
	return 1
}

// SMAPE is the symmetric mean absolute percentage error of forecasts against
// actuals, on a 0..2 scale (multiply by 50 for a 0..100 % reading): the mean
// over the pairs of |f-a| / ((|f|+|a|)/2). 0 means every forecast was exact,
// 2 that every forecast was maximally wrong (for instance of the wrong sign,
// or non-zero where the actual was zero). A pair where both values are 0
// counts as exact; a pair containing a NaN or infinity counts as 2. Only the
// first min(len(forecasts), len(actuals)) pairs are compared; with no pairs
// at all SMAPE returns 2, so that a model with no track record is never
// judged trustworthy.
func SMAPE(forecasts, actuals []float64) float64 {
	n := min(len(forecasts), len(actuals))
	if n == 0 {
		return 2
	}
	sum := 0.0
	for i := range n {
		f, a := forecasts[i], actuals[i]
		if !finite(f) || !finite(a) {
			sum += 2
			continue
		}
		// Halve both first so that neither the difference nor the sum of
		// two huge values can overflow.
		f, a = f/2, a/2
		d := math.Abs(f) + math.Abs(a)
		if d == 0 {
			continue
		}
		sum += min(2*math.Abs(f-a)/d, 2)
	}
	return sum / float64(n)
}

// Default smoothing parameters of HoltWinters, used for any parameter left at
// zero. They were chosen by backtesting forecasts 1 step to 1 season ahead
// on synthetic daily load (smooth, spiky, trending, and with a sudden 50 %
// level shift) sampled every 1 and 5 minutes:
//
//   - DefaultAlpha lets the level follow a real shift within a few samples
//     (half of it after one sample), which the autoscaler needs more than the
//     slightly smoother forecasts of quiet load that a lower value gives.
//   - The trend multiplies the horizon, so any noise in it is amplified at
//     long horizons: with a season, the default trend parameter is
//     1/(4·Season) (0.00087 for a day of 5-minute samples), which averages
//     the trend over about four seasons so that it follows growth from one
//     season to the next, not the rise and fall within one. It is never more
//     than DefaultBeta, the default without a season.
//   - DefaultGamma lets the seasonal profile learn a changed daily shape
//     within a few seasons without copying one day's spikes into the next
//     day's forecast at full size.
const (
	DefaultAlpha = 0.5
	DefaultBeta  = 0.05
	DefaultGamma = 0.3
)

// defaultBeta is the default trend smoothing parameter for a season length.
func defaultBeta(season int) float64 {
	return min(DefaultBeta, 1/(4*float64(max(season, 1))))
}

// HoltWinters is additive triple exponential smoothing with season length
// Season (in samples).
//
// Alpha, Beta and Gamma smooth the level, the trend and the seasonal
// component: each must lie in [0, 1], higher values following recent samples
// more closely. Zero selects the default: DefaultAlpha, 1/(4·Season) but at
// most DefaultBeta, and DefaultGamma (use a tiny positive value to smooth
// as much as possible). A model with a parameter outside [0, 1] never
// answers.
//
// With Season <= 1 there is no seasonal component and the model is Holt's
// linear (double exponential) smoothing, which needs 2 samples of history;
// Gamma is then unused.
type HoltWinters struct {
	Season             int
	Alpha, Beta, Gamma float64
}

// Name returns "holt-winters".
func (HoltWinters) Name() string { return NameHoltWinters }

func (m HoltWinters) minHistory() int {
	return 2 * max(m.Season, 1)
}

// params returns the effective smoothing parameters and whether they are
// usable.
func (m HoltWinters) params() (alpha, beta, gamma float64, ok bool) {
	pick := func(v, def float64) (float64, bool) {
		if v == 0 {
			return def, true
		}
		return v, v > 0 && v <= 1 // also rejects NaN
	}
	alpha, okA := pick(m.Alpha, DefaultAlpha)
	beta, okB := pick(m.Beta, defaultBeta(m.Season))
	gamma, okG := pick(m.Gamma, DefaultGamma)
	return alpha, beta, gamma, okA && okB && okG
}

// Forecast returns the value expected h steps after the last sample of
// series. ok is false when h < 1, when series is shorter than two seasons
// (2 samples with Season <= 1), when series holds a NaN or infinity, when a
// smoothing parameter is out of range, or when the forecast would overflow.
//
// The model is initialised from the first two seasons: the level from the
// mean of the first season, the trend from the difference between the means
// of the first two seasons divided by Season, and the seasonal component
// from the first season's deviations from that level and trend. Smoothing
// then runs from the second season to the end of series, and the forecast
// is level + h*trend + the seasonal component of the forecast's phase.
// A series that repeats exactly every Season samples, a straight line, and
// the sum of both are therefore forecast exactly (up to rounding).
func (m HoltWinters) Forecast(series []float64, h int) (v float64, ok bool) {
	alpha, beta, gamma, ok := m.params()
	if !ok || h < 1 || len(series) < m.minHistory() {
		return 0, false
	}
	scale, exp, ok := normalise(series)
	if !ok {
		return 0, false
	}
	if scale == 0 { // all zeros
		return 0, true
	}
	if m.Season <= 1 {
		v = holt(series, scale, h, alpha, beta)
	} else {
		v = holtWinters(series, scale, m.Season, h, alpha, beta, gamma)
	}
	return denormalise(v, exp)
}

// holt is Holt's linear (double exponential) smoothing of series*scale,
// initialised with the first sample as level and the first difference as
// trend.
func holt(series []float64, scale float64, h int, alpha, beta float64) float64 {
	level := series[0] * scale
	trend := series[1]*scale - level
	for _, x := range series[1:] {
		x *= scale
		prev := level
		level = alpha*x + (1-alpha)*(level+trend)
		trend = beta*(level-prev) + (1-beta)*trend
	}
	return level + float64(h)*trend
}

// holtWinters is additive Holt-Winters smoothing of series*scale; see
// HoltWinters.Forecast.
func holtWinters(series []float64, scale float64, season, h int, alpha, beta, gamma float64) float64 {
	s := float64(season)
	var sum1, sum2 float64
	for i := range season {
		sum1 += series[i] * scale
		sum2 += series[season+i] * scale
	}
	mean1, mean2 := sum1/s, sum2/s
	trend := (mean2 - mean1) / s
	// mean1 is the level at the middle of the first season, (s-1)/2; the
	// seasonal component is what is left of each sample of the first season
	// once that level and the trend are taken away.
	mid := (s - 1) / 2
	seasonal := make([]float64, season)
	for i := range seasonal {
		seasonal[i] = series[i]*scale - (mean1 + trend*(float64(i)-mid))
	}
	// The level at the last sample of the first season.
	level := mean1 + trend*mid
	i := 0 // t % season, kept without dividing
	for t := season; t < len(series); t++ {
		x := series[t] * scale
		prev := level
		level = alpha*(x-seasonal[i]) + (1-alpha)*(level+trend)
		trend = beta*(level-prev) + (1-beta)*trend
		seasonal[i] = gamma*(x-level) + (1-gamma)*seasonal[i]
		if i++; i == season {
			i = 0
		}
	}
	// The phase of sample n-1+h, computed without overflowing for huge h.
	phase := ((len(series)-1)%season + h%season) % season
	return level + float64(h)*trend + seasonal[phase]
}

// Linear is a least-squares linear trend over the last Window samples (0:
// all). A Window of 1 is treated as 2, the fewest samples a line can be
// fitted through.
type Linear struct{ Window int }

// Name returns "linear".
func (Linear) Name() string { return NameLinear }

// Forecast returns the value expected h steps after the last sample of
// series, extrapolating the least-squares line through the last Window
// samples (all of them if there are fewer). ok is false when h < 1, when series has fewer than 2 samples,
// when the fitted samples hold a NaN or infinity, or when the forecast would
// overflow. A straight line is forecast exactly (up to rounding).
func (m Linear) Forecast(series []float64, h int) (v float64, ok bool) {
	if h < 1 || len(series) < 2 {
		return 0, false
	}
	k := m.Window
	if k <= 0 || k > len(series) {
		k = len(series)
	}
	k = max(k, 2)
	ys := series[len(series)-k:]
	scale, exp, ok := normalise(ys)
	if !ok {
		return 0, false
	}
	if scale == 0 {
		return 0, true
	}
	// Centre both axes: x_i = i - (k-1)/2, whose squares sum to k(k²-1)/12.
	kf := float64(k)
	var sum float64
	for _, y := range ys {
		sum += y * scale
	}
	mean := sum / kf
	mid := (kf - 1) / 2
	var sxy float64
	for i, y := range ys {
		sxy += (float64(i) - mid) * (y*scale - mean)
	}
	slope := sxy / (kf * (kf*kf - 1) / 12)
	return denormalise(mean+slope*(mid+float64(h)), exp)
}

// normalise checks that xs is finite and returns the power of two that
// brings its largest magnitude into [0.5, 1) (0 when xs is all zeros) and
// the exponent that undoes it. Scaling by a power of two is exact, so it
// costs no precision; it keeps the arithmetic of the models from
// overflowing on huge inputs and from losing precision to subnormal numbers
// on tiny ones.
func normalise(xs []float64) (scale float64, exp int, ok bool) {
	var peak float64
	for _, x := range xs {
		if !finite(x) {
			return 0, 0, false
		}
		peak = max(peak, math.Abs(x))
	}
	if peak == 0 {
		return 0, 0, true
	}
	_, exp = math.Frexp(peak)
	// 2^-exp must not overflow: the smallest subnormal peak, 2^-1074, is
	// scaled to 2^-54 instead, which is still far from subnormal.
	exp = max(exp, -1020)
	return math.Ldexp(1, -exp), exp, true
}

// denormalise undoes normalise on a forecast, reporting ok=false if the
// result is not a finite number.
func denormalise(v float64, exp int) (float64, bool) {
	v = math.Ldexp(v, exp)
	if !finite(v) {
		return 0, false
	}
	return v, true
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
