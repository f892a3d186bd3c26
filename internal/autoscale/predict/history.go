package predict

import (
	"math"
	"time"
)

// errorWindow is how many recent forecast/actual pairs the error is
// computed over.
const errorWindow = 30

// Series is one metric's demand history: step means from Start on, the
// step in progress, and the forecasts made for steps not yet complete.
type Series struct {
	// Start is the beginning of the step of Values[0].
	Start time.Time `json:"start"`
	// Values are the completed steps' mean demand, oldest first.
	Values []float64 `json:"values"`
	// Sum and N accumulate the step in progress (Start + len(Values)
	// steps).
	Sum float64 `json:"sum,omitempty"`
	N   int     `json:"n,omitempty"`
	// Pending maps a future step (its index from Start) to the forecast
	// first made for it; it is scored when the step completes.
	Pending map[int]float64 `json:"pending,omitempty"`
	// Forecasts and Actuals are the recent scored pairs, oldest first.
	Forecasts []float64 `json:"forecasts,omitempty"`
	Actuals   []float64 `json:"actuals,omitempty"`
}

// stepIndex returns the index of the step that contains t.
func (s *Series) stepIndex(t time.Time, step time.Duration) int {
	return int(math.Floor(float64(t.Sub(s.Start)) / float64(step)))
}

// Observe adds a demand sample taken at now, completing the steps that
// ended before it (a step without samples repeats the previous value, so
// the series stays evenly spaced), and keeps at most keep values. It
// returns how many steps it completed.
func (s *Series) Observe(v float64, now time.Time, step time.Duration, keep int) (completed int) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	if s.Start.IsZero() {
		s.Start = now.Truncate(step)
	}
	idx := s.stepIndex(now, step)
	if idx < len(s.Values) { // a clock that went back: count it in the current step
		idx = len(s.Values)
	}
	for len(s.Values) < idx {
		mean := v
		if s.N > 0 {
			mean = s.Sum / float64(s.N)
		} else if n := len(s.Values); n > 0 {
			mean = s.Values[n-1]
		}
		s.complete(mean)
		s.Sum, s.N = 0, 0
		completed++
	}
	s.Sum += v
	s.N++
	if drop := len(s.Values) - keep; drop > 0 {
		s.Values = append(s.Values[:0:0], s.Values[drop:]...)
		s.Start = s.Start.Add(time.Duration(drop) * step)
		pending := make(map[int]float64, len(s.Pending))
		for k, f := range s.Pending {
			if k-drop >= 0 {
				pending[k-drop] = f
			}
		}
		s.Pending = pending
	}
	return completed
}

// complete appends a finished step and scores the forecast made for it.
func (s *Series) complete(mean float64) {
	idx := len(s.Values)
	s.Values = append(s.Values, mean)
	if f, ok := s.Pending[idx]; ok {
		delete(s.Pending, idx)
		s.Forecasts = append(s.Forecasts, f)
		s.Actuals = append(s.Actuals, mean)
		if n := len(s.Forecasts); n > errorWindow {
			s.Forecasts = append(s.Forecasts[:0:0], s.Forecasts[n-errorWindow:]...)
			s.Actuals = append(s.Actuals[:0:0], s.Actuals[n-errorWindow:]...)
		}
	}
	for k := range s.Pending {
		if k < idx {
			delete(s.Pending, k)
		}
	}
}

// Current returns the mean of the step in progress, or the last completed
// step's when it has no samples yet.
func (s *Series) Current() (float64, bool) {
	if s.N > 0 {
		return s.Sum / float64(s.N), true
	}
	if n := len(s.Values); n > 0 {
		return s.Values[n-1], true
	}
	return 0, false
}
