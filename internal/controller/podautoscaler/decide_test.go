package podautoscaler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/hpa"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// fakeMetrics answers a Pods metric with the same value for every pod.
type fakeMetrics struct {
	perPod float64 // requests/s
	err    error
}

func (f *fakeMetrics) ResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (hpa.PodMetricsInfo, time.Time, error) {
	return nil, time.Time{}, errors.New("no resource metrics")
}

func (f *fakeMetrics) PodsMetric(_ context.Context, _, _ string, _, _ labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	if f.err != nil {
		return nil, time.Time{}, f.err
	}
	out := hpa.PodMetricsInfo{}
	for i := range 50 {
		out["p"+string(rune('a'+i))] = hpa.PodMetric{Timestamp: t0, Window: 15 * time.Second, Value: int64(f.perPod * 1000)}
	}
	return out, t0, nil
}

func (f *fakeMetrics) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("no object metrics")
}

func testHPA(ann map[string]string) *autoscalingv2.HorizontalPodAutoscaler {
	one := int32(1)
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 2, Annotations: ann},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &one, MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(10, resource.DecimalSI)},
			}}},
		},
	}
}

// testPods returns n ready pods named like fakeMetrics' ones.
func testPods(n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p" + string(rune('a'+i)), Namespace: "default", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour + 20*time.Second))},
			}},
		})
	}
	return out
}

func testScale(n int32) *autoscalingv1.Scale {
	return &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: n}, Status: autoscalingv1.ScaleStatus{Replicas: n, Selector: "app=web"}}
}

func cond(s autoscalingv2.HorizontalPodAutoscalerStatus, typ autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name        string
		hpa         *autoscalingv2.HorizontalPodAutoscaler
		scale       *autoscalingv1.Scale
		scaleErr    error
		pods        int
		perPod      float64
		metricErr   error
		wantDesired int32
		wantRescale bool
		wantReason  string
		wantCond    [3]string // AbleToScale, ScalingActive, ScalingLimited reasons
		wantEvent   string
	}{
		{name: "scale up", hpa: testHPA(nil), scale: testScale(2), pods: 2, perPod: 30, wantDesired: 4, wantRescale: true,
			wantReason: "pods metric requests_per_second above target", wantCond: [3]string{"SucceededRescale", "ValidMetricFound", "ScaleUpLimit"}, wantEvent: "SuccessfulRescale"},
		{name: "within tolerance", hpa: testHPA(nil), scale: testScale(3), pods: 3, perPod: 10.5, wantDesired: 3,
			wantCond: [3]string{"ReadyForNewScale", "ValidMetricFound", "DesiredWithinRange"}},
		{name: "above max", hpa: testHPA(nil), scale: testScale(12), pods: 12, perPod: 10, wantDesired: 10, wantRescale: true,
			wantReason: "Current number of replicas above Spec.MaxReplicas", wantCond: [3]string{"SucceededRescale", "", ""}, wantEvent: "SuccessfulRescale"},
		{name: "target scaled to zero", hpa: testHPA(nil), scale: testScale(0), wantDesired: 0,
			wantCond: [3]string{"SucceededGetScale", "ScalingDisabled", ""}},
		{name: "no scale subresource", hpa: testHPA(nil), scaleErr: errors.New(`no scale subresource for batch/v1, Resource=jobs`),
			wantCond: [3]string{"FailedGetScale", "", ""}, wantEvent: "FailedGetScale"},
		{name: "metrics unavailable", hpa: testHPA(nil), scale: testScale(2), pods: 2, metricErr: errors.New("the custom metrics API is down"), wantDesired: 0,
			wantCond: [3]string{"SucceededGetScale", "FailedGetPodsMetric", ""}, wantEvent: "FailedComputeMetricsReplicas"},
		{name: "bad annotation", hpa: testHPA(map[string]string{"berth.io/predictive-model": "arima"}), scale: testScale(2),
			wantCond: [3]string{"", "InvalidAnnotations", ""}, wantEvent: "InvalidAnnotations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			in := Input{HPA: tc.hpa, Scale: tc.scale, ScaleErr: tc.scaleErr, Pods: testPods(tc.pods), Metrics: &fakeMetrics{perPod: tc.perPod, err: tc.metricErr}, Now: t0}
			d := st.Decide(context.Background(), hpa.DefaultConfig(), in)
			if d.Rescale {
				st.Applied(tc.hpa, &d, nil, t0)
			}
			if d.Desired != tc.wantDesired || d.Rescale != tc.wantRescale || d.Reason != tc.wantReason {
				t.Errorf("desired %d rescale %v reason %q; want %d %v %q", d.Desired, d.Rescale, d.Reason, tc.wantDesired, tc.wantRescale, tc.wantReason)
			}
			for i, typ := range []autoscalingv2.HorizontalPodAutoscalerConditionType{autoscalingv2.AbleToScale, autoscalingv2.ScalingActive, autoscalingv2.ScalingLimited} {
				if got := cond(d.Status, typ).Reason; got != tc.wantCond[i] {
					t.Errorf("%s reason %q, want %q", typ, got, tc.wantCond[i])
				}
			}
			var events []string
			for _, e := range d.Events {
				events = append(events, e.Reason)
			}
			if got := strings.Join(events, ","); got != tc.wantEvent {
				t.Errorf("events %q, want %q", got, tc.wantEvent)
			}
			if d.Status.ObservedGeneration == nil || *d.Status.ObservedGeneration != 2 {
				t.Errorf("observedGeneration %v, want 2", d.Status.ObservedGeneration)
			}
			if tc.wantRescale && (d.Status.LastScaleTime == nil || d.Status.DesiredReplicas != tc.wantDesired) {
				t.Errorf("status after rescale: %+v", d.Status)
			}
		})
	}
}

func TestAppliedFailure(t *testing.T) {
	var st State
	h := testHPA(nil)
	d := st.Decide(context.Background(), hpa.DefaultConfig(), Input{HPA: h, Scale: testScale(2), Pods: testPods(2), Metrics: &fakeMetrics{perPod: 30}, Now: t0})
	st.Applied(h, &d, errors.New("conflict"), t0)
	if c := cond(d.Status, autoscalingv2.AbleToScale); c.Reason != "FailedUpdateScale" || c.Status != corev1.ConditionFalse {
		t.Fatalf("AbleToScale %+v, want False FailedUpdateScale", c)
	}
	if d.Status.DesiredReplicas != 2 || d.Status.LastScaleTime != nil {
		t.Fatalf("status %+v: a failed rescale must not be reported as done", d.Status)
	}
	if last := d.Events[len(d.Events)-1]; last.Reason != "FailedRescale" || !strings.Contains(last.Message, "New size: 4") {
		t.Fatalf("event %+v", last)
	}
}

// TestPredictiveScalesBeforeTheRule feeds a steadily rising load: the rule
// asks for what the load needs now, the linear forecast for what it will
// need once new pods are ready, and the forecast never lowers the count.
func TestPredictiveScalesBeforeTheRule(t *testing.T) {
	h := testHPA(map[string]string{"berth.io/predictive-model": "linear", "berth.io/hpa-sync-period": "15s"})
	var st State
	m := &fakeMetrics{}
	current := int32(2)
	used := false
	var reasons []string
	for i := 0; i < 40; i++ {
		now := t0.Add(time.Duration(i) * 15 * time.Second)
		total := 20 + float64(i)*2 // +2 requests/s every 15 s
		m.perPod = total / float64(current)
		d := st.Decide(context.Background(), hpa.DefaultConfig(), Input{HPA: h, Scale: testScale(current), Pods: testPods(int(current)), Metrics: m, StartUp: 30 * time.Second, Now: now})
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		if d.Forecast == nil {
			t.Fatal("a predictive HPA decided without a forecast")
		}
		for _, e := range d.Events {
			if strings.HasPrefix(e.Reason, "Forecast") {
				reasons = append(reasons, e.Reason)
			}
		}
		if d.Desired < d.Forecast.Reactive && d.Desired < current {
			t.Fatalf("step %d: desired %d below the rule's %d", i, d.Desired, d.Forecast.Reactive)
		}
		if d.Forecast.Used {
			used = true
			if d.Rescale && d.Desired > current && !strings.HasPrefix(d.Reason, "forecast of pods/requests_per_second") {
				t.Fatalf("step %d: reason %q", i, d.Reason)
			}
			// 45 s to 60 s ahead the load is 6 to 8 requests/s higher.
			if want := int32((total+6)/10 + 0.999); d.Forecast.Replicas < want {
				t.Fatalf("step %d: forecast %d replicas, want at least %d for the coming load", i, d.Forecast.Replicas, want)
			}
		}
		if d.Rescale {
			st.Applied(h, &d, nil, now)
			current = d.Desired
		}
	}
	if !used {
		t.Fatal("the forecast never asked for more than the rule on a rising load")
	}
	if got := strings.Join(reasons, ","); got != "ForecastIgnored,ForecastUsed" {
		t.Fatalf("forecast events %q, want one ForecastIgnored while the history was short, then ForecastUsed", got)
	}
	// The history serializes and restores into a fresh state.
	data, err := st.Predictor().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fresh State
	if err := fresh.RestoreHistory(data); err != nil {
		t.Fatal(err)
	}
	d := fresh.Decide(context.Background(), hpa.DefaultConfig(), Input{HPA: h, Scale: testScale(current), Pods: testPods(int(current)), Metrics: m, Now: t0.Add(10 * time.Minute)})
	if fresh.Predictor().Samples("pods/requests_per_second") < 4 || d.Forecast == nil {
		t.Fatalf("restored history has %d samples", fresh.Predictor().Samples("pods/requests_per_second"))
	}
	if err := fresh.RestoreHistory([]byte("not json")); err == nil {
		t.Fatal("a broken history was accepted")
	}
}

func TestMeasuredStartUp(t *testing.T) {
	mk := func(created, ready time.Duration, ok bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0.Add(created))}}
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s, LastTransitionTime: metav1.NewTime(t0.Add(ready))}}
		return p
	}
	pods := []*corev1.Pod{mk(0, 10*time.Second, true), mk(0, 30*time.Second, true), mk(0, 50*time.Second, true), mk(0, time.Hour, false)}
	if got := measuredStartUp(pods); got != 30*time.Second {
		t.Fatalf("start-up %s, want the median 30s", got)
	}
	if got := measuredStartUp(nil); got != 0 {
		t.Fatalf("start-up without pods %s, want 0", got)
	}
}

func TestDemandOf(t *testing.T) {
	q := func(v string) *resource.Quantity { x := resource.MustParse(v); return &x }
	pct := func(v int32) *int32 { return &v }
	three := hpa.PodMetricsInfo{"pa": {}, "pb": {}, "pc": {}}
	rec := &recordingSource{pods: map[string]hpa.PodMetricsInfo{"rps": three}, resource: map[corev1.ResourceName]hpa.PodMetricsInfo{corev1.ResourceCPU: three}}
	svc := autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Service", Name: "web"}
	tests := []struct {
		name   string
		spec   autoscalingv2.MetricSpec
		status autoscalingv2.MetricStatus
		key    string
		want   float64
	}{
		{"pods average", autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{AverageValue: q("10")}}},
			autoscalingv2.MetricStatus{Pods: &autoscalingv2.PodsMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("15")}}},
			"pods/rps", 4.5}, // 15/10 × 3 pods measured
		{"cpu utilization", autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{AverageUtilization: pct(50)}}},
			autoscalingv2.MetricStatus{Resource: &autoscalingv2.ResourceMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageUtilization: pct(100)}}},
			"resource/cpu", 6},
		{"object average", autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
			DescribedObject: svc, Metric: autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{AverageValue: q("5")}}},
			autoscalingv2.MetricStatus{Object: &autoscalingv2.ObjectMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("10")}}},
			"object/service/web/rps", 8}, // 10 × 4 replicas / 5
		{"object value", autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
			DescribedObject: svc, Metric: autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{Value: q("20")}}},
			autoscalingv2.MetricStatus{Object: &autoscalingv2.ObjectMetricStatus{Current: autoscalingv2.MetricValueStatus{Value: q("30")}}},
			"object/service/web/rps", 3}, // 30/20 × 2 ready pods
	}
	for _, tc := range tests {
		key, got, ok := demandOf(&tc.spec, &hpa.Proposal{Status: tc.status, ReadyPods: 2}, rec, testPods(3), 4)
		if !ok || key != tc.key || got != tc.want {
			t.Errorf("%s: %q %g %v, want %q %g", tc.name, key, got, ok, tc.key, tc.want)
		}
	}
}

func TestForecastHold(t *testing.T) {
	var st State
	for _, step := range []struct {
		after    time.Duration
		forecast int32
		want     int32
	}{
		{0, 5, 5},                 // a forecast asks for 5
		{30 * time.Second, 2, 5},  // it dropped: 5 is kept within the hold
		{45 * time.Second, 0, 5},  // no usable forecast: still held
		{61 * time.Second, 2, 2},  // the 5 is older than ForecastHold
		{200 * time.Second, 0, 0}, // nothing recent
	} {
		got, _ := st.hold(&Forecast{Replicas: step.forecast, Metric: "pods/m"}, t0.Add(step.after))
		if got != step.want {
			t.Fatalf("after %s with forecast %d: held %d, want %d", step.after, step.forecast, got, step.want)
		}
	}
}
