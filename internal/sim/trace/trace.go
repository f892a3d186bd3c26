package trace

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Point is one sample: At seconds from the trace start, RPS the demand.
type Point struct {
	At  float64
	RPS float64
}

// Trace is a demand series with a name. Its Points are in strictly
// increasing order of At.
type Trace struct {
	Name   string
	Points []Point
}

// Step returns the median spacing between points in seconds (the mean of
// the two middle spacings when their number is even), or 0 when the trace
// has fewer than two points.
func (t *Trace) Step() float64 {
	if len(t.Points) < 2 {
		return 0
	}
	gaps := make([]float64, len(t.Points)-1)
	for i := range gaps {
		gaps[i] = t.Points[i+1].At - t.Points[i].At
	}
	slices.Sort(gaps)
	mid := len(gaps) / 2
	if len(gaps)%2 == 1 {
		return gaps[mid]
	}
	return (gaps[mid-1] + gaps[mid]) / 2
}

// At returns the demand at time s (step function: the last point at or
// before s; 0 before the first). After the last point the demand stays at
// the last point's value.
func (t *Trace) At(s float64) float64 {
	// The index of the first point after s; the one before it applies.
	i := sort.Search(len(t.Points), func(i int) bool { return t.Points[i].At > s })
	if i == 0 {
		return 0
	}
	return t.Points[i-1].RPS
}

// Interpolate returns the demand at time s read as a continuous rate: each
// point is its interval's mean, placed at the interval's middle, and the
// demand between two middles is a straight line (before the first middle
// and after the last, the nearest point's value). Coarse traces (5-minute
// or 30-minute counts) replayed this way rise and fall gradually, as the
// load they summarize did, instead of jumping at every interval.
func (t *Trace) Interpolate(s float64) float64 { return t.Interpolator()(s) }

// Interpolator returns Interpolate as a function that computes the trace's
// step once: replays call it for every second of a long trace.
func (t *Trace) Interpolator() func(s float64) float64 {
	n := len(t.Points)
	half := t.Step() / 2
	return func(s float64) float64 {
		if n == 0 {
			return 0
		}
		i := sort.Search(n, func(i int) bool { return t.Points[i].At+half > s })
		switch {
		case i == 0:
			return t.Points[0].RPS
		case i == n:
			return t.Points[n-1].RPS
		}
		a, b := t.Points[i-1], t.Points[i]
		f := (s - (a.At + half)) / (b.At - a.At)
		return a.RPS + f*(b.RPS-a.RPS)
	}
}

// Duration returns the seconds from the first point to the last plus one
// step (so that the last point's demand lasts as long as the others'), or 0
// for an empty trace.
func (t *Trace) Duration() float64 {
	if len(t.Points) == 0 {
		return 0
	}
	return t.Points[len(t.Points)-1].At - t.Points[0].At + t.Step()
}

// Scale returns a copy with every RPS multiplied by f.
func (t *Trace) Scale(f float64) *Trace {
	out := &Trace{Name: t.Name, Points: slices.Clone(t.Points)}
	for i := range out.Points {
		out.Points[i].RPS *= f
	}
	return out
}

// WriteCSV writes t in Berth's CSV format: a `time,rps` header, then one
// line per point with its time in seconds and its demand, both in the
// shortest decimal form that reads back exactly. It writes nothing and
// returns an error if t could not be loaded back: a time or rate that is not
// a finite number, a negative rate, or times that do not increase.
func WriteCSV(w io.Writer, t *Trace) error {
	for i, p := range t.Points {
		switch {
		case !finite(p.At):
			return fmt.Errorf("trace %s: point %d: time %v is not a finite number", t.Name, i, p.At)
		case !finite(p.RPS):
			return fmt.Errorf("trace %s: point %d: rps %v is not a finite number", t.Name, i, p.RPS)
		case p.RPS < 0:
			return fmt.Errorf("trace %s: point %d: rps %v is negative", t.Name, i, p.RPS)
		case i > 0 && p.At <= t.Points[i-1].At:
			return fmt.Errorf("trace %s: point %d: time %v is not after the previous point's %v", t.Name, i, p.At, t.Points[i-1].At)
		}
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("time,rps\n")
	var buf []byte
	for _, p := range t.Points {
		buf = strconv.AppendFloat(buf[:0], p.At, 'f', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, p.RPS, 'f', -1, 64)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	return bw.Flush()
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
