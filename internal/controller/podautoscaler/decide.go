package podautoscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/autoscale/hpa"
	"github.com/berth-dev/berth/internal/autoscale/predict"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultStartUp is the forecast horizon of a predictive HPA before any of
// its target's pods was seen starting.
const DefaultStartUp = 30 * time.Second

// Input is everything one evaluation of an HPA reads.
type Input struct {
	// HPA is the autoscaler (not modified).
	HPA *autoscalingv2.HorizontalPodAutoscaler
	// Scale is the target's scale subresource, or nil with ScaleErr.
	Scale    *autoscalingv1.Scale
	ScaleErr error
	// Pods are the pods the scale's selector matches.
	Pods []*corev1.Pod
	// Metrics answers the metric queries.
	Metrics hpa.MetricsSource
	// StartUp is the measured time the target's pods need to become
	// ready (0: unknown), the default forecast horizon.
	StartUp time.Duration
	// Now is the evaluation time.
	Now time.Time
}

// Event is a Kubernetes Event the evaluation asks to emit about the HPA.
type Event struct{ Type, Reason, Message string }

// Forecast is what predictive mode contributed to a decision.
type Forecast struct {
	// Replicas is the largest replica count the forecasts ask for (0 when
	// no forecast was usable).
	Replicas int32
	// Metric names the metric whose forecast asked for Replicas.
	Metric string
	// Reasons say, per metric, why a forecast was not used.
	Reasons []string
	// Reactive is what Kubernetes' rule alone asked for (before
	// stabilization and limits); Used is true when the forecast asked for
	// more.
	Reactive int32
	Used     bool
}

// Decision is the outcome of one evaluation.
type Decision struct {
	// Current and Desired are the target's replicas now and as decided;
	// Rescale is true when the scale must be updated to Desired.
	Current, Desired int32
	Rescale          bool
	// Reason is the rescale reason ("cpu resource utilization (percentage
	// of request) above target", "All metrics below target", ...).
	Reason string
	// Status is the HPA's new status (conditions included). Applied
	// completes it once the rescale was attempted.
	Status autoscalingv2.HorizontalPodAutoscalerStatus
	// Events to emit.
	Events []Event
	// Forecast is set for predictive HPAs.
	Forecast *Forecast
	// Err is why no replica count could be computed (the status says so).
	Err error
}

// State is the controller's memory of one HPA between evaluations:
// Kubernetes' recommendations and scale events, and the predictive
// history. The zero value is ready for a reactive HPA.
type State struct {
	stab    hpa.Stabilizer
	pred    *predict.Predictor
	predCfg *predict.Config
	history []byte // serialized history to restore into the next predictor
	// distrust is why the forecasts were last ignored ("" while used), to
	// emit an event when that changes.
	distrust string
	// held are the recent forecast counts, newest last: a forecast's
	// capacity is kept for ForecastHold so that it does not go and come
	// back within a minute.
	held []heldForecast
}

// heldForecast is a forecast count and when it was made.
type heldForecast struct {
	at       time.Time
	replicas int32
	metric   string
}

// ForecastHold is how long capacity asked for by a forecast is kept at
// least (Kubernetes' 5-minute scale-down window does not hold it: see
// NormalizeArgs.Recommendation).
const ForecastHold = time.Minute

// hold records f's count at now and returns the largest count forecast
// within ForecastHold, with its metric.
func (st *State) hold(f *Forecast, now time.Time) (int32, string) {
	keep := st.held[:0]
	for _, h := range st.held {
		if now.Sub(h.at) < ForecastHold {
			keep = append(keep, h)
		}
	}
	st.held = keep
	if f.Replicas > 0 {
		st.held = append(st.held, heldForecast{now, f.Replicas, f.Metric})
	}
	var best heldForecast
	for _, h := range st.held {
		if h.replicas > best.replicas {
			best = h
		}
	}
	return best.replicas, best.metric
}

// RestoreHistory gives the state a predictive history serialized by
// predict.Predictor.MarshalJSON (e.g. read back after a restart).
func (st *State) RestoreHistory(data []byte) error {
	if st.pred != nil {
		return st.pred.Restore(data)
	}
	if !json.Valid(data) {
		return fmt.Errorf("podautoscaler: the predictive history is not JSON")
	}
	st.history = data
	return nil
}

// Predictor returns the HPA's predictive history (nil when reactive).
func (st *State) Predictor() *predict.Predictor { return st.pred }

// configure (re)creates the predictor when the HPA's setting changed.
func (st *State) configure(cfg *predict.Config) error {
	if cfg == nil {
		st.pred, st.predCfg = nil, nil
		return nil
	}
	if st.predCfg != nil && *st.predCfg == *cfg {
		return nil
	}
	p, err := predict.New(*cfg)
	if err != nil {
		return err
	}
	if st.pred != nil { // keep what was learnt when only tuning changed
		if data, err := st.pred.MarshalJSON(); err == nil {
			_ = p.Restore(data)
		}
	} else if st.history != nil {
		_ = p.Restore(st.history) // checked by RestoreHistory
		st.history = nil
	}
	st.pred, st.predCfg = p, cfg
	return nil
}

// Decide evaluates the HPA once, as kube-controller-manager's
// reconcileAutoscaler does, with predictive mode's forecasts on top.
func (st *State) Decide(ctx context.Context, cfg hpa.Config, in Input) Decision {
	h := in.HPA
	d := Decision{Status: *h.Status.DeepCopy()}
	d.Status.ObservedGeneration = &h.Generation
	settings, err := autoscale.ParseSettings(h.Annotations)
	if err == nil {
		err = st.configure(settings.Predictive)
	}
	if err != nil { // the API validates these; an HPA stored before that is refused here
		setCondition(&d.Status, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidAnnotations", err.Error(), in.Now)
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "InvalidAnnotations", err.Error()})
		d.Err = err
		return d
	}
	if in.ScaleErr != nil || in.Scale == nil {
		err := in.ScaleErr
		if err == nil {
			err = fmt.Errorf("no scale subresource")
		}
		setCondition(&d.Status, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", fmt.Sprintf("the HPA controller was unable to get the target's current scale: %v", err), in.Now)
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "FailedGetScale", err.Error()})
		d.Err = fmt.Errorf("failed to query scale subresource for %s: %w", reference(h), err)
		return d
	}
	setCondition(&d.Status, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale", in.Now)
	current := in.Scale.Spec.Replicas
	d.Current, d.Desired = current, 0
	minReplicas := int32(1)
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	rescale := true
	switch {
	case current == 0 && minReplicas != 0:
		d.Desired, rescale = 0, false
		setCondition(&d.Status, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", in.Now)
	case current > h.Spec.MaxReplicas:
		d.Reason, d.Desired = "Current number of replicas above Spec.MaxReplicas", h.Spec.MaxReplicas
	case current < minReplicas:
		d.Reason, d.Desired = "Current number of replicas below Spec.MinReplicas", minReplicas
	default:
		sel, err := labels.Parse(in.Scale.Status.Selector)
		if err != nil {
			sel = labels.Nothing()
		}
		target := hpa.Target{Replicas: current, StatusReplicas: in.Scale.Status.Replicas, Selector: sel}
		rec := &recordingSource{MetricsSource: in.Metrics}
		res := hpa.ComputeReplicas(ctx, cfg, h, target, in.Pods, rec, in.Now)
		d.Status.CurrentMetrics = res.Statuses
		sa := res.ScalingActive
		setCondition(&d.Status, sa.Type, sa.Status, sa.Reason, sa.Message, in.Now)
		if res.Err != nil {
			d.Status.CurrentReplicas = current
			d.Events = append(d.Events, Event{corev1.EventTypeWarning, "FailedComputeMetricsReplicas", res.Err.Error()})
			d.Err = fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference(h), res.Err)
			return d
		}
		reactive, desired, metric := res.Replicas, res.Replicas, res.Metric
		if st.pred != nil {
			d.Forecast = st.forecast(h, settings, in, current, res, rec, cfg)
			d.Forecast.Reactive = reactive
			d.Forecast.Replicas, d.Forecast.Metric = st.hold(d.Forecast, in.Now)
			// Reasons carry figures that change at every sync: an event
			// is emitted when the kind of reason changes.
			why := strings.Join(d.Forecast.Reasons, "; ")
			if key := withoutFigures(why); key != withoutFigures(st.distrust) {
				if why != "" {
					d.Events = append(d.Events, Event{corev1.EventTypeNormal, "ForecastIgnored", "predictive mode is reactive for now: " + why})
				} else {
					d.Events = append(d.Events, Event{corev1.EventTypeNormal, "ForecastUsed", "the forecasts are trusted again"})
				}
			}
			st.distrust = why
			if d.Forecast.Replicas > desired {
				desired, metric = d.Forecast.Replicas, "forecast of "+d.Forecast.Metric
				d.Forecast.Used = true
			}
		}
		if desired > current {
			d.Reason = metric + " above target"
		}
		if desired < current {
			d.Reason = "All metrics below target"
		}
		var conds []autoscalingv2.HorizontalPodAutoscalerCondition
		args := hpa.NormalizeArgs{Key: h.Namespace + "/" + h.Name, MinReplicas: minReplicas, MaxReplicas: h.Spec.MaxReplicas, CurrentReplicas: current, DesiredReplicas: desired}
		if d.Forecast != nil {
			// Stabilization remembers what the rule asked for: capacity
			// added for a forecast alone goes once the forecast drops.
			args.Recommendation = &reactive
		}
		d.Desired, conds = st.stab.Normalize(cfg, h, args, in.Now)
		for _, c := range conds {
			setCondition(&d.Status, c.Type, c.Status, c.Reason, c.Message, in.Now)
		}
		rescale = d.Desired != current
	}
	d.Rescale = rescale
	if !rescale {
		d.Desired = current
	}
	d.Status.CurrentReplicas, d.Status.DesiredReplicas = current, d.Desired
	return d
}

// Applied completes d after the controller tried to update the scale to
// d.Desired (err is the update's outcome; only called when d.Rescale).
func (st *State) Applied(h *autoscalingv2.HorizontalPodAutoscaler, d *Decision, err error, now time.Time) {
	if err != nil {
		d.Events = append(d.Events, Event{corev1.EventTypeWarning, "FailedRescale", fmt.Sprintf("New size: %d; reason: %s; error: %v", d.Desired, d.Reason, err)})
		setCondition(&d.Status, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", fmt.Sprintf("the HPA controller was unable to update the target scale: %v", err), now)
		d.Status.DesiredReplicas = d.Current
		return
	}
	setCondition(&d.Status, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", d.Desired), now)
	d.Events = append(d.Events, Event{corev1.EventTypeNormal, "SuccessfulRescale", fmt.Sprintf("New size: %d; reason: %s", d.Desired, d.Reason)})
	st.stab.RecordScale(h, d.Current, d.Desired, now)
	t := metav1.NewTime(now)
	d.Status.LastScaleTime = &t
}

// forecast observes each metric's demand and returns the largest replica
// count the usable forecasts ask for.
func (st *State) forecast(h *autoscalingv2.HorizontalPodAutoscaler, s autoscale.Settings, in Input, current int32, res hpa.ComputeResult, rec *recordingSource, cfg hpa.Config) *Forecast {
	f := &Forecast{}
	horizon := s.Predictive.Horizon
	if horizon == 0 {
		horizon = in.StartUp
	}
	if horizon <= 0 {
		horizon = DefaultStartUp
	}
	tol := hpa.TolerancesFor(h, cfg.Tolerance)
	keep := map[string]bool{}
	for i, p := range res.Proposals {
		if p == nil || i >= len(h.Spec.Metrics) {
			continue
		}
		key, demand, ok := demandOf(&h.Spec.Metrics[i], p, rec, in.Pods, in.Scale.Status.Replicas)
		if !ok {
			continue
		}
		keep[key] = true
		st.pred.Observe(key, demand, in.Now)
		// A decision now takes effect after the start-up time and holds
		// until the next one takes effect a sync period later; the metric
		// it is made from is the mean of a scrape window that ended up to a
		// resolution ago, so it lags by about one resolution.
		from := horizon + s.MetricResolution
		r := st.pred.Forecast(key, in.Now, from, from+s.SyncPeriod)
		if !r.OK {
			f.Reasons = append(f.Reasons, key+": "+r.Reason)
			continue
		}
		want := int32(math.Ceil(r.Demand - 1e-9))
		if current > 0 {
			if ratio := r.Demand / float64(current); ratio >= 1-tol.ScaleDown && ratio <= 1+tol.ScaleUp {
				want = current
			}
		}
		if want > f.Replicas {
			f.Replicas, f.Metric = want, key
		}
	}
	st.pred.Forget(keep)
	return f
}

// demandOf is a metric's demand in replicas: its usage ratio times the
// pods it was measured over, what the Kubernetes rule would scale to
// without tolerance. The key names the metric in the history.
func demandOf(spec *autoscalingv2.MetricSpec, p *hpa.Proposal, rec *recordingSource, pods []*corev1.Pod, statusReplicas int32) (key string, demand float64, ok bool) {
	st := p.Status
	ratio := func(cur, target float64) (float64, bool) {
		if target <= 0 {
			return 0, false
		}
		return cur / target, true
	}
	measured := func(m hpa.PodMetricsInfo) float64 {
		n := 0
		for _, pod := range pods {
			if _, has := m[pod.Name]; has && pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodFailed {
				n++
			}
		}
		return float64(n)
	}
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType:
		var name corev1.ResourceName
		var t autoscalingv2.MetricTarget
		var cur *autoscalingv2.MetricValueStatus
		if spec.Resource != nil && st.Resource != nil {
			name, t, cur = spec.Resource.Name, spec.Resource.Target, &st.Resource.Current
		} else if spec.ContainerResource != nil && st.ContainerResource != nil {
			name, t, cur = spec.ContainerResource.Name, spec.ContainerResource.Target, &st.ContainerResource.Current
		} else {
			return "", 0, false
		}
		key = "resource/" + string(name)
		var r float64
		if t.AverageUtilization != nil && cur.AverageUtilization != nil {
			r, ok = ratio(float64(*cur.AverageUtilization), float64(*t.AverageUtilization))
		} else if t.AverageValue != nil && cur.AverageValue != nil {
			r, ok = ratio(float64(cur.AverageValue.MilliValue()), float64(t.AverageValue.MilliValue()))
		}
		return key, r * measured(rec.resource[name]), ok
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil || st.Pods == nil || spec.Pods.Target.AverageValue == nil || st.Pods.Current.AverageValue == nil {
			return "", 0, false
		}
		key = "pods/" + spec.Pods.Metric.Name
		r, ok := ratio(float64(st.Pods.Current.AverageValue.MilliValue()), float64(spec.Pods.Target.AverageValue.MilliValue()))
		return key, r * measured(rec.pods[spec.Pods.Metric.Name]), ok
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil || st.Object == nil {
			return "", 0, false
		}
		key = "object/" + strings.ToLower(spec.Object.DescribedObject.Kind) + "/" + spec.Object.DescribedObject.Name + "/" + spec.Object.Metric.Name
		cur, t := st.Object.Current, spec.Object.Target
		switch {
		case t.AverageValue != nil && cur.AverageValue != nil:
			// The status holds the value divided over the target's
			// replicas; the demand is the whole value over the target.
			r, ok := ratio(float64(cur.AverageValue.MilliValue())*float64(statusReplicas), float64(t.AverageValue.MilliValue()))
			return key, r, ok
		case t.Value != nil && cur.Value != nil:
			r, ok := ratio(float64(cur.Value.MilliValue()), float64(t.Value.MilliValue()))
			return key, r * float64(p.ReadyPods), ok
		}
	}
	return "", 0, false
}

// recordingSource remembers the per-pod metrics it answered, which the
// demand of Resource and Pods metrics is computed from.
type recordingSource struct {
	hpa.MetricsSource
	resource map[corev1.ResourceName]hpa.PodMetricsInfo
	pods     map[string]hpa.PodMetricsInfo
}

// ResourceMetric implements hpa.MetricsSource.
func (r *recordingSource) ResourceMetric(ctx context.Context, res corev1.ResourceName, ns string, sel labels.Selector, container string) (hpa.PodMetricsInfo, time.Time, error) {
	m, t, err := r.MetricsSource.ResourceMetric(ctx, res, ns, sel, container)
	if err == nil {
		if r.resource == nil {
			r.resource = map[corev1.ResourceName]hpa.PodMetricsInfo{}
		}
		r.resource[res] = m
	}
	return m, t, err
}

// PodsMetric implements hpa.MetricsSource.
func (r *recordingSource) PodsMetric(ctx context.Context, name, ns string, sel, metricSel labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	m, t, err := r.MetricsSource.PodsMetric(ctx, name, ns, sel, metricSel)
	if err == nil {
		if r.pods == nil {
			r.pods = map[string]hpa.PodMetricsInfo{}
		}
		r.pods[name] = m
	}
	return m, t, err
}

// reference names an HPA's target like Kubernetes' messages do.
func reference(h *autoscalingv2.HorizontalPodAutoscaler) string {
	return fmt.Sprintf("%s/%s/%s", h.Spec.ScaleTargetRef.Kind, h.Namespace, h.Spec.ScaleTargetRef.Name)
}

// setCondition sets a condition of status, keeping its transition time
// when its status did not change.
func setCondition(s *autoscalingv2.HorizontalPodAutoscalerStatus, typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) {
	c := autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)}
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			if s.Conditions[i].Status == status {
				c.LastTransitionTime = s.Conditions[i].LastTransitionTime
			}
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}

// statusChanged reports whether the status must be written.
func statusChanged(old, cur *autoscalingv2.HorizontalPodAutoscalerStatus) bool {
	return !apiequality.Semantic.DeepEqual(old, cur)
}

// withoutFigures drops the digits of s.
func withoutFigures(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}
