package hpa

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultCPUUtilization is the target of the metric an HPA without metrics
// gets (the API server's default): 80% CPU utilization.
const DefaultCPUUtilization int32 = 80

// Reasons of the ScalingActive condition ComputeReplicas reports.
const (
	// ReasonValidMetricFound: a replica count was computed (True).
	ReasonValidMetricFound = "ValidMetricFound"
	// ReasonInvalidSelector: the scale target has no selector (False).
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonFailedGetResourceMetric: a Resource metric failed (False).
	ReasonFailedGetResourceMetric = "FailedGetResourceMetric"
	// ReasonFailedGetContainerResourceMetric: a ContainerResource metric
	// failed (False).
	ReasonFailedGetContainerResourceMetric = "FailedGetContainerResourceMetric"
	// ReasonFailedGetPodsMetric: a Pods metric failed (False).
	ReasonFailedGetPodsMetric = "FailedGetPodsMetric"
	// ReasonFailedGetObjectMetric: an Object metric failed (False).
	ReasonFailedGetObjectMetric = "FailedGetObjectMetric"
	// ReasonInvalidMetricSourceType: an unknown or unsupported (External)
	// metric source type (False).
	ReasonInvalidMetricSourceType = "InvalidMetricSourceType"
)

// Target is the scale target's current state as read from its scale
// subresource.
type Target struct {
	// Replicas is spec.replicas of the scale (the current replica count).
	Replicas int32
	// StatusReplicas is status.replicas of the scale (Object AverageValue
	// metrics divide by it).
	StatusReplicas int32
	// Selector is status.selector of the scale, parsed; nil when the scale
	// has none.
	Selector labels.Selector
}

// Proposal is one metric's result.
type Proposal struct {
	// Replicas is the replica count this metric asks for.
	Replicas int32
	// Status is the current value in HPA status form
	// (status.currentMetrics[i]).
	Status autoscalingv2.MetricStatus
	// Timestamp is when the metric was sampled.
	Timestamp time.Time
	// ReadyPods is the number of pods counted as ready by the calculation
	// (0 for Object metrics when not applicable: AverageValue targets, or a
	// Value target within tolerance or with zero replicas).
	ReadyPods int32
	// Metric describes the metric, e.g. "cpu resource utilization
	// (percentage of request)"; the description of the winning proposal is
	// ComputeResult.Metric.
	Metric string
}

// ComputeResult is what ComputeReplicas decided before normalization.
type ComputeResult struct {
	// Replicas is the largest proposal, or the current replica count when
	// no metric gave a proposal. When Err is non-nil the controller must
	// not scale (Kubernetes returns -1 there), even if Replicas differs from
	// the current count.
	Replicas int32
	// Metric describes the metric that won, e.g. "cpu resource utilization
	// (percentage of request)"; empty when no metric gave a proposal.
	Metric string
	// Timestamp is the winning proposal's timestamp.
	Timestamp time.Time
	// Statuses has one entry per spec metric, in spec order, an empty
	// MetricStatus for a failed metric (status.currentMetrics); nil when the
	// target has no selector.
	Statuses []autoscalingv2.MetricStatus
	// Proposals has one entry per spec metric; nil for a failed metric.
	Proposals []*Proposal
	// Condition is the ScalingActive=False condition of the first failed
	// metric (reasons FailedGetResourceMetric,
	// FailedGetContainerResourceMetric, FailedGetPodsMetric,
	// FailedGetObjectMetric, InvalidMetricSourceType) or of a missing
	// selector (InvalidSelector) when anything failed; nil otherwise. Note
	// that Kubernetes only sets it on the HPA when Err is non-nil; see
	// ScalingActive.
	Condition *autoscalingv2.HorizontalPodAutoscalerCondition
	// Err is non-nil when every metric failed, when the target has no
	// selector or, like Kubernetes, when some metrics failed and the rest
	// would scale down (invalid metrics block scale-down). It is
	// InvalidMetricsErr in the metric cases.
	Err error

	// ScalingActive is the ScalingActive condition Kubernetes sets on the
	// HPA after computing the metrics: *Condition when Err is non-nil, else
	// ScalingActive=True, ValidMetricFound, "the HPA was able to
	// successfully calculate a replica count from <Metric>".
	ScalingActive autoscalingv2.HorizontalPodAutoscalerCondition
	// InvalidMetrics is the number of metrics that failed.
	InvalidMetrics int
	// InvalidMetricsErr is "invalid metrics (n invalid out of m), first
	// error is: ..." whenever a metric failed, also when the others still
	// scale (Kubernetes then scales and returns this error from the sync).
	InvalidMetricsErr error
}

// ComputeReplicas evaluates every metric of h against target (Kubernetes'
// computeReplicasForMetrics). pods are the target's pods, already filtered
// by namespace and selector; src provides the metric values; now is the
// current time (the CPU initialization rules compare pod times with it).
// An HPA without metrics is evaluated with the default 80% CPU utilization
// metric, as the API server would have defaulted it.
func ComputeReplicas(ctx context.Context, cfg Config, h *autoscalingv2.HorizontalPodAutoscaler, target Target, pods []*corev1.Pod, src MetricsSource, now time.Time) ComputeResult {
	res := ComputeResult{Replicas: target.Replicas}
	if h == nil {
		h = &autoscalingv2.HorizontalPodAutoscaler{}
	}
	if target.Selector == nil {
		cond := scalingActiveFalse(ReasonInvalidSelector, "the HPA target's scale is missing a selector")
		res.Condition = &cond
		res.ScalingActive = cond
		res.Err = ErrSelectorRequired
		return res
	}

	specs := h.Spec.Metrics
	if len(specs) == 0 {
		specs = []autoscalingv2.MetricSpec{defaultMetricSpec()}
	}
	e := evaluator{
		ctx: ctx,
		hpa: h,
		src: src,
		calc: calculator{
			tolerances:                    TolerancesFor(h, cfg.Tolerance),
			cpuInitializationPeriod:       cfg.CPUInitializationPeriod,
			delayOfInitialReadinessStatus: cfg.DelayOfInitialReadinessStatus,
			now:                           now,
			pods:                          pods,
		},
		target: target,
	}

	res.Statuses = make([]autoscalingv2.MetricStatus, len(specs))
	res.Proposals = make([]*Proposal, len(specs))
	var (
		replicas     int32
		firstErr     error
		firstFailure autoscalingv2.HorizontalPodAutoscalerCondition
	)
	for i, spec := range specs {
		p, cond, err := e.metric(spec)
		if err != nil {
			if res.InvalidMetrics == 0 {
				firstErr, firstFailure = err, cond
			}
			res.InvalidMetrics++
			continue
		}
		res.Statuses[i] = p.Status
		res.Proposals[i] = p
		if replicas == 0 || p.Replicas > replicas {
			replicas, res.Metric, res.Timestamp = p.Replicas, p.Metric, p.Timestamp
		}
	}
	if res.InvalidMetrics > 0 {
		res.InvalidMetricsErr = fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", res.InvalidMetrics, len(specs), firstErr)
		res.Condition = &firstFailure
	}
	if res.InvalidMetrics < len(specs) {
		res.Replicas = replicas
	}
	if res.InvalidMetrics >= len(specs) || (res.InvalidMetrics > 0 && replicas < target.Replicas) {
		res.ScalingActive = firstFailure
		res.Err = res.InvalidMetricsErr
		return res
	}
	res.ScalingActive = autoscalingv2.HorizontalPodAutoscalerCondition{
		Type:    autoscalingv2.ScalingActive,
		Status:  corev1.ConditionTrue,
		Reason:  ReasonValidMetricFound,
		Message: fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", res.Metric),
	}
	return res
}

func defaultMetricSpec() autoscalingv2.MetricSpec {
	u := DefaultCPUUtilization
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &u},
		},
	}
}

func scalingActiveFalse(reason, message string) autoscalingv2.HorizontalPodAutoscalerCondition {
	return autoscalingv2.HorizontalPodAutoscalerCondition{
		Type:    autoscalingv2.ScalingActive,
		Status:  corev1.ConditionFalse,
		Reason:  reason,
		Message: message,
	}
}

// unableToCompute is getUnableComputeReplicaCountCondition.
func unableToCompute(reason string, err error) autoscalingv2.HorizontalPodAutoscalerCondition {
	return scalingActiveFalse(reason, fmt.Sprintf("the HPA was unable to compute the replica count: %v", err))
}

// evaluator computes one metric (computeReplicasForMetric).
type evaluator struct {
	ctx    context.Context
	hpa    *autoscalingv2.HorizontalPodAutoscaler
	src    MetricsSource
	calc   calculator
	target Target
}

// metric returns the metric's proposal, or the condition and error of its
// failure.
func (e *evaluator) metric(spec autoscalingv2.MetricSpec) (*Proposal, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			return e.fail(ReasonFailedGetObjectMetric, "failed to get object metric value", errors.New("invalid object metric source: object is not set"))
		}
		metricSelector, err := metricSelectorFor(spec.Object.Metric.Selector)
		if err != nil {
			return e.fail(ReasonFailedGetObjectMetric, "failed to get object metric value", err)
		}
		p, cond, err := e.object(spec.Object, metricSelector)
		if err != nil {
			return nil, cond, fmt.Errorf("failed to get object metric value: %w", err)
		}
		return p, cond, nil
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			return e.fail(ReasonFailedGetPodsMetric, "failed to get pods metric value", errors.New("invalid pods metric source: pods is not set"))
		}
		metricSelector, err := metricSelectorFor(spec.Pods.Metric.Selector)
		if err != nil {
			return e.fail(ReasonFailedGetPodsMetric, "failed to get pods metric value", err)
		}
		p, err := e.pods(spec.Pods, metricSelector)
		if err != nil {
			return e.fail(ReasonFailedGetPodsMetric, "failed to get pods metric value", err)
		}
		return p, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			return e.fail(ReasonFailedGetResourceMetric, "failed to get resource metric value", errors.New("invalid resource metric source: resource is not set"))
		}
		p, err := e.resource(spec.Resource.Target, spec.Resource.Name, "")
		if err != nil {
			return e.fail(ReasonFailedGetResourceMetric, fmt.Sprintf("failed to get %s resource metric value", spec.Resource.Name), err)
		}
		p.Status = autoscalingv2.MetricStatus{
			Type:     autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: spec.Resource.Name, Current: p.Status.Resource.Current},
		}
		return p, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			return e.fail(ReasonFailedGetContainerResourceMetric, "failed to get container metric value", errors.New("invalid container resource metric source: containerResource is not set"))
		}
		cr := spec.ContainerResource
		p, err := e.resource(cr.Target, cr.Name, cr.Container)
		if err != nil {
			return e.fail(ReasonFailedGetContainerResourceMetric, fmt.Sprintf("failed to get %s container metric value", cr.Container), err)
		}
		p.Status = autoscalingv2.MetricStatus{
			Type:              autoscalingv2.ContainerResourceMetricSourceType,
			ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Name: cr.Name, Container: cr.Container, Current: p.Status.Resource.Current},
		}
		return p, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case autoscalingv2.ExternalMetricSourceType:
		name := ""
		if spec.External != nil {
			name = spec.External.Metric.Name
		}
		return e.fail(ReasonInvalidMetricSourceType, fmt.Sprintf("failed to get %s external metric value", name), fmt.Errorf("external metric %s: %w", name, ErrExternalMetricsUnsupported))
	default:
		return e.fail(ReasonInvalidMetricSourceType, "", fmt.Errorf("unknown metric source type %q", string(spec.Type)))
	}
}

// metricSelectorFor parses a metric's label selector: labels.Everything()
// when it has none (Kubernetes passes labels.Nothing(), whose String() is
// the same empty selector the metrics APIs receive).
func metricSelectorFor(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// fail returns the condition of reason for err, and err behind prefix
// (err itself when prefix is empty).
func (e *evaluator) fail(reason, prefix string, err error) (*Proposal, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	cond := unableToCompute(reason, err)
	if prefix != "" {
		err = fmt.Errorf("%s: %w", prefix, err)
	}
	return nil, cond, err
}

// resource is computeStatusForResourceMetricGeneric; the status it returns
// is a Resource status holding the current value, which the caller
// rewrites for its source type.
func (e *evaluator) resource(target autoscalingv2.MetricTarget, name corev1.ResourceName, container string) (*Proposal, error) {
	if target.AverageValue != nil {
		metrics, ts, err := e.src.ResourceMetric(e.ctx, name, e.hpa.Namespace, e.target.Selector, container)
		if err != nil {
			return nil, fmt.Errorf("failed to get %s usage: %w", name, fmt.Errorf("unable to get metrics for resource %s: %w", name, err))
		}
		replicas, usage, ready, err := e.calc.plainMetric(e.target.Replicas, target.AverageValue.MilliValue(), name, metrics)
		if err != nil {
			return nil, fmt.Errorf("failed to get %s usage: %w", name, err)
		}
		return &Proposal{
			Replicas:  replicas,
			Timestamp: ts,
			ReadyPods: int32(ready),
			Metric:    fmt.Sprintf("%s resource", name),
			Status: autoscalingv2.MetricStatus{Resource: &autoscalingv2.ResourceMetricStatus{Current: autoscalingv2.MetricValueStatus{
				AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI),
			}}},
		}, nil
	}
	if target.AverageUtilization == nil {
		return nil, errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	metrics, ts, err := e.src.ResourceMetric(e.ctx, name, e.hpa.Namespace, e.target.Selector, container)
	if err != nil {
		return nil, fmt.Errorf("failed to get %s utilization: %w", name, fmt.Errorf("unable to get metrics for resource %s: %w", name, err))
	}
	replicas, utilization, raw, ready, err := e.calc.resourceUtilization(e.target.Replicas, *target.AverageUtilization, name, container, metrics)
	if err != nil {
		return nil, fmt.Errorf("failed to get %s utilization: %w", name, err)
	}
	desc := fmt.Sprintf("%s resource utilization (percentage of request)", name)
	if container != "" {
		desc = fmt.Sprintf("%s container resource utilization (percentage of request)", name)
	}
	return &Proposal{
		Replicas:  replicas,
		Timestamp: ts,
		ReadyPods: int32(ready),
		Metric:    desc,
		Status: autoscalingv2.MetricStatus{Resource: &autoscalingv2.ResourceMetricStatus{Current: autoscalingv2.MetricValueStatus{
			AverageUtilization: &utilization,
			AverageValue:       resource.NewMilliQuantity(raw, resource.DecimalSI),
		}}},
	}, nil
}

// pods is computeStatusForPodsMetric.
func (e *evaluator) pods(spec *autoscalingv2.PodsMetricSource, metricSelector labels.Selector) (*Proposal, error) {
	if spec.Target.AverageValue == nil {
		return nil, errors.New("invalid pods metric source: no average value target was set")
	}
	metrics, ts, err := e.src.PodsMetric(e.ctx, spec.Metric.Name, e.hpa.Namespace, e.target.Selector, metricSelector)
	if err != nil {
		return nil, fmt.Errorf("unable to get metric %s: %w", spec.Metric.Name, err)
	}
	replicas, usage, ready, err := e.calc.plainMetric(e.target.Replicas, spec.Target.AverageValue.MilliValue(), "", metrics)
	if err != nil {
		return nil, err
	}
	return &Proposal{
		Replicas:  replicas,
		Timestamp: ts,
		ReadyPods: int32(ready),
		Metric:    fmt.Sprintf("pods metric %s", spec.Metric.Name),
		Status: autoscalingv2.MetricStatus{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricStatus{
				Metric:  autoscalingv2.MetricIdentifier{Name: spec.Metric.Name, Selector: spec.Metric.Selector},
				Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)},
			},
		},
	}, nil
}

// object is computeStatusForObjectMetric.
func (e *evaluator) object(spec *autoscalingv2.ObjectMetricSource, metricSelector labels.Selector) (*Proposal, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	ident := autoscalingv2.MetricIdentifier{Name: spec.Metric.Name, Selector: spec.Metric.Selector}
	get := func() (int64, time.Time, error) {
		v, ts, err := e.src.ObjectMetric(e.ctx, spec.Metric.Name, e.hpa.Namespace, &spec.DescribedObject, metricSelector)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("unable to get metric %s on %s %s/%s: %w", spec.Metric.Name, spec.DescribedObject.Kind, e.hpa.Namespace, spec.DescribedObject.Name, err)
		}
		return v, ts, nil
	}
	switch {
	case spec.Target.Type == autoscalingv2.ValueMetricType && spec.Target.Value != nil:
		usage, ts, err := get()
		var replicas int32
		var ready int
		if err == nil {
			replicas, ready, err = e.calc.objectValue(e.target.Replicas, usage, spec.Target.Value.MilliValue())
		}
		if err != nil {
			return nil, unableToCompute(ReasonFailedGetObjectMetric, err), err
		}
		return &Proposal{
			Replicas:  replicas,
			Timestamp: ts,
			ReadyPods: int32(ready),
			Metric:    fmt.Sprintf("%s metric %s", spec.DescribedObject.Kind, spec.Metric.Name),
			Status: autoscalingv2.MetricStatus{
				Type: autoscalingv2.ObjectMetricSourceType,
				Object: &autoscalingv2.ObjectMetricStatus{
					DescribedObject: spec.DescribedObject,
					Metric:          ident,
					Current:         autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(usage, resource.DecimalSI)},
				},
			},
		}, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case spec.Target.Type == autoscalingv2.AverageValueMetricType && spec.Target.AverageValue != nil:
		usage, ts, err := get()
		if err != nil {
			return nil, unableToCompute(ReasonFailedGetObjectMetric, err), fmt.Errorf("failed to get %s object metric: %w", spec.Metric.Name, err)
		}
		replicas, average := e.calc.objectPerPod(e.target.StatusReplicas, usage, spec.Target.AverageValue.MilliValue())
		return &Proposal{
			Replicas:  replicas,
			Timestamp: ts,
			// Kubernetes describes this metric as an external one.
			Metric: fmt.Sprintf("external metric %s(%+v)", spec.Metric.Name, spec.Metric.Selector),
			Status: autoscalingv2.MetricStatus{
				Type: autoscalingv2.ObjectMetricSourceType,
				Object: &autoscalingv2.ObjectMetricStatus{
					Metric:  ident,
					Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(average, resource.DecimalSI)},
				},
			},
		}, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	err := errors.New("invalid object metric source: neither a value target nor an average value target was set")
	return nil, unableToCompute(ReasonFailedGetObjectMetric, err), err
}
