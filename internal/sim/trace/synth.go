package trace

import (
	"math"
	"time"
)

const day = 24 * time.Hour

// Diurnal returns a day-night load cycle named "diurnal": base rps in the
// quiet of the night (around 03:30), climbing in the morning to a first hump
// around noon, dipping in the afternoon, and peaking at peak rps around
// 20:30 before falling back. noise is the relative standard deviation of
// independent Gaussian noise multiplying each point (0.03: ±3 %).
func Diurnal(days int, step time.Duration, base, peak float64, noise float64, seed int64) *Trace {
	r := newRNG(seed)
	return synth("diurnal", days, step, func(at time.Duration) float64 {
		return diurnal(at, base, peak) * r.noise(noise)
	})
}

// DiurnalSpikes returns Diurnal's cycle, named "diurnal-spikes", with spikes
// sudden surges of demand a day, at random times. Each spike lasts a random time between spikeLen/4
// and spikeLen, and multiplies the demand by a random factor between
// (1+spikeFactor)/2 and spikeFactor: demand ramps up to that over 1 to 3
// minutes, holds, and ramps back down over 2 to 5 minutes (the ramps are
// shortened to fit in short spikes). Where spikes overlap the largest
// applies.
func DiurnalSpikes(days int, step time.Duration, base, peak float64, spikes int, spikeFactor float64, spikeLen time.Duration, noise float64, seed int64) *Trace {
	r := newRNG(seed)
	var ss []spike
	for d := range max(days, 0) {
		for range max(spikes, 0) {
			length := spikeLen.Seconds() * (0.25 + 0.75*r.float())
			s := spike{
				start:   float64(d)*day.Seconds() + r.float()*day.Seconds(),
				length:  length,
				factor:  (1+spikeFactor)/2 + (spikeFactor-1)/2*r.float(),
				rampIn:  min(60+120*r.float(), length/2),
				rampOut: min(120+180*r.float(), length/2),
			}
			ss = append(ss, s)
		}
	}
	return synth("diurnal-spikes", days, step, func(at time.Duration) float64 {
		m := 1.0
		for _, s := range ss {
			m = max(m, s.multiplier(at.Seconds()))
		}
		return diurnal(at, base, peak) * m * r.noise(noise)
	})
}

// Trend returns a trace named "trend" of demand growing linearly from start
// rps at the first point to end rps at the last, with a daily ripple of
// ±10 % (highest at 15:00, lowest at 03:00) and noise as in Diurnal.
func Trend(days int, step time.Duration, start, end float64, noise float64, seed int64) *Trace {
	r := newRNG(seed)
	n := points(days, step)
	i := 0
	return synth("trend", days, step, func(at time.Duration) float64 {
		frac := 0.0
		if n > 1 {
			frac = float64(i) / float64(n-1)
		}
		i++
		level := start + (end-start)*frac
		ripple := 1 + 0.1*math.Cos(2*math.Pi*(hourOfDay(at)-15)/24)
		return level * ripple * r.noise(noise)
	})
}

// points is the number of points of a synthetic trace.
func points(days int, step time.Duration) int {
	if days < 1 || step <= 0 {
		return 0
	}
	return int(time.Duration(days) * day / step)
}

// synth builds a synthetic trace from the demand at each point's time,
// rounded to 0.01 rps and never negative.
func synth(name string, days int, step time.Duration, rps func(at time.Duration) float64) *Trace {
	t := &Trace{Name: name, Points: make([]Point, points(days, step))}
	for i := range t.Points {
		at := time.Duration(i) * step
		t.Points[i] = Point{At: at.Seconds(), RPS: max(math.Round(rps(at)*100)/100, 0)}
	}
	return t
}

func hourOfDay(at time.Duration) float64 {
	return (at % day).Hours()
}

// diurnal is the noiseless day-night cycle between base and peak.
func diurnal(at time.Duration, base, peak float64) float64 {
	return base + (peak-base)*dayShape[int((at%day)/time.Minute)]
}

// dayShape is the shape of the day-night cycle, minute by minute, scaled to
// run from 0 (the quiet of the night) to 1 (the evening peak): a morning
// hump, a smaller afternoon one and the evening peak, each a bell curve
// wrapped around midnight.
var dayShape = func() []float64 {
	bell := func(h, centre, width float64) float64 {
		d := math.Abs(h - centre)
		d = min(d, 24-d)
		return math.Exp(-d * d / (2 * width * width))
	}
	shape := make([]float64, 24*60)
	lo, hi := math.Inf(1), math.Inf(-1)
	for m := range shape {
		h := float64(m) / 60
		v := 0.8*bell(h, 11, 2.5) + 0.45*bell(h, 15.5, 2) + 1.0*bell(h, 20.5, 2.2)
		shape[m] = v
		lo, hi = min(lo, v), max(hi, v)
	}
	for m := range shape {
		shape[m] = (shape[m] - lo) / (hi - lo)
	}
	return shape
}()

// spike is one surge of DiurnalSpikes, in seconds from the trace start.
type spike struct {
	start, length   float64
	factor          float64
	rampIn, rampOut float64
}

// multiplier returns the factor by which s multiplies the demand at time t.
func (s spike) multiplier(t float64) float64 {
	t -= s.start
	var env float64
	switch {
	case t < 0 || t >= s.length:
		return 1
	case t < s.rampIn:
		env = t / s.rampIn
	case t > s.length-s.rampOut:
		env = (s.length - t) / s.rampOut
	default:
		env = 1
	}
	return 1 + (s.factor-1)*env
}

// rng is a small deterministic random number generator (SplitMix64), kept
// here rather than taken from math/rand so that the synthetic traces can
// never change under a Go upgrade.
type rng struct{ state uint64 }

func newRNG(seed int64) *rng { return &rng{state: uint64(seed)} }

func (r *rng) uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 {
	return float64(r.uint64()>>11) / (1 << 53)
}

// normal returns a standard normal number (Box-Muller).
func (r *rng) normal() float64 {
	u := 1 - r.float() // (0, 1]: the logarithm stays finite
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// noise returns a multiplier around 1 with relative standard deviation sd.
func (r *rng) noise(sd float64) float64 {
	if sd == 0 {
		return 1
	}
	return 1 + sd*r.normal()
}
