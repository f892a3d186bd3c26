package autoscale

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/predict"
)

// The HPA annotations that tune how often an HPA is evaluated and how fresh
// its metrics are (docs/annotations.md).
const (
	// AnnotationSyncPeriod is how often the controller evaluates the HPA,
	// a Go duration (default 15s, kube-controller-manager's
	// --horizontal-pod-autoscaler-sync-period).
	AnnotationSyncPeriod = "berth.io/hpa-sync-period"
	// AnnotationMetricResolution is how fresh the metrics it reads must be,
	// a Go duration (default 15s, metrics-server's --metric-resolution):
	// the API server scrapes the agents at least this often.
	AnnotationMetricResolution = "berth.io/hpa-metric-resolution"
)

// Bounds and defaults of the settings.
const (
	DefaultSyncPeriod       = 15 * time.Second
	DefaultMetricResolution = 15 * time.Second
	MinPeriod               = time.Second
	MaxPeriod               = 10 * time.Minute
)

// Settings are Berth's per-HPA settings.
type Settings struct {
	// SyncPeriod is how often the HPA is evaluated.
	SyncPeriod time.Duration
	// MetricResolution is the scrape interval its metrics need.
	MetricResolution time.Duration
	// Predictive is the predictive setting; nil when the HPA is purely
	// reactive.
	Predictive *predict.Config
}

// ParseSettings reads the settings in an HPA's annotations, or returns an
// error naming the annotation and what is wrong.
func ParseSettings(ann map[string]string) (Settings, error) {
	s := Settings{SyncPeriod: DefaultSyncPeriod, MetricResolution: DefaultMetricResolution}
	for _, a := range []struct {
		key  string
		into *time.Duration
	}{{AnnotationSyncPeriod, &s.SyncPeriod}, {AnnotationMetricResolution, &s.MetricResolution}} {
		v, ok := ann[a.key]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return s, &predict.AnnotationError{Key: a.key, Value: v, Reason: "not a duration (like 1s or 15s)"}
		}
		if d < MinPeriod || d > MaxPeriod {
			return s, &predict.AnnotationError{Key: a.key, Value: v, Reason: fmt.Sprintf("outside [%s, %s]", MinPeriod, MaxPeriod)}
		}
		*a.into = d
	}
	var err error
	s.Predictive, err = predict.ParseAnnotations(ann)
	return s, err
}
