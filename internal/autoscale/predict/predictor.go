package predict

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/forecast"
)

// minScored is how many scored forecasts are needed before the recent
// error decides anything; until then forecasts are trusted once the model
// has enough history.
const minScored = 5

// Predictor keeps one HPA's metric histories and forecasts them. The zero
// value is not usable: call New.
type Predictor struct {
	cfg    Config
	model  forecast.Model
	series map[string]*Series
	steps  int // steps completed since New, over all metrics
}

// New returns a predictor for cfg with no history.
func New(cfg Config) (*Predictor, error) {
	m, err := cfg.NewModel()
	if err != nil {
		return nil, err
	}
	return &Predictor{cfg: cfg, model: m, series: map[string]*Series{}}, nil
}

// Config returns the predictor's setting.
func (p *Predictor) Config() Config { return p.cfg }

// Observe records demand (in replicas) of the metric key at now.
func (p *Predictor) Observe(key string, demand float64, now time.Time) {
	s := p.series[key]
	if s == nil {
		s = &Series{}
		p.series[key] = s
	}
	p.steps += s.Observe(demand, now, p.cfg.Step, p.cfg.samples())
}

// Steps returns how many history steps were completed since New, over all
// metrics: a cheap way to see whether the history changed.
func (p *Predictor) Steps() int { return p.steps }

// Result is a forecast and how far to trust it.
type Result struct {
	// Demand is the largest forecast demand (replicas) over the window.
	Demand float64
	// OK is true when the forecast may be used: the model had enough
	// history and its recent error is within the configured bound.
	OK bool
	// Error is the recent symmetric mean absolute percentage error
	// (0–2); -1 when fewer than a handful of forecasts were scored.
	Error float64
	// Reason says why OK is false.
	Reason string
}

// Forecast returns the largest demand of metric key expected between
// now+from and now+to, and remembers the forecast of each step in that
// window so it is scored when the step completes.
func (p *Predictor) Forecast(key string, now time.Time, from, to time.Duration) Result {
	s := p.series[key]
	res := Result{Error: -1}
	if s == nil || len(s.Values) < forecast.MinHistory(p.model) {
		have := 0
		if s != nil {
			have = len(s.Values)
		}
		res.Reason = fmt.Sprintf("the %s model has %d of the %d samples of history it needs", p.model.Name(), have, forecast.MinHistory(p.model))
		return res
	}
	if len(s.Actuals) >= minScored {
		res.Error = forecast.SMAPE(s.Forecasts, s.Actuals)
	}
	c := len(s.Values)
	i0, i1 := max(s.stepIndex(now.Add(from), p.cfg.Step), c), max(s.stepIndex(now.Add(to), p.cfg.Step), c)
	found := false
	for i := i0; i <= i1; i++ {
		v, ok := p.model.Forecast(s.Values, i-c+1)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		v = max(v, 0)
		if s.Pending == nil {
			s.Pending = map[int]float64{}
		}
		if _, seen := s.Pending[i]; !seen {
			s.Pending[i] = v
		}
		if !found || v > res.Demand {
			res.Demand, found = v, true
		}
	}
	switch {
	case !found:
		res.Reason = fmt.Sprintf("the %s model gave no forecast", p.model.Name())
	case res.Error > p.cfg.MaxError:
		res.Reason = fmt.Sprintf("the recent forecast error %.2f is above %g", res.Error, p.cfg.MaxError)
	default:
		res.OK = true
	}
	return res
}

// Forget drops the histories of metrics not in keep.
func (p *Predictor) Forget(keep map[string]bool) {
	for k := range p.series {
		if !keep[k] {
			delete(p.series, k)
		}
	}
}

// state is the serialized form of a predictor.
type state struct {
	Model  string             `json:"model"`
	Step   string             `json:"step"`
	Series map[string]*Series `json:"series"`
}

// MarshalJSON serializes the histories (with the model and step they were
// recorded for).
func (p *Predictor) MarshalJSON() ([]byte, error) {
	return json.Marshal(state{Model: p.model.Name(), Step: p.cfg.Step.String(), Series: p.series})
}

// Restore loads histories serialized by MarshalJSON. Histories recorded
// with another step are dropped (their samples would mean something
// else); the model may differ.
func (p *Predictor) Restore(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("predict: restore history: %w", err)
	}
	if st.Step != p.cfg.Step.String() {
		return nil
	}
	keep := p.cfg.samples()
	for k, s := range st.Series {
		if s == nil {
			continue
		}
		if drop := len(s.Values) - keep; drop > 0 {
			s.Values = s.Values[drop:]
			s.Start = s.Start.Add(time.Duration(drop) * p.cfg.Step)
			s.Pending = nil
		}
		p.series[k] = s
	}
	return nil
}

// Samples returns how many completed samples metric key has.
func (p *Predictor) Samples(key string) int {
	if s := p.series[key]; s != nil {
		return len(s.Values)
	}
	return 0
}
