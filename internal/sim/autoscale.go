package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/autoscale/hpa"
	"github.com/berth-dev/berth/internal/autoscale/predict"
	"github.com/berth-dev/berth/internal/controller/podautoscaler"
	"github.com/berth-dev/berth/internal/sim/trace"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Policies are the autoscaling policies the simulator compares.
const (
	PolicyHPA        = "hpa"
	PolicyPredictive = "predictive"
)

// MetricName is the Pods metric the simulated HPA targets, as on a real
// cluster (the service proxy's requests per second per pod).
const MetricName = "requests_per_second"

// AutoscaleConfig is one simulation.
type AutoscaleConfig struct {
	// Trace is the demand to replay.
	Trace *trace.Trace
	// Policy is PolicyHPA (Kubernetes' rule) or PolicyPredictive.
	Policy string
	// StartUp is how long a new replica takes to become ready.
	StartUp time.Duration
	// Capacity is the requests per second one ready replica serves.
	Capacity float64
	// TargetUtilization is the share of Capacity the HPA targets per
	// replica (the Pods metric's target averageValue), in (0, 1].
	TargetUtilization float64
	// MinReplicas and MaxReplicas bound the HPA.
	MinReplicas, MaxReplicas int32
	// SyncPeriod and MetricResolution are the HPA's (defaults 15 s).
	SyncPeriod, MetricResolution time.Duration
	// Behavior is the HPA's spec.behavior (nil: Kubernetes' legacy
	// rules, as when a user sets none).
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
	// Predictive annotations (model, season, step, ...) for
	// PolicyPredictive; defaults: holt-winters, 24h season, 1m step.
	Predictive map[string]string
	// Warmup is the start of the trace that is replayed but not counted in
	// the figures (the predictive model's learning time; both policies are
	// scored on the same window).
	Warmup time.Duration
	// Step replays the trace as a step function (each point's demand
	// holds until the next); by default the demand is interpolated between
	// points (trace.Trace.Interpolate).
	Step bool
	// SampleEvery is the spacing of the plotted samples (default: one
	// per trace step, at least 1 minute).
	SampleEvery time.Duration
}

// Sample is one point of a simulation's time series.
type Sample struct {
	// At is seconds since the trace start.
	At float64 `json:"at"`
	// Demand is the trace's requests per second.
	Demand float64 `json:"demand"`
	// Ready and Replicas are the ready and requested replicas.
	Ready    int32 `json:"ready"`
	Replicas int32 `json:"replicas"`
}

// AutoscaleResult is the outcome of one simulation.
type AutoscaleResult struct {
	// Policy and Trace say what was simulated.
	Policy string `json:"policy"`
	Trace  string `json:"trace"`
	// EvaluatedHours is the scored window's length (after Warmup).
	EvaluatedHours float64 `json:"evaluated_hours"`
	// SLOViolationMinutes is the time demand exceeded ready capacity.
	SLOViolationMinutes float64 `json:"slo_violation_minutes"`
	// UnservedRequests is the demand above ready capacity, integrated.
	UnservedRequests float64 `json:"unserved_requests"`
	// ReplicaHours is the integral of requested replicas (starting ones
	// cost too).
	ReplicaHours float64 `json:"replica_hours"`
	// ScaleEvents counts rescales (up and down) in the scored window.
	ScaleEvents int `json:"scale_events"`
	// ScaleUps and ScaleDowns split ScaleEvents.
	ScaleUps   int `json:"scale_ups"`
	ScaleDowns int `json:"scale_downs"`
	// Flaps counts rescales that reversed the previous one within
	// FlapWindow (up then down, or down then up).
	Flaps int `json:"flaps"`
	// ForecastUsedPct is the share of decisions in which the forecast
	// asked for more than the reactive rule (predictive only).
	ForecastUsedPct float64 `json:"forecast_used_pct"`
	// Samples is the time series for the plot (not in the JSON line).
	Samples []Sample `json:"-"`
}

// simPod is one replica of the model.
type simPod struct {
	name    string
	created time.Time
	readyAt time.Time
}

// FlapWindow is how soon a reversed rescale counts as a flap.
const FlapWindow = time.Minute

// epoch is the simulated time of the trace's first point: a Monday
// midnight, so seasons line up with days.
var epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// validate fills defaults and checks cfg.
func (cfg *AutoscaleConfig) validate() error {
	if cfg.Trace == nil || len(cfg.Trace.Points) == 0 {
		return errors.New("sim: no trace")
	}
	if cfg.Policy != PolicyHPA && cfg.Policy != PolicyPredictive {
		return fmt.Errorf("sim: unknown policy %q: want %s or %s", cfg.Policy, PolicyHPA, PolicyPredictive)
	}
	if cfg.Capacity <= 0 {
		return fmt.Errorf("sim: capacity %g requests/s per replica is not positive", cfg.Capacity)
	}
	if cfg.TargetUtilization == 0 {
		cfg.TargetUtilization = 0.8
	}
	if cfg.TargetUtilization < 0 || cfg.TargetUtilization > 1 {
		return fmt.Errorf("sim: target utilization %g is outside (0, 1]", cfg.TargetUtilization)
	}
	if cfg.MinReplicas == 0 {
		cfg.MinReplicas = 1
	}
	if cfg.MaxReplicas == 0 {
		cfg.MaxReplicas = 1000
	}
	if cfg.MinReplicas < 0 || cfg.MaxReplicas < cfg.MinReplicas {
		return fmt.Errorf("sim: replicas bounds [%d, %d] are not valid", cfg.MinReplicas, cfg.MaxReplicas)
	}
	if cfg.StartUp < 0 {
		return fmt.Errorf("sim: start-up %s is negative", cfg.StartUp)
	}
	if cfg.SyncPeriod == 0 {
		cfg.SyncPeriod = autoscale.DefaultSyncPeriod
	}
	if cfg.MetricResolution == 0 {
		cfg.MetricResolution = autoscale.DefaultMetricResolution
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = max(time.Minute, time.Duration(cfg.Trace.Step()*float64(time.Second)))
	}
	if cfg.Warmup < 0 || cfg.Warmup.Seconds() >= cfg.Trace.Duration() {
		return fmt.Errorf("sim: warm-up %s leaves nothing of the %s trace to score", cfg.Warmup, time.Duration(cfg.Trace.Duration()*float64(time.Second)))
	}
	return nil
}

// HPA returns the autoscaler the simulation runs: a Pods metric
// requests_per_second with the target averageValue Capacity ×
// TargetUtilization, and the predictive annotations for PolicyPredictive.
func (cfg *AutoscaleConfig) HPA() *autoscalingv2.HorizontalPodAutoscaler {
	target := resource.NewMilliQuantity(int64(math.Round(cfg.Capacity*cfg.TargetUtilization*1000)), resource.DecimalSI)
	ann := map[string]string{
		autoscale.AnnotationSyncPeriod:       cfg.SyncPeriod.String(),
		autoscale.AnnotationMetricResolution: cfg.MetricResolution.String(),
	}
	if cfg.Policy == PolicyPredictive {
		ann[predict.AnnotationModel] = "holt-winters"
		for k, v := range cfg.Predictive {
			ann[k] = v
		}
	}
	min := cfg.MinReplicas
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "sim", Namespace: "default", Annotations: ann, Generation: 1},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "sim"},
			MinReplicas:    &min, MaxReplicas: cfg.MaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: MetricName},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: target},
			}}},
			Behavior: cfg.Behavior,
		},
	}
}

// model is the simulated Deployment and its metrics pipeline.
type model struct {
	cfg     *AutoscaleConfig
	pods    []*simPod
	next    int
	now     time.Time
	scraped time.Time // last scrape
	perPod  float64   // requests/s per ready pod at the last scrape
	readyAt map[string]bool
}

// ready counts the pods ready at now.
func (m *model) ready(now time.Time) int32 {
	n := int32(0)
	for _, p := range m.pods {
		if !now.Before(p.readyAt) {
			n++
		}
	}
	return n
}

// scale sets the replica count: new pods start, surplus pods go (the
// newest, not yet ready first, as a ReplicaSet chooses).
func (m *model) scale(n int32, now time.Time) {
	for int32(len(m.pods)) < n {
		m.next++
		m.pods = append(m.pods, &simPod{name: "sim-" + strconv.Itoa(m.next), created: now, readyAt: now.Add(m.cfg.StartUp)})
	}
	if int32(len(m.pods)) > n {
		m.pods = m.pods[:n] // pods are kept oldest first
	}
}

// Pods returns the pods as the controller would list them.
func (m *model) Pods(now time.Time) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(m.pods))
	for _, p := range m.pods {
		ready, since := corev1.ConditionFalse, p.created
		if !now.Before(p.readyAt) {
			ready, since = corev1.ConditionTrue, p.readyAt
		}
		start := metav1.NewTime(p.created)
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "default", CreationTimestamp: metav1.NewTime(p.created), Labels: map[string]string{"app": "sim"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &start, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(since)},
			}},
		})
	}
	return out
}

// ResourceMetric implements hpa.MetricsSource: the model has no cpu.
func (m *model) ResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (hpa.PodMetricsInfo, time.Time, error) {
	return nil, time.Time{}, errors.New("sim: the model has no resource metrics")
}

// PodsMetric implements hpa.MetricsSource: each ready pod serves an equal
// share of the demand averaged over the last scrape window, as the service
// proxy reports it.
func (m *model) PodsMetric(_ context.Context, name, _ string, _, _ labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	if name != MetricName {
		return nil, time.Time{}, fmt.Errorf("sim: no metric %q", name)
	}
	out := hpa.PodMetricsInfo{}
	for _, p := range m.pods {
		if !m.scraped.Before(p.readyAt) {
			out[p.name] = hpa.PodMetric{Timestamp: m.scraped, Window: m.cfg.MetricResolution, Value: int64(math.Round(m.perPod * 1000))}
		}
	}
	if len(out) == 0 {
		return nil, time.Time{}, errors.New("sim: no metrics returned from custom metrics API")
	}
	return out, m.scraped, nil
}

// ObjectMetric implements hpa.MetricsSource: the model has none.
func (m *model) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("sim: the model has no object metrics")
}

// RunAutoscale replays cfg.Trace second by second: the metrics pipeline
// scrapes every MetricResolution (the mean demand of the window divided
// over the ready replicas), the controller's decision runs every
// SyncPeriod, and each second scores demand against ready capacity.
func RunAutoscale(ctx context.Context, cfg AutoscaleConfig) (*AutoscaleResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := cfg.HPA()
	if _, err := autoscale.ParseSettings(h.Annotations); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	res := &AutoscaleResult{Policy: cfg.Policy, Trace: cfg.Trace.Name}
	m := &model{cfg: &cfg}
	var st podautoscaler.State
	hcfg := hpa.DefaultConfig()
	end := int(math.Ceil(cfg.Trace.Duration()))
	warm := int(cfg.Warmup.Seconds())
	syncEvery, scrapeEvery := int(cfg.SyncPeriod.Seconds()), int(cfg.MetricResolution.Seconds())
	sampleEvery := int(cfg.SampleEvery.Seconds())
	// Start where the first demand is served: the initial replicas are ready.
	first := int32(math.Ceil(cfg.Trace.Points[0].RPS / (cfg.Capacity * cfg.TargetUtilization)))
	m.scale(max(cfg.MinReplicas, min(first, cfg.MaxReplicas)), epoch.Add(-cfg.StartUp))
	interpolate := cfg.Trace.Interpolator()
	var windowSum float64
	decisions, forecastWins := 0, 0
	lastDir, lastAt := 0, -1<<31 // direction (+1 up, -1 down) and second of the last rescale
	for s := 0; s < end; s++ {
		if s%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		now := epoch.Add(time.Duration(s) * time.Second)
		demand := interpolate(float64(s))
		if cfg.Step {
			demand = cfg.Trace.At(float64(s))
		}
		windowSum += demand
		if (s+1)%scrapeEvery == 0 {
			m.scraped = now.Add(time.Second)
			if r := m.ready(m.scraped); r > 0 {
				m.perPod = windowSum / float64(scrapeEvery) / float64(r)
			}
			windowSum = 0
		}
		if s%syncEvery == 0 && s > 0 {
			scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: int32(len(m.pods))},
				Status: autoscalingv1.ScaleStatus{Replicas: int32(len(m.pods)), Selector: "app=sim"}}
			d := st.Decide(ctx, hcfg, podautoscaler.Input{HPA: h, Scale: scale, Pods: m.Pods(now), Metrics: m, StartUp: cfg.StartUp, Now: now})
			if d.Rescale && d.Err == nil {
				m.scale(d.Desired, now)
				st.Applied(h, &d, nil, now)
				dir := 1
				if d.Desired < d.Current {
					dir = -1
				}
				if s >= warm {
					res.ScaleEvents++
					if dir > 0 {
						res.ScaleUps++
					} else {
						res.ScaleDowns++
					}
					if dir != lastDir && s-lastAt < int(FlapWindow.Seconds()) {
						res.Flaps++
					}
				}
				lastDir, lastAt = dir, s
			}
			h.Status = d.Status
			if s >= warm {
				decisions++
				if d.Forecast != nil && d.Forecast.Used {
					forecastWins++
				}
			}
		}
		ready := m.ready(now)
		if s >= warm {
			if over := demand - float64(ready)*cfg.Capacity; over > 1e-9 {
				res.SLOViolationMinutes += 1.0 / 60
				res.UnservedRequests += over
			}
			res.ReplicaHours += float64(len(m.pods)) / 3600
		}
		if s%sampleEvery == 0 {
			res.Samples = append(res.Samples, Sample{At: float64(s), Demand: demand, Ready: ready, Replicas: int32(len(m.pods))})
		}
	}
	res.EvaluatedHours = float64(end-warm) / 3600
	if decisions > 0 {
		res.ForecastUsedPct = 100 * float64(forecastWins) / float64(decisions)
	}
	return res, nil
}
