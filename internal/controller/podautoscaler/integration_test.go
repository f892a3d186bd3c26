package podautoscaler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/hpa"
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/deployment"
	"github.com/berth-dev/berth/internal/controller/podautoscaler"
	"github.com/berth-dev/berth/internal/controller/replicaset"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// load is a metrics source whose total requests/s the test sets; each pod
// it is asked about gets an equal share.
type load struct {
	mu    sync.Mutex
	total float64
}

func (l *load) set(total float64) { l.mu.Lock(); l.total = total; l.mu.Unlock() }

func (l *load) ResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (hpa.PodMetricsInfo, time.Time, error) {
	return nil, time.Time{}, errors.New("no resource metrics in this test")
}

func (l *load) PodsMetric(context.Context, string, string, labels.Selector, labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	return nil, time.Time{}, errors.New("no pods metrics without a client")
}

func (l *load) ObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("no object metrics in this test")
}

// clientLoad answers PodsMetric with the pods the API has.
type clientLoad struct {
	*load
	cs kubernetes.Interface
}

func (c *clientLoad) PodsMetric(ctx context.Context, name, ns string, sel, _ labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	c.mu.Lock()
	total := c.total
	c.mu.Unlock()
	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, time.Time{}, err
	}
	out := hpa.PodMetricsInfo{}
	var ready []string
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				ready = append(ready, p.Name)
			}
		}
	}
	now := time.Now()
	for _, n := range ready {
		out[n] = hpa.PodMetric{Timestamp: now, Window: time.Second, Value: int64(total / float64(len(ready)) * 1000)}
	}
	if len(out) == 0 {
		return nil, time.Time{}, errors.New("no metrics returned from custom metrics API")
	}
	return out, now, nil
}

// startWithWeb starts an API server with the workload controllers, a fake
// kubelet and an HPA controller reading src, and creates the Deployment
// web (1 replica, pods app=web).
func startWithWeb(t *testing.T) (*clientLoad, kubernetes.Interface) {
	t.Helper()
	src := &clientLoad{load: &load{}}
	env := testenv.Start(t, testenv.Options{
		Controllers: []controller.Factory{replicaset.New, deployment.New, podautoscaler.NewWithMetrics(hpa.DefaultConfig(), src)},
		Kubelet:     &fakekubelet.Config{Bind: true}, Logger: testenv.Logger(),
	})
	src.cs = env.Client
	one := int32(1)
	labels := map[string]string{"app": "web"}
	if _, err := env.Client.AppsV1().Deployments("default").Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "web:1"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return src, env.Client
}

func TestHPAScalesADeploymentUpAndDown(t *testing.T) {
	src, cs := startWithWeb(t)
	ctx := context.Background()
	one := int32(1)
	zero := int32(0)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"berth.io/hpa-sync-period": "1s"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &one, MaxReplicas: 6,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(10, resource.DecimalSI)},
			}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, h, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := func() int32 {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (deployment replicas %d)", what, replicas())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// 50 requests/s for a 10 per pod target: 5 replicas.
	src.set(50)
	waitFor("5 replicas", func() bool { return replicas() == 5 })
	var got *autoscalingv2.HorizontalPodAutoscaler
	waitFor("the status", func() bool {
		var err error
		got, err = cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && got.Status.DesiredReplicas == 5 && got.Status.CurrentReplicas == 5 && len(got.Status.CurrentMetrics) == 1
	})
	if got.Status.LastScaleTime == nil || got.Status.CurrentMetrics[0].Pods.Current.AverageValue.Value() != 10 {
		t.Fatalf("status %+v", got.Status)
	}
	for _, c := range got.Status.Conditions {
		if c.Type == autoscalingv2.ScalingActive && (c.Status != corev1.ConditionTrue || c.Reason != "ValidMetricFound") {
			t.Fatalf("ScalingActive %+v", c)
		}
	}
	waitFor("a SuccessfulRescale event", func() bool {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web,involvedObject.kind=HorizontalPodAutoscaler"})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == "SuccessfulRescale" && strings.Contains(e.Message, "New size: ") {
				return true
			}
		}
		return false
	})
	// The load goes: back to the minimum (no scale-down window here).
	src.set(0)
	waitFor("1 replica", func() bool { return replicas() == 1 })
}

func TestHPAOnATargetWithoutScale(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Controllers: []controller.Factory{podautoscaler.NewWithMetrics(hpa.DefaultConfig(), &load{})}, Logger: testenv.Logger(),
	})
	cs := env.Client
	ctx := context.Background()
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "x"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Annotations: map[string]string{"berth.io/hpa-sync-period": "1s"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "batch/v1", Kind: "Job", Name: "batch"},
			MinReplicas:    &one, MaxReplicas: 3,
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, h, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == autoscalingv2.AbleToScale && c.Status == corev1.ConditionFalse && c.Reason == "FailedGetScale" {
				if !strings.Contains(c.Message, "unable to get the target's current scale") {
					t.Fatalf("message %q", c.Message)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no AbleToScale=False FailedGetScale: %+v", got.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPredictiveHistoryIsKept checks that a predictive HPA's history is
// written to its ConfigMap, owned by the HPA, and readable by a new state.
func TestPredictiveHistoryIsKept(t *testing.T) {
	src, cs := startWithWeb(t)
	src.set(15)
	ctx := context.Background()
	one := int32(1)
	h, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"berth.io/hpa-sync-period": "1s",
			"berth.io/predictive-model": "linear", "berth.io/predictive-step": "1s", "berth.io/predictive-history": "10s"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &one, MaxReplicas: 6,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(10, resource.DecimalSI)},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var data string
	deadline := time.Now().Add(30 * time.Second)
	for {
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, podautoscaler.HistoryConfigMapName("web"), metav1.GetOptions{})
		if err == nil && samples(cm.Data["history.json"]) >= 4 {
			if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != h.UID || cm.Labels[podautoscaler.LabelHistoryOf] != "web" {
				t.Fatalf("history ConfigMap %+v: want it owned by and labelled for the HPA", cm.ObjectMeta)
			}
			data = cm.Data["history.json"]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no history with several samples in 30 s (last: %v %v)", cm, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(data, `"pods/requests_per_second"`) {
		t.Fatalf("history %s has no series for the metric", data)
	}
	// A new state (a restarted controller) continues from it.
	var st podautoscaler.State
	if err := st.RestoreHistory([]byte(data)); err != nil {
		t.Fatalf("the stored history does not restore: %v", err)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var in podautoscaler.Input
	in.HPA, in.Metrics, in.Now = h, src, time.Now()
	in.Scale = &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 1}, Status: autoscalingv1.ScaleStatus{Replicas: 1, Selector: "app=web"}}
	for i := range pods.Items {
		in.Pods = append(in.Pods, &pods.Items[i])
	}
	if d := st.Decide(ctx, hpa.DefaultConfig(), in); d.Err != nil || st.Predictor() == nil || st.Predictor().Samples("pods/requests_per_second") < 4 {
		t.Fatalf("after a restart: err %v, samples %d, want the stored ones", d.Err, st.Predictor().Samples("pods/requests_per_second"))
	}
}

// samples counts the values of the requests_per_second series in a
// serialized history.
func samples(data string) int {
	var h struct {
		Series map[string]struct {
			Values []float64 `json:"values"`
		} `json:"series"`
	}
	if json.Unmarshal([]byte(data), &h) != nil {
		return 0
	}
	return len(h.Series["pods/requests_per_second"].Values)
}
