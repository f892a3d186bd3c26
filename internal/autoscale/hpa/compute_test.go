package hpa

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// testNow is the virtual "now" of every test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testConfig uses the values of Kubernetes' replica calculator tests.
var testConfig = Config{
	Tolerance:                     0.1,
	CPUInitializationPeriod:       2 * time.Minute,
	DelayOfInitialReadinessStatus: 10 * time.Second,
	DownscaleStabilizationWindow:  5 * time.Minute,
}

const testNamespace = "ns"

var testSelector = labels.SelectorFromSet(labels.Set{"app": "web"})

// fakeSource is a MetricsSource over fixed values.
type fakeSource struct {
	// resource maps a pod to its per-container usage (container1,
	// container2, ...), in milli-units.
	resource    map[string][]int64
	resourceErr error
	// sampleAt and window are the samples' timestamp (default testNow) and
	// window (default 1m).
	sampleAt time.Time
	window   time.Duration

	podsMetric map[string]int64
	podsErr    error

	object    int64
	objectErr error

	// calls records the calls, e.g. "resource cpu container2".
	calls []string
}

func (f *fakeSource) sample(v int64) PodMetric {
	ts, w := f.sampleAt, f.window
	if ts.IsZero() {
		ts = testNow
	}
	if w == 0 {
		w = time.Minute
	}
	return PodMetric{Timestamp: ts, Window: w, Value: v}
}

func (f *fakeSource) ResourceMetric(_ context.Context, res corev1.ResourceName, namespace string, selector labels.Selector, container string) (PodMetricsInfo, time.Time, error) {
	f.calls = append(f.calls, strings.TrimSpace(fmt.Sprintf("resource %s %s", res, container)))
	if namespace != testNamespace || selector.String() != testSelector.String() {
		return nil, time.Time{}, fmt.Errorf("unexpected namespace %q or selector %q", namespace, selector)
	}
	if f.resourceErr != nil {
		return nil, time.Time{}, f.resourceErr
	}
	out := PodMetricsInfo{}
	for pod, levels := range f.resource {
		var sum int64
		found := container == ""
		for i, v := range levels {
			if container == "" {
				sum += v
			} else if container == fmt.Sprintf("container%d", i+1) {
				sum, found = v, true
			}
		}
		if found {
			out[pod] = f.sample(sum)
		}
	}
	return out, testNow, nil
}

func (f *fakeSource) PodsMetric(_ context.Context, metricName, namespace string, selector, metricSelector labels.Selector) (PodMetricsInfo, time.Time, error) {
	f.calls = append(f.calls, fmt.Sprintf("pods %s %s", metricName, metricSelector))
	if f.podsErr != nil {
		return nil, time.Time{}, f.podsErr
	}
	out := PodMetricsInfo{}
	for pod, v := range f.podsMetric {
		out[pod] = f.sample(v)
	}
	return out, testNow, nil
}

func (f *fakeSource) ObjectMetric(_ context.Context, metricName, namespace string, ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error) {
	f.calls = append(f.calls, fmt.Sprintf("object %s %s/%s", metricName, ref.Kind, ref.Name))
	if f.objectErr != nil {
		return 0, time.Time{}, f.objectErr
	}
	return f.object, testNow, nil
}

// perPod gives each pod p0, p1, ... the same usage in both containers.
func perPod(levels ...int64) map[string][]int64 {
	out := map[string][]int64{}
	for i, l := range levels {
		out[fmt.Sprintf("p%d", i)] = []int64{l, l}
	}
	return out
}

// podValues gives pods p0, p1, ... a Pods metric value each.
func podValues(values ...int64) map[string]int64 {
	out := map[string]int64{}
	for i, v := range values {
		out[fmt.Sprintf("p%d", i)] = v
	}
	return out
}

// podOpt changes the pods at the given indexes.
type podOpt func(pods []*corev1.Pod)

func at(idx []int, f func(p *corev1.Pod)) podOpt {
	return func(pods []*corev1.Pod) {
		for _, i := range idx {
			f(pods[i])
		}
	}
}

// neverReady: not ready since its start (within the readiness delay).
func neverReady(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.Conditions[0].LastTransitionTime = *p.Status.StartTime
	})
}

// becameUnready: was ready, turned unready long after its start.
func becameUnready(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(testNow.Add(-9 * time.Minute))
	})
}

// readySoonAfterStart: became ready 5s after its start, 10 minutes ago.
func readySoonAfterStart(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(p.Status.StartTime.Add(5 * time.Second))
	})
}

// hot: started 30s ago, ready for 20s (its 1m sample predates readiness).
func hot(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.StartTime = &metav1.Time{Time: testNow.Add(-30 * time.Second)}
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(testNow.Add(-20 * time.Second))
	})
}

// hotNotReady: started 30s ago and not ready.
func hotNotReady(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.StartTime = &metav1.Time{Time: testNow.Add(-30 * time.Second)}
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(testNow.Add(-30 * time.Second))
	})
}

// warm: started 100s ago (within the initialization period), ready for 90s
// (more than the 1m window).
func warm(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.StartTime = &metav1.Time{Time: testNow.Add(-100 * time.Second)}
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(testNow.Add(-90 * time.Second))
	})
}

func phase(ph corev1.PodPhase, idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		p.Status.Phase = ph
		if ph != corev1.PodRunning {
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}
	})
}

func deleting(idx ...int) podOpt {
	return at(idx, func(p *corev1.Pod) {
		t := metav1.NewTime(testNow)
		p.DeletionTimestamp = &t
		p.Status.Conditions[0].Status = corev1.ConditionFalse
	})
}

// requests sets each pod's per-container cpu request ("" = none).
func requests(res corev1.ResourceName, qs ...string) podOpt {
	return func(pods []*corev1.Pod) {
		for i, q := range qs {
			for c := range pods[i].Spec.Containers {
				if q == "" {
					pods[i].Spec.Containers[c].Resources.Requests = nil
					continue
				}
				pods[i].Spec.Containers[c].Resources.Requests = corev1.ResourceList{res: resource.MustParse(q)}
			}
		}
	}
}

// mkPods makes n running, ready pods p0..p(n-1), started 10 minutes ago,
// with two containers each requesting 1 cpu and 1 (milli: 1000) memory.
func mkPods(n int, opts ...podOpt) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1")}
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: testNamespace, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "container1", Resources: corev1.ResourceRequirements{Requests: req.DeepCopy()}},
				{Name: "container2", Resources: corev1.ResourceRequirements{Requests: req.DeepCopy()}},
			}},
			Status: corev1.PodStatus{
				Phase:     corev1.PodRunning,
				StartTime: &metav1.Time{Time: testNow.Add(-10 * time.Minute)},
				Conditions: []corev1.PodCondition{{
					Type:               corev1.PodReady,
					Status:             corev1.ConditionTrue,
					LastTransitionTime: metav1.NewTime(testNow.Add(-9 * time.Minute)),
				}},
			},
		}
	}
	for _, o := range opts {
		o(pods)
	}
	return pods
}

func utilizationSpec(res corev1.ResourceName, target int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: res, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target},
	}}
}

func cpuUtilization(target int32) autoscalingv2.MetricSpec {
	return utilizationSpec(corev1.ResourceCPU, target)
}

func containerCPUUtilization(container string, target int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
		Name: corev1.ResourceCPU, Container: container, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target},
	}}
}

func cpuAverageValue(q string) autoscalingv2.MetricSpec {
	v := resource.MustParse(q)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &v},
	}}
}

func podsAverage(name, q string) autoscalingv2.MetricSpec {
	v := resource.MustParse(q)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &v},
	}}
}

var deployment = autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", APIVersion: "apps/v1", Name: "some-deployment"}

func objectValue(name, q string) autoscalingv2.MetricSpec {
	v := resource.MustParse(q)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: deployment,
		Metric:          autoscalingv2.MetricIdentifier{Name: name},
		Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &v},
	}}
}

func objectAverage(name, q string) autoscalingv2.MetricSpec {
	v := resource.MustParse(q)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: deployment,
		Metric:          autoscalingv2.MetricIdentifier{Name: name},
		Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &v},
	}}
}

func externalValue(name, q string) autoscalingv2.MetricSpec {
	v := resource.MustParse(q)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &v},
	}}
}

func mkHPA(behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, metrics ...autoscalingv2.MetricSpec) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNamespace},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: deployment,
			MaxReplicas:    100,
			Metrics:        metrics,
			Behavior:       behavior,
		},
	}
}

func tolerance(up, down string) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{}, ScaleDown: &autoscalingv2.HPAScalingRules{}}
	if up != "" {
		q := resource.MustParse(up)
		b.ScaleUp.Tolerance = &q
	}
	if down != "" {
		q := resource.MustParse(down)
		b.ScaleDown.Tolerance = &q
	}
	return b
}

// current returns a metric status's current utilization (-1 if unset) and
// value (AverageValue, else Value) in milli-units.
func current(s autoscalingv2.MetricStatus) (utilization int32, value int64) {
	var c autoscalingv2.MetricValueStatus
	switch {
	case s.Resource != nil:
		c = s.Resource.Current
	case s.ContainerResource != nil:
		c = s.ContainerResource.Current
	case s.Pods != nil:
		c = s.Pods.Current
	case s.Object != nil:
		c = s.Object.Current
	}
	utilization = -1
	if c.AverageUtilization != nil {
		utilization = *c.AverageUtilization
	}
	switch {
	case c.AverageValue != nil:
		value = c.AverageValue.MilliValue()
	case c.Value != nil:
		value = c.Value.MilliValue()
	}
	return utilization, value
}

// TestReplicaCalculation reproduces the cases of Kubernetes' replica
// calculator tests through ComputeReplicas with one metric.
func TestReplicaCalculation(t *testing.T) {
	type tc struct {
		name           string
		current        int32
		statusReplicas int32
		pods           []*corev1.Pod
		metric         autoscalingv2.MetricSpec
		behavior       *autoscalingv2.HorizontalPodAutoscalerBehavior
		src            fakeSource

		want            int32
		wantUtilization int32 // -1: no utilization in the status
		wantValue       int64
		wantReady       int32
		wantErr         string
		wantReason      string
		wantCalls       []string
	}
	cases := []tc{
		// Resource utilization.
		{name: "cpu scale up", current: 3, pods: mkPods(3), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: 50, wantValue: 1000, wantReady: 3, wantCalls: []string{"resource cpu"}},
		{name: "cpu scale down", current: 5, pods: mkPods(5), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 300, 500, 250, 250)},
			want: 3, wantUtilization: 28, wantValue: 560, wantReady: 5},
		{name: "container cpu scale up uses only that container's usage and request", current: 3, pods: mkPods(3), metric: containerCPUUtilization("container2", 30),
			src:  fakeSource{resource: map[string][]int64{"p0": {1000, 300}, "p1": {1000, 500}, "p2": {1000, 700}}},
			want: 5, wantUtilization: 50, wantValue: 500, wantReady: 3, wantCalls: []string{"resource cpu container2"}},
		{name: "container cpu scale down", current: 5, pods: mkPods(5), metric: containerCPUUtilization("container2", 50),
			src:  fakeSource{resource: map[string][]int64{"p0": {1000, 100}, "p1": {1000, 300}, "p2": {1000, 500}, "p3": {1000, 250}, "p4": {1000, 250}}},
			want: 3, wantUtilization: 28, wantValue: 280, wantReady: 5},
		{name: "within tolerance no change", current: 3, pods: mkPods(3, requests(corev1.ResourceCPU, "900m", "1", "1100m")), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(1010, 1030, 1020)},
			want: 3, wantUtilization: 102, wantValue: 2040, wantReady: 3},
		{name: "per-HPA scale-up tolerance 1%", current: 3, pods: mkPods(3, requests(corev1.ResourceCPU, "900m", "1", "1100m")), metric: cpuUtilization(100),
			behavior: tolerance("10m", ""),
			src:      fakeSource{resource: perPod(1010, 1030, 1020)},
			want:     4, wantUtilization: 102, wantValue: 2040, wantReady: 3},
		{name: "default tolerance keeps 90%", current: 10, pods: mkPods(10), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(900, 900, 900, 900, 900, 900, 900, 900, 900, 900)},
			want: 10, wantUtilization: 90, wantValue: 1800, wantReady: 10},
		{name: "per-HPA scale-down tolerance 5% scales 90% down", current: 10, pods: mkPods(10), metric: cpuUtilization(100),
			behavior: tolerance("", "50m"),
			src:      fakeSource{resource: perPod(900, 900, 900, 900, 900, 900, 900, 900, 900, 900)},
			want:     9, wantUtilization: 90, wantValue: 1800, wantReady: 10},
		{name: "superfluous metrics of unlisted pods are ignored", current: 4, pods: mkPods(4), metric: cpuUtilization(100),
			src:  fakeSource{resource: map[string][]int64{"p0": {4000, 4000}, "p1": {9500, 9500}, "p2": {3000, 3000}, "p3": {7000, 7000}, "other-1": {3200, 3200}, "other-2": {2000, 2000}}},
			want: 24, wantUtilization: 587, wantValue: 11750, wantReady: 4},

		// Unready pods (CPU initialization period, readiness delay).
		{name: "scale up with never-ready pod counts it as idle", current: 3, pods: mkPods(3, neverReady(0)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 4, wantUtilization: 60, wantValue: 1200, wantReady: 2},
		{name: "scale up with hot cpu pod (sample predates readiness)", current: 3, pods: mkPods(3, hot(0)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 4, wantUtilization: 60, wantValue: 1200, wantReady: 2},
		{name: "container scale up with hot cpu pod", current: 3, pods: mkPods(3, hot(0)), metric: containerCPUUtilization("container2", 30),
			src:  fakeSource{resource: map[string][]int64{"p0": {0, 300}, "p1": {0, 500}, "p2": {0, 700}}},
			want: 4, wantUtilization: 60, wantValue: 600, wantReady: 2},
		{name: "unready pods would reverse the scale up: no change", current: 3, pods: mkPods(3, neverReady(1, 2)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(400, 500, 700)},
			want: 3, wantUtilization: 40, wantValue: 800, wantReady: 1},
		{name: "hot unready pods would reverse the scale up: no change", current: 3, pods: mkPods(3, hotNotReady(1, 2)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(400, 500, 700)},
			want: 3, wantUtilization: 40, wantValue: 800, wantReady: 1},
		{name: "scale down excludes unready pods", current: 5, pods: mkPods(5, neverReady(3, 4)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 300, 500, 250, 250)},
			want: 2, wantUtilization: 30, wantValue: 600, wantReady: 3},
		{name: "scale down ignores hot cpu pods", current: 5, pods: mkPods(5, hot(3, 4)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 300, 500, 250, 250)},
			want: 2, wantUtilization: 30, wantValue: 600, wantReady: 3},
		{name: "pod that turned unready after the readiness delay still counts", current: 3, pods: mkPods(3, becameUnready(0)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: 50, wantValue: 1000, wantReady: 3},
		{name: "pod ready within the readiness delay of its start counts", current: 3, pods: mkPods(3, readySoonAfterStart(0)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: 50, wantValue: 1000, wantReady: 3},
		{name: "pod in initialization period with a sample a full window after readiness counts", current: 3, pods: mkPods(3, warm(0)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: 50, wantValue: 1000, wantReady: 3},
		{name: "memory has no initialization rules: unready pod counts", current: 3, pods: mkPods(3, neverReady(0)), metric: utilizationSpec(corev1.ResourceMemory, 30),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: 50, wantValue: 1000, wantReady: 3, wantCalls: []string{"resource memory"}},

		// Pending, failed and deleting pods.
		{name: "scale down excludes pending pods", current: 5, pods: mkPods(5, phase(corev1.PodPending, 1, 2, 3, 4)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100)},
			want: 1, wantUtilization: 10, wantValue: 200, wantReady: 1},
		{name: "scale up ignores failed pods", current: 2, pods: mkPods(4, phase(corev1.PodFailed, 2, 3)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(500, 700)},
			want: 4, wantUtilization: 60, wantValue: 1200, wantReady: 2},
		{name: "scale up ignores deleting pods", current: 2, pods: mkPods(4, deleting(2, 3)), metric: cpuUtilization(30),
			src:  fakeSource{resource: perPod(500, 700)},
			want: 4, wantUtilization: 60, wantValue: 1200, wantReady: 2},
		{name: "scale down ignores failed pods", current: 5, pods: mkPods(7, phase(corev1.PodFailed, 5, 6)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 300, 500, 250, 250)},
			want: 3, wantUtilization: 28, wantValue: 560, wantReady: 5},
		{name: "scale down ignores deleting pods with samples", current: 5, pods: mkPods(7, deleting(5, 6)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 300, 500, 250, 250, 9000, 9000)},
			want: 3, wantUtilization: 28, wantValue: 560, wantReady: 5},

		// Missing metrics.
		{name: "missing metrics on scale down count as 100% of request", current: 4, pods: mkPods(4), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(400, 95)},
			want: 3, wantUtilization: 24, wantValue: 495, wantReady: 2},
		{name: "missing metrics at target: no change", current: 2, pods: mkPods(2), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(1000)},
			want: 2, wantUtilization: 100, wantValue: 2000, wantReady: 1},
		{name: "missing metrics on scale up count as 0 and fall within tolerance", current: 2, pods: mkPods(2), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(1900)},
			want: 2, wantUtilization: 190, wantValue: 3800, wantReady: 1},
		{name: "missing metrics soften the scale down", current: 2, pods: mkPods(2), metric: cpuUtilization(100),
			src:  fakeSource{resource: perPod(600)},
			want: 2, wantUtilization: 60, wantValue: 1200, wantReady: 1},
		{name: "missing and unready pods reverse the scale down: no change", current: 3, pods: mkPods(3, neverReady(0)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 450)},
			want: 3, wantUtilization: 45, wantValue: 900, wantReady: 1},
		{name: "missing and unready pods on scale up", current: 3, pods: mkPods(3, neverReady(0)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 2000)},
			want: 4, wantUtilization: 200, wantValue: 4000, wantReady: 1},
		{name: "missing and hot pods on scale up", current: 3, pods: mkPods(3, hotNotReady(0)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 2000)},
			want: 4, wantUtilization: 200, wantValue: 4000, wantReady: 1},
		{name: "missing and unready pods on scale down", current: 4, pods: mkPods(4, neverReady(0)), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 100, 100)},
			want: 3, wantUtilization: 10, wantValue: 200, wantReady: 2},
		{name: "missing metrics with a target over 100% count as the target", current: 4,
			pods: mkPods(4, neverReady(0), requests(corev1.ResourceCPU, "1", "1", "2", "2")), metric: cpuUtilization(300),
			src:  fakeSource{resource: perPod(200, 100, 100)},
			want: 2, wantUtilization: 6, wantValue: 200, wantReady: 2},
		{name: "rolling update with max surge: no scale up on a scale down", current: 2, pods: mkPods(3), metric: cpuUtilization(50),
			src:  fakeSource{resource: perPod(100, 100)},
			want: 2, wantUtilization: 10, wantValue: 200, wantReady: 2},

		// Errors.
		{name: "missing request", current: 1, pods: mkPods(1, requests(corev1.ResourceCPU, "")), metric: cpuUtilization(100),
			src:     fakeSource{resource: perPod(200)},
			wantErr: "failed to get cpu resource metric value: failed to get cpu utilization: missing request for cpu in container container1 of Pod p0", wantReason: ReasonFailedGetResourceMetric},
		{name: "named container not in the pod", current: 1, pods: mkPods(1), metric: containerCPUUtilization("container3", 50),
			src:     fakeSource{resource: map[string][]int64{"p0": {100, 100, 100}}},
			wantErr: "failed to get container3 container metric value: failed to get cpu utilization: container container3 not found in Pod p0", wantReason: ReasonFailedGetContainerResourceMetric},
		{name: "no sample for a ready pod", current: 2, pods: mkPods(2, phase(corev1.PodPending, 0, 1)), metric: cpuUtilization(50),
			src:     fakeSource{resource: perPod(100, 100)},
			wantErr: "failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)", wantReason: ReasonFailedGetResourceMetric},
		{name: "no pods", current: 2, pods: nil, metric: cpuUtilization(50),
			src:     fakeSource{resource: perPod(100, 100)},
			wantErr: "no pods returned by selector while calculating replica count", wantReason: ReasonFailedGetResourceMetric},
		{name: "samples of other pods only", current: 1, pods: mkPods(1), metric: cpuUtilization(100),
			src:     fakeSource{resource: map[string][]int64{"an-older-pod": {100, 100}}},
			wantErr: "no metrics returned matched known pods", wantReason: ReasonFailedGetResourceMetric},
		{name: "metrics API error", current: 3, pods: mkPods(3), metric: cpuUtilization(50),
			src:     fakeSource{resourceErr: errors.New("boom")},
			wantErr: "failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: boom", wantReason: ReasonFailedGetResourceMetric},

		// Resource AverageValue (raw).
		{name: "cpu average value scale up", current: 3, pods: mkPods(3), metric: cpuAverageValue("500m"),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 6, wantUtilization: -1, wantValue: 1000, wantReady: 3},
		{name: "cpu average value keeps cpu initialization rules", current: 3, pods: mkPods(3, hot(0)), metric: cpuAverageValue("500m"),
			src:  fakeSource{resource: perPod(300, 500, 700)},
			want: 5, wantUtilization: -1, wantValue: 1200, wantReady: 2},
		{name: "cpu average value scale down with missing pod at target", current: 4, pods: mkPods(4), metric: cpuAverageValue("1"),
			src:  fakeSource{resource: perPod(100, 100, 100)},
			want: 2, wantUtilization: -1, wantValue: 200, wantReady: 3},

		// Pods metrics.
		{name: "pods metric scale up", current: 3, pods: mkPods(3), metric: podsAverage("qps", "15"),
			src:  fakeSource{podsMetric: podValues(20000, 10000, 30000)},
			want: 4, wantUtilization: -1, wantValue: 20000, wantReady: 3, wantCalls: []string{"pods qps "}},
		{name: "pods metric has no cpu rules: unready pods count", current: 3, pods: mkPods(3, hotNotReady(2)), metric: podsAverage("qps", "15"),
			src:  fakeSource{podsMetric: podValues(50000, 10000, 30000)},
			want: 6, wantUtilization: -1, wantValue: 30000, wantReady: 3},
		{name: "pods metric with unready pods would scale down: no less scale", current: 3, pods: mkPods(3, hotNotReady(0, 2)), metric: podsAverage("qps", "15"),
			src:  fakeSource{podsMetric: podValues(50000, 15000, 30000)},
			want: 7, wantUtilization: -1, wantValue: 31666, wantReady: 3},
		{name: "pods metric pending pod counts as 0 on scale up", current: 3, pods: mkPods(3, phase(corev1.PodPending, 2)), metric: podsAverage("qps", "15"),
			src:  fakeSource{podsMetric: podValues(30000, 30000)},
			want: 4, wantUtilization: -1, wantValue: 30000, wantReady: 2},
		{name: "pods metric scale down", current: 5, pods: mkPods(5), metric: podsAverage("qps", "20"),
			src:  fakeSource{podsMetric: podValues(12000, 12000, 12000, 12000, 12000)},
			want: 3, wantUtilization: -1, wantValue: 12000, wantReady: 5},
		{name: "pods metric within tolerance", current: 3, pods: mkPods(3), metric: podsAverage("qps", "20"),
			src:  fakeSource{podsMetric: podValues(20000, 21000, 21000)},
			want: 3, wantUtilization: -1, wantValue: 20666, wantReady: 3},
		{name: "pods metric missing pods at target: no change", current: 5, pods: mkPods(5), metric: podsAverage("qps", "20"),
			src:  fakeSource{podsMetric: podValues(20000, 19000, 21000)},
			want: 5, wantUtilization: -1, wantValue: 20000, wantReady: 3},
		{name: "pods metric rolling update with max surge", current: 2, pods: mkPods(3), metric: podsAverage("qps", "17"),
			src:  fakeSource{podsMetric: podValues(10000, 10000)},
			want: 2, wantUtilization: -1, wantValue: 10000, wantReady: 2},
		{name: "pods metric API error", current: 3, pods: mkPods(3), metric: podsAverage("qps", "15"),
			src:     fakeSource{podsErr: errors.New("boom")},
			wantErr: "failed to get pods metric value: unable to get metric qps: boom", wantReason: ReasonFailedGetPodsMetric},

		// Object metrics.
		{name: "object value scale up", current: 3, pods: mkPods(3), metric: objectValue("qps", "15"),
			src:  fakeSource{object: 20000},
			want: 4, wantUtilization: -1, wantValue: 20000, wantReady: 3, wantCalls: []string{"object qps Deployment/some-deployment"}},
		{name: "object value counts only ready pods", current: 3, pods: mkPods(3, neverReady(0, 2)), metric: objectValue("qps", "10"),
			src:  fakeSource{object: 50000},
			want: 5, wantUtilization: -1, wantValue: 50000, wantReady: 1},
		{name: "object value scale down", current: 5, pods: mkPods(5), metric: objectValue("qps", "20"),
			src:  fakeSource{object: 12000},
			want: 3, wantUtilization: -1, wantValue: 12000, wantReady: 5},
		{name: "object value within tolerance", current: 3, pods: mkPods(3), metric: objectValue("qps", "20"),
			src:  fakeSource{object: 20666},
			want: 3, wantUtilization: -1, wantValue: 20666, wantReady: 0},
		{name: "object average value scale up", current: 3, statusReplicas: 3, pods: mkPods(3), metric: objectAverage("qps", "5"),
			src:  fakeSource{object: 20000},
			want: 4, wantUtilization: -1, wantValue: 6667},
		{name: "object average value scale down", current: 5, statusReplicas: 5, pods: mkPods(5), metric: objectAverage("qps", "2"),
			src:  fakeSource{object: 6000},
			want: 3, wantUtilization: -1, wantValue: 1200},
		{name: "object average value within tolerance", current: 4, statusReplicas: 4, pods: mkPods(4), metric: objectAverage("qps", "5"),
			src:  fakeSource{object: 20166},
			want: 4, wantUtilization: -1, wantValue: 5042},
		{name: "object average value divides by status replicas", current: 4, statusReplicas: 5, pods: mkPods(5), metric: objectAverage("qps", "5"),
			src:  fakeSource{object: 30000},
			want: 6, wantUtilization: -1, wantValue: 6000},
		{name: "object metric API error", current: 3, pods: mkPods(3), metric: objectValue("qps", "20"),
			src:     fakeSource{objectErr: errors.New("boom")},
			wantErr: "failed to get object metric value: unable to get metric qps on Deployment ns/some-deployment: boom", wantReason: ReasonFailedGetObjectMetric},

		// External metrics.
		{name: "external metrics are not supported", current: 3, pods: mkPods(3), metric: externalValue("queue", "10"),
			wantErr: "failed to get queue external metric value: external metric queue: external metrics are not supported", wantReason: ReasonInvalidMetricSourceType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			before := maps.Clone(src.resource)
			h := mkHPA(c.behavior, c.metric)
			target := Target{Replicas: c.current, StatusReplicas: c.statusReplicas, Selector: testSelector}
			res := ComputeReplicas(context.Background(), testConfig, h, target, c.pods, &src, testNow)

			if c.wantErr != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), c.wantErr) {
					t.Fatalf("Err = %v, want it to contain %q", res.Err, c.wantErr)
				}
				if res.Condition == nil || res.Condition.Reason != c.wantReason || res.Condition.Status != corev1.ConditionFalse || res.Condition.Type != autoscalingv2.ScalingActive {
					t.Fatalf("Condition = %+v, want ScalingActive=False %s", res.Condition, c.wantReason)
				}
				if res.Replicas != c.current || res.Proposals[0] != nil || res.InvalidMetrics != 1 {
					t.Fatalf("Replicas = %d, Proposals[0] = %v, InvalidMetrics = %d; want %d, nil, 1", res.Replicas, res.Proposals[0], res.InvalidMetrics, c.current)
				}
				if res.Statuses[0].Type != "" {
					t.Fatalf("Statuses[0] = %+v, want empty", res.Statuses[0])
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			if res.Condition != nil {
				t.Fatalf("Condition = %+v, want nil", res.Condition)
			}
			p := res.Proposals[0]
			if p == nil {
				t.Fatal("no proposal")
			}
			if res.Replicas != c.want || p.Replicas != c.want {
				t.Errorf("Replicas = %d (proposal %d), want %d", res.Replicas, p.Replicas, c.want)
			}
			util, value := current(res.Statuses[0])
			if util != c.wantUtilization || value != c.wantValue {
				t.Errorf("status utilization/value = %d/%d, want %d/%d", util, value, c.wantUtilization, c.wantValue)
			}
			if p.ReadyPods != c.wantReady {
				t.Errorf("ReadyPods = %d, want %d", p.ReadyPods, c.wantReady)
			}
			if !p.Timestamp.Equal(testNow) || !res.Timestamp.Equal(testNow) {
				t.Errorf("Timestamp = %v / %v, want %v", p.Timestamp, res.Timestamp, testNow)
			}
			if c.wantCalls != nil && !equalStrings(src.calls, c.wantCalls) {
				t.Errorf("calls = %q, want %q", src.calls, c.wantCalls)
			}
			if !mapsEqual(before, src.resource) {
				t.Errorf("source metrics modified")
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string][]int64) bool {
	return maps.EqualFunc(a, b, func(x, y []int64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	})
}

// TestSourceMapsNotModified checks that the rebalancing of missing and
// unready pods works on a copy of the source's samples.
func TestSourceMapsNotModified(t *testing.T) {
	samples := PodMetricsInfo{"p1": {Timestamp: testNow, Window: time.Minute, Value: 4000}}
	src := staticSource{samples: samples}
	res := ComputeReplicas(context.Background(), testConfig, mkHPA(nil, cpuUtilization(50)),
		Target{Replicas: 3, Selector: testSelector}, mkPods(3, neverReady(0)), src, testNow)
	if res.Err != nil || res.Replicas != 4 {
		t.Fatalf("Replicas, Err = %d, %v; want 4, nil", res.Replicas, res.Err)
	}
	if len(samples) != 1 || samples["p1"].Value != 4000 {
		t.Fatalf("source samples modified: %v", samples)
	}
}

// staticSource returns the same resource samples for every query.
type staticSource struct{ samples PodMetricsInfo }

func (s staticSource) ResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (PodMetricsInfo, time.Time, error) {
	return s.samples, testNow, nil
}

func (s staticSource) PodsMetric(context.Context, string, string, labels.Selector, labels.Selector) (PodMetricsInfo, time.Time, error) {
	return s.samples, testNow, nil
}

func (s staticSource) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, testNow, nil
}

// TestComputeReplicas covers computeReplicasForMetrics: several metrics,
// the largest proposal, invalid metrics and the conditions.
func TestComputeReplicas(t *testing.T) {
	type tc struct {
		name    string
		current int32
		pods    []*corev1.Pod
		metrics []autoscalingv2.MetricSpec
		src     fakeSource
		noSel   bool

		want              int32
		wantMetric        string
		wantStatuses      int
		wantFailed        []int // indexes of failed metrics
		wantErr           string
		wantInvalidErr    string
		wantCondReason    string // "" = no Condition
		wantActiveStatus  corev1.ConditionStatus
		wantActiveReason  string
		wantActiveMessage string
	}
	cpuAt := perPod(300, 500, 700) // 50% of request; 30% target -> 5 of 3
	cases := []tc{
		{name: "cpu wins over pods metric", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{cpuUtilization(30), podsAverage("qps", "15")},
			src:     fakeSource{resource: cpuAt, podsMetric: podValues(20000, 10000, 30000)},
			want:    5, wantMetric: "cpu resource utilization (percentage of request)", wantStatuses: 2,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
		{name: "pods metric wins over cpu", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{cpuUtilization(30), podsAverage("qps", "10")},
			src:     fakeSource{resource: cpuAt, podsMetric: podValues(20000, 20000, 20000)},
			want:    6, wantMetric: "pods metric qps", wantStatuses: 2,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from pods metric qps"},
		{name: "object value and average value", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{objectValue("qps", "15"), objectAverage("qps", "5")},
			src:     fakeSource{object: 20000},
			want:    4, wantMetric: "Deployment metric qps", wantStatuses: 2,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from Deployment metric qps"},
		{name: "invalid metric blocks scale down", current: 5, pods: mkPods(5),
			metrics: []autoscalingv2.MetricSpec{cpuUtilization(50), podsAverage("qps", "15")},
			src:     fakeSource{resource: perPod(100, 300, 500, 250, 250), podsErr: errors.New("boom")},
			want:    3, wantMetric: "cpu resource utilization (percentage of request)", wantStatuses: 2, wantFailed: []int{1},
			wantErr:          "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: boom",
			wantInvalidErr:   "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: boom",
			wantCondReason:   ReasonFailedGetPodsMetric,
			wantActiveStatus: corev1.ConditionFalse, wantActiveReason: ReasonFailedGetPodsMetric,
			wantActiveMessage: "the HPA was unable to compute the replica count: unable to get metric qps: boom"},
		{name: "invalid metric does not block scale up", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{podsAverage("qps", "15"), cpuUtilization(30)},
			src:     fakeSource{resource: cpuAt, podsErr: errors.New("boom")},
			want:    5, wantMetric: "cpu resource utilization (percentage of request)", wantStatuses: 2, wantFailed: []int{0},
			wantInvalidErr:   "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: boom",
			wantCondReason:   ReasonFailedGetPodsMetric,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
		{name: "invalid metric with no change proceeds", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{cpuUtilization(50), externalValue("queue", "1")},
			src:     fakeSource{resource: perPod(500, 500, 500)},
			want:    3, wantMetric: "cpu resource utilization (percentage of request)", wantStatuses: 2, wantFailed: []int{1},
			wantInvalidErr:   "invalid metrics (1 invalid out of 2), first error is: failed to get queue external metric value: external metric queue: external metrics are not supported (no external.metrics.k8s.io API)",
			wantCondReason:   ReasonInvalidMetricSourceType,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
		{name: "all metrics invalid", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{externalValue("queue", "1"), {Type: "Foo"}},
			want:    3, wantStatuses: 2, wantFailed: []int{0, 1},
			wantErr:          "invalid metrics (2 invalid out of 2), first error is: failed to get queue external metric value",
			wantInvalidErr:   "invalid metrics (2 invalid out of 2)",
			wantCondReason:   ReasonInvalidMetricSourceType,
			wantActiveStatus: corev1.ConditionFalse, wantActiveReason: ReasonInvalidMetricSourceType,
			wantActiveMessage: "the HPA was unable to compute the replica count: external metric queue: external metrics are not supported (no external.metrics.k8s.io API)"},
		{name: "unknown metric source type", current: 3, pods: mkPods(3),
			metrics: []autoscalingv2.MetricSpec{{Type: "Foo"}},
			want:    3, wantStatuses: 1, wantFailed: []int{0},
			wantErr:          `invalid metrics (1 invalid out of 1), first error is: unknown metric source type "Foo"`,
			wantInvalidErr:   `invalid metrics (1 invalid out of 1), first error is: unknown metric source type "Foo"`,
			wantCondReason:   ReasonInvalidMetricSourceType,
			wantActiveStatus: corev1.ConditionFalse, wantActiveReason: ReasonInvalidMetricSourceType,
			wantActiveMessage: `the HPA was unable to compute the replica count: unknown metric source type "Foo"`},
		{name: "no metrics defaults to 80% cpu", current: 3, pods: mkPods(3),
			src:  fakeSource{resource: perPod(900, 900, 900)},
			want: 4, wantMetric: "cpu resource utilization (percentage of request)", wantStatuses: 1,
			wantActiveStatus: corev1.ConditionTrue, wantActiveReason: ReasonValidMetricFound,
			wantActiveMessage: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
		{name: "missing selector", current: 3, pods: mkPods(3), noSel: true,
			metrics: []autoscalingv2.MetricSpec{cpuUtilization(50)},
			want:    3, wantStatuses: 0,
			wantErr:          "selector is required",
			wantCondReason:   ReasonInvalidSelector,
			wantActiveStatus: corev1.ConditionFalse, wantActiveReason: ReasonInvalidSelector,
			wantActiveMessage: "the HPA target's scale is missing a selector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			target := Target{Replicas: c.current, StatusReplicas: c.current, Selector: testSelector}
			if c.noSel {
				target.Selector = nil
			}
			res := ComputeReplicas(context.Background(), testConfig, mkHPA(nil, c.metrics...), target, c.pods, &src, testNow)
			if res.Replicas != c.want || res.Metric != c.wantMetric {
				t.Errorf("Replicas, Metric = %d, %q; want %d, %q", res.Replicas, res.Metric, c.want, c.wantMetric)
			}
			if len(res.Statuses) != c.wantStatuses {
				t.Fatalf("len(Statuses) = %d, want %d", len(res.Statuses), c.wantStatuses)
			}
			failed := map[int]bool{}
			for _, i := range c.wantFailed {
				failed[i] = true
			}
			for i := range res.Statuses {
				if failed[i] != (res.Proposals[i] == nil) || failed[i] != (res.Statuses[i].Type == "") {
					t.Errorf("metric %d: proposal %v, status %+v; failed = %v", i, res.Proposals[i], res.Statuses[i], failed[i])
				}
			}
			if res.InvalidMetrics != len(c.wantFailed) {
				t.Errorf("InvalidMetrics = %d, want %d", res.InvalidMetrics, len(c.wantFailed))
			}
			checkErr(t, "Err", res.Err, c.wantErr)
			checkErr(t, "InvalidMetricsErr", res.InvalidMetricsErr, c.wantInvalidErr)
			if c.wantCondReason == "" {
				if res.Condition != nil {
					t.Errorf("Condition = %+v, want nil", res.Condition)
				}
			} else if res.Condition == nil || res.Condition.Reason != c.wantCondReason || res.Condition.Status != corev1.ConditionFalse {
				t.Errorf("Condition = %+v, want ScalingActive=False %s", res.Condition, c.wantCondReason)
			}
			a := res.ScalingActive
			if a.Type != autoscalingv2.ScalingActive || a.Status != c.wantActiveStatus || a.Reason != c.wantActiveReason || a.Message != c.wantActiveMessage {
				t.Errorf("ScalingActive = %+v, want %s %s %q", a, c.wantActiveStatus, c.wantActiveReason, c.wantActiveMessage)
			}
		})
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s = %v, want nil", what, err)
		}
		return
	}
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("%s = %v, want prefix %q", what, err, want)
	}
}

func TestExternalMetricError(t *testing.T) {
	res := ComputeReplicas(context.Background(), testConfig, mkHPA(nil, externalValue("queue", "1")),
		Target{Replicas: 2, Selector: testSelector}, mkPods(2), &fakeSource{}, testNow)
	if !errors.Is(res.Err, ErrExternalMetricsUnsupported) {
		t.Fatalf("Err = %v, want ErrExternalMetricsUnsupported", res.Err)
	}
	if res.Replicas != 2 {
		t.Fatalf("Replicas = %d, want 2", res.Replicas)
	}
}

func TestMetricSelectorPassed(t *testing.T) {
	spec := podsAverage("qps", "10")
	spec.Pods.Metric.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"verb": "GET"}}
	src := &fakeSource{podsMetric: podValues(10000, 10000)}
	res := ComputeReplicas(context.Background(), testConfig, mkHPA(nil, spec), Target{Replicas: 2, Selector: testSelector}, mkPods(2), src, testNow)
	if res.Err != nil || res.Replicas != 2 {
		t.Fatalf("Replicas, Err = %d, %v; want 2, nil", res.Replicas, res.Err)
	}
	if want := []string{"pods qps verb=GET"}; !equalStrings(src.calls, want) {
		t.Fatalf("calls = %q, want %q", src.calls, want)
	}
	if got := res.Statuses[0].Pods.Metric.Selector.MatchLabels["verb"]; got != "GET" {
		t.Fatalf("status selector verb = %q, want GET", got)
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	cpu := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "init", Resources: cpu("4")},
				{Name: "sidecar", RestartPolicy: &always, Resources: cpu("250m")},
			},
			Containers: []corev1.Container{{Name: "a", Resources: cpu("500m")}, {Name: "b", Resources: cpu("1")}},
		},
	}
	podLevel := pod.DeepCopy()
	podLevel.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}
	podLevel.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	cases := []struct {
		name      string
		pod       *corev1.Pod
		container string
		res       corev1.ResourceName
		want      int64
		wantErr   string
	}{
		{name: "containers and sidecars", pod: pod, res: corev1.ResourceCPU, want: 1750},
		{name: "one container", pod: pod, container: "b", res: corev1.ResourceCPU, want: 1000},
		{name: "a sidecar by name", pod: pod, container: "sidecar", res: corev1.ResourceCPU, want: 250},
		{name: "pod-level request plus overhead", pod: podLevel, res: corev1.ResourceCPU, want: 3100},
		{name: "named container wins over pod-level", pod: podLevel, container: "a", res: corev1.ResourceCPU, want: 500},
		{name: "missing request", pod: pod, res: corev1.ResourceMemory, wantErr: "missing request for memory in container a of Pod p"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := podRequests([]*corev1.Pod{c.pod}, c.container, c.res)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got["p"] != c.want {
				t.Fatalf("request = %d, %v; want %d", got["p"], err, c.want)
			}
		})
	}
}

func TestTolerances(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	cases := []struct {
		name string
		h    *autoscalingv2.HorizontalPodAutoscaler
		want Tolerances
	}{
		{name: "nil HPA", h: nil, want: Tolerances{0.1, 0.1}},
		{name: "no behavior", h: mkHPA(nil), want: Tolerances{0.1, 0.1}},
		{name: "behavior without tolerance", h: mkHPA(&autoscalingv2.HorizontalPodAutoscalerBehavior{}), want: Tolerances{0.1, 0.1}},
		{name: "scale up 50m", h: mkHPA(&autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: q("50m")}}), want: Tolerances{ScaleDown: 0.1, ScaleUp: 0.05}},
		{name: "both", h: mkHPA(&autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp:   &autoscalingv2.HPAScalingRules{Tolerance: q("0.01")},
			ScaleDown: &autoscalingv2.HPAScalingRules{Tolerance: q("200m")},
		}), want: Tolerances{ScaleDown: 0.2, ScaleUp: 0.01}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := TolerancesFor(c.h, DefaultTolerance); got != c.want {
				t.Fatalf("TolerancesFor = %+v, want %+v", got, c.want)
			}
		})
	}

	within := []struct {
		tol   Tolerances
		ratio float64
		want  bool
	}{
		{Tolerances{0.1, 0.1}, 0.9, true},
		{Tolerances{0.1, 0.1}, 1.1, true},
		{Tolerances{0.1, 0.1}, 0.89, false},
		{Tolerances{0.1, 0.1}, 1.11, false},
		{Tolerances{0.05, 0.01}, 0.96, true},
		{Tolerances{0.05, 0.01}, 1.02, false},
	}
	for _, w := range within {
		if got := w.tol.Within(w.ratio); got != w.want {
			t.Errorf("%v.Within(%v) = %v, want %v", w.tol, w.ratio, got, w.want)
		}
	}
	if s := (Tolerances{ScaleDown: 0.05, ScaleUp: 0.1}).String(); s != "[down:5.0%, up:10.0%]" {
		t.Errorf("String() = %q", s)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Tolerance != 0.1 || c.CPUInitializationPeriod != 5*time.Minute || c.DelayOfInitialReadinessStatus != 30*time.Second || c.DownscaleStabilizationWindow != 5*time.Minute {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
}

// TestReadinessDelayDefaults checks the default 30s initial readiness
// delay and 5m initialization period on the never-ready rule.
func TestReadinessDelayDefaults(t *testing.T) {
	cases := []struct {
		name       string
		unreadyAt  time.Duration // after start
		wantReady  int32
		wantResult int32
	}{
		// Never ready: turned unready 20s after start (< 30s): set aside.
		{name: "unready within the delay", unreadyAt: 20 * time.Second, wantReady: 2, wantResult: 4},
		// Ready once: turned unready 40s after start (> 30s): counted.
		{name: "unready after the delay", unreadyAt: 40 * time.Second, wantReady: 3, wantResult: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pods := mkPods(3, at([]int{0}, func(p *corev1.Pod) {
				p.Status.Conditions[0].Status = corev1.ConditionFalse
				p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(p.Status.StartTime.Add(c.unreadyAt))
			}))
			res := ComputeReplicas(context.Background(), DefaultConfig(), mkHPA(nil, cpuUtilization(30)),
				Target{Replicas: 3, Selector: testSelector}, pods, &fakeSource{resource: perPod(300, 500, 700)}, testNow)
			if res.Err != nil || res.Replicas != c.wantResult || res.Proposals[0].ReadyPods != c.wantReady {
				t.Fatalf("Replicas, ReadyPods, Err = %d, %d, %v; want %d, %d, nil", res.Replicas, res.Proposals[0].ReadyPods, res.Err, c.wantResult, c.wantReady)
			}
		})
	}
}
