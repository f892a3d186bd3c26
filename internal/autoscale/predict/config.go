package predict

import (
	"fmt"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/forecast"
)

// The HPA annotations that turn on and tune predictive scaling
// (docs/annotations.md, docs/autoscaling.md).
const (
	// AnnotationModel enables predictive mode with the named model:
	// "holt-winters" or "linear".
	AnnotationModel = "berth.io/predictive-model"
	// AnnotationSeason is the season length of the holt-winters model, a
	// Go duration (default 24h); a multiple of the step.
	AnnotationSeason = "berth.io/predictive-season"
	// AnnotationStep is the history's sample step, a Go duration (default
	// 1m for holt-winters, 15s for linear): each sample is the mean of the
	// demand seen during one step.
	AnnotationStep = "berth.io/predictive-step"
	// AnnotationHistory is how much history is kept, a Go duration
	// (default three seasons for holt-winters; 1m for linear, whose line
	// is fitted through the whole history: a short-term trend).
	AnnotationHistory = "berth.io/predictive-history"
	// AnnotationHorizon is how far ahead to forecast, a Go duration
	// (default: the measured start-up time of the target's pods).
	AnnotationHorizon = "berth.io/predictive-horizon"
	// AnnotationMaxError is the recent forecast error (symmetric mean
	// absolute percentage error, 0–2) above which the autoscaler ignores
	// the forecast (default 0.3).
	AnnotationMaxError = "berth.io/predictive-max-error"
)

// Limits of the settings.
const (
	// MaxSamples bounds the history kept per metric (its serialized form
	// is stored in a ConfigMap).
	MaxSamples = 20000
	// DefaultStep, DefaultSeason and DefaultMaxError are the defaults of
	// the annotations (holt-winters).
	DefaultStep     = time.Minute
	DefaultSeason   = 24 * time.Hour
	DefaultMaxError = 0.3
	// DefaultLinearStep and DefaultLinearHistory are the linear model's
	// defaults: a line through the last minute at 15 s steps extrapolates
	// a ramp that is under way (docs/autoscaling.md).
	DefaultLinearStep    = 15 * time.Second
	DefaultLinearHistory = time.Minute
)

// AnnotationError is a bad value of one of Berth's HPA annotations.
type AnnotationError struct {
	// Key and Value are the annotation.
	Key, Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %q: %s", e.Key, e.Value, e.Reason)
}

// Config is the predictive setting of one HPA.
type Config struct {
	// Model names the forecasting model.
	Model string
	// Season is the holt-winters season length (a multiple of Step).
	Season time.Duration
	// Step is the history's sample step.
	Step time.Duration
	// History is how long samples are kept.
	History time.Duration
	// Horizon is how far ahead to forecast; 0 means the measured start-up
	// time of the target's pods.
	Horizon time.Duration
	// MaxError is the recent error above which forecasts are ignored.
	MaxError float64
}

// ParseAnnotations returns the predictive setting in an HPA's annotations,
// nil when predictive mode is off, or an error naming the annotation and
// what is wrong with it.
func ParseAnnotations(ann map[string]string) (*Config, error) {
	model, on := ann[AnnotationModel]
	if !on {
		for _, k := range []string{AnnotationSeason, AnnotationStep, AnnotationHistory, AnnotationHorizon, AnnotationMaxError} {
			if _, ok := ann[k]; ok {
				return nil, &AnnotationError{Key: k, Value: ann[k], Reason: "needs " + AnnotationModel + " (holt-winters or linear) to turn predictive mode on"}
			}
		}
		return nil, nil
	}
	cfg := &Config{Model: model, Step: DefaultStep, Season: DefaultSeason, MaxError: DefaultMaxError}
	if model == "linear" {
		cfg.Step = DefaultLinearStep
	}
	dur := func(key string, into *time.Duration, min time.Duration) error {
		v, ok := ann[key]
		if !ok {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return &AnnotationError{Key: key, Value: v, Reason: "not a duration (like 1m or 24h)"}
		}
		if d < min {
			return &AnnotationError{Key: key, Value: v, Reason: "less than " + min.String()}
		}
		*into = d
		return nil
	}
	for _, a := range []struct {
		key  string
		into *time.Duration
		min  time.Duration
	}{{AnnotationStep, &cfg.Step, time.Second}, {AnnotationSeason, &cfg.Season, time.Second}, {AnnotationHistory, &cfg.History, time.Second}, {AnnotationHorizon, &cfg.Horizon, time.Second}} {
		if err := dur(a.key, a.into, a.min); err != nil {
			return nil, err
		}
	}
	if v, ok := ann[AnnotationMaxError]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 2 {
			return nil, &AnnotationError{Key: AnnotationMaxError, Value: v, Reason: "not a number in (0, 2]"}
		}
		cfg.MaxError = f
	}
	if cfg.Season%cfg.Step != 0 {
		return nil, &AnnotationError{Key: AnnotationSeason, Value: ann[AnnotationSeason], Reason: fmt.Sprintf("season %s is not a multiple of the step %s", cfg.Season, cfg.Step)}
	}
	if cfg.History == 0 {
		cfg.History = DefaultLinearHistory
		if model == "holt-winters" {
			cfg.History = 3 * cfg.Season
		}
	}
	m, err := cfg.NewModel()
	if err != nil {
		return nil, &AnnotationError{Key: AnnotationModel, Value: model, Reason: err.Error()}
	}
	if need := forecast.MinHistory(m); cfg.samples() < need {
		return nil, &AnnotationError{Key: AnnotationHistory, Value: ann[AnnotationHistory], Reason: fmt.Sprintf("%s of history is %d samples of %s; the %s model needs at least %d", cfg.History, cfg.samples(), cfg.Step, model, need)}
	}
	if cfg.samples() > MaxSamples {
		return nil, &AnnotationError{Key: AnnotationHistory, Value: ann[AnnotationHistory], Reason: fmt.Sprintf("%s of history is %d samples of %s; at most %d are kept (raise %s)", cfg.History, cfg.samples(), cfg.Step, MaxSamples, AnnotationStep)}
	}
	return cfg, nil
}

// samples is the number of samples the history keeps.
func (c *Config) samples() int { return int(c.History / c.Step) }

// SeasonSamples is the season length in samples.
func (c *Config) SeasonSamples() int { return int(c.Season / c.Step) }

// NewModel returns the configured forecasting model.
func (c *Config) NewModel() (forecast.Model, error) {
	return forecast.New(c.Model, c.SeasonSamples())
}
