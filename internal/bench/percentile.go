package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of values, which
// must be sorted ascending, by the nearest-rank method: the smallest value
// such that at least p percent of the values are less than or equal to it.
// It returns 0 for an empty slice; p ≤ 0 gives the minimum and p ≥ 100 the
// maximum.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// Median is Percentile(sorted, 50): for an even count the lower middle
// value, so it is always a value that was measured.
func Median(sorted []float64) float64 { return Percentile(sorted, 50) }

// SortedMillis converts durations to milliseconds and sorts them ascending.
func SortedMillis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	slices.Sort(out)
	return out
}

// round rounds x to the given number of decimals, for compact JSON.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
