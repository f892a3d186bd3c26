package hpa

import (
	"context"
	"errors"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodMetric is one pod's metric sample (value in milli-units, like
// resource.Quantity.MilliValue()).
type PodMetric struct {
	// Timestamp is when the sample was taken (the end of its window).
	Timestamp time.Time
	// Window is the interval the sample was averaged over.
	Window time.Duration
	// Value is the sample in milli-units.
	Value int64
}

// PodMetricsInfo maps pod name to its sample.
type PodMetricsInfo map[string]PodMetric

// MetricsSource is where metric values come from (metrics.k8s.io and
// custom.metrics.k8s.io in the controller; a model in the simulator).
// ComputeReplicas never modifies the maps a source returns. selector is
// the scale target's selector; metricSelector is the metric's own selector,
// labels.Everything() when the metric sets none.
type MetricsSource interface {
	// ResourceMetric returns per-pod usage of resource (summed over
	// containers, or only `container` when non-empty) for pods matching
	// selector.
	ResourceMetric(ctx context.Context, resource corev1.ResourceName, namespace string, selector labels.Selector, container string) (PodMetricsInfo, time.Time, error)
	// PodsMetric returns per-pod values of a custom metric (Pods metric
	// source).
	PodsMetric(ctx context.Context, metricName, namespace string, selector labels.Selector, metricSelector labels.Selector) (PodMetricsInfo, time.Time, error)
	// ObjectMetric returns an object's metric value (milli-units).
	ObjectMetric(ctx context.Context, metricName, namespace string, ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error)
}

// ErrExternalMetricsUnsupported is the error of an External metric: Berth
// serves no external.metrics.k8s.io API.
var ErrExternalMetricsUnsupported = errors.New("external metrics are not supported (no external.metrics.k8s.io API)")

// ErrSelectorRequired is ComputeReplicas' error when the scale target has
// no selector.
var ErrSelectorRequired = errors.New("selector is required")
