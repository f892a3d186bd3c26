package registry

import (
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func newHPA(mutate func(*autoscalingv2.HorizontalPodAutoscaler)) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    10,
	}}
	if mutate != nil {
		mutate(h)
	}
	return h
}

func resourceMetric(name corev1.ResourceName, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: name, Target: target}}
}

func utilization(v int32) autoscalingv2.MetricTarget {
	return autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &v}
}

func TestHPADefaults(t *testing.T) {
	s := byName(t, "autoscaling/v2", "horizontalpodautoscalers").Strategy
	h := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptrTo(int32(60))}}
	})
	s.PrepareForCreate(h)
	s.Default(h)
	wantNoErrs(t, s.Validate(h))
	if *h.Spec.MinReplicas != 1 || len(h.Spec.Metrics) != 1 || !semanticEqual(h.Spec.Metrics[0], resourceMetric(corev1.ResourceCPU, utilization(80))) {
		t.Errorf("hpa defaults wrong: %+v", h.Spec)
	}
	b := h.Spec.Behavior
	if *b.ScaleDown.StabilizationWindowSeconds != 60 || *b.ScaleDown.SelectPolicy != autoscalingv2.MaxChangePolicySelect ||
		len(b.ScaleUp.Policies) != 2 || *b.ScaleUp.StabilizationWindowSeconds != 0 {
		t.Errorf("behavior defaults wrong: %+v", b)
	}

	// The autoscaling/v1 view defaults through the v2 rules.
	v1 := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 5,
	}}
	s1 := byName(t, "autoscaling/v1", "horizontalpodautoscalers").Strategy
	s1.PrepareForCreate(v1)
	s1.Default(v1)
	wantNoErrs(t, s1.Validate(v1))
	if *v1.Spec.MinReplicas != 1 || *v1.Spec.TargetCPUUtilizationPercentage != 80 || len(v1.Annotations) != 0 {
		t.Errorf("v1 defaults wrong: %+v", v1)
	}
}

func TestHPAValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*autoscalingv2.HorizontalPodAutoscaler)
		path   string
		typ    field.ErrorType
		detail string
	}{
		{"no kind", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "" }, "spec.scaleTargetRef.kind", field.ErrorTypeRequired, ""},
		{"no name", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "" }, "spec.scaleTargetRef.name", field.ErrorTypeRequired, ""},
		{"min 0", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptrTo(int32(0)) }, "spec.minReplicas", field.ErrorTypeInvalid, ""},
		{"max below min", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptrTo(int32(20)) },
			"spec.maxReplicas", field.ErrorTypeInvalid, "`minReplicas`"},
		{"resource without name", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric("", utilization(50))}
		}, "spec.metrics[0].resource.name", field.ErrorTypeRequired, ""},
		{"resource target type", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType})}
		}, "spec.metrics[0].resource.target.type", field.ErrorTypeNotSupported, ""},
		{"utilization value", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType})}
		}, "spec.metrics[0].resource.target.averageUtilization", field.ErrorTypeRequired, ""},
		{"missing source", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}
		}, "spec.metrics[0].pods", field.ErrorTypeRequired, ""},
		{"metric type", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: "Magic"}}
		}, "spec.metrics[0].type", field.ErrorTypeNotSupported, ""},
		{"bad model", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/predictive-model": "arima"}
		}, "metadata.annotations[berth.io/predictive-model]", field.ErrorTypeInvalid, "unknown"},
		{"season without model", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/predictive-season": "24h"}
		}, "metadata.annotations[berth.io/predictive-season]", field.ErrorTypeInvalid, "needs berth.io/predictive-model"},
		{"season not multiple of step", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/predictive-model": "holt-winters", "berth.io/predictive-season": "90s", "berth.io/predictive-step": "1m"}
		}, "metadata.annotations[berth.io/predictive-season]", field.ErrorTypeInvalid, "not a multiple"},
		{"history too short", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/predictive-model": "holt-winters", "berth.io/predictive-history": "30h"}
		}, "metadata.annotations[berth.io/predictive-history]", field.ErrorTypeInvalid, "needs at least"},
		{"max error", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/predictive-model": "linear", "berth.io/predictive-max-error": "5"}
		}, "metadata.annotations[berth.io/predictive-max-error]", field.ErrorTypeInvalid, "(0, 2]"},
		{"sync period", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/hpa-sync-period": "500ms"}
		}, "metadata.annotations[berth.io/hpa-sync-period]", field.ErrorTypeInvalid, "outside [1s, 10m0s]"},
		{"metric resolution", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Annotations = map[string]string{"berth.io/hpa-metric-resolution": "often"}
		}, "metadata.annotations[berth.io/hpa-metric-resolution]", field.ErrorTypeInvalid, "not a duration"},
	}
	s := byName(t, "autoscaling/v2", "horizontalpodautoscalers").Strategy
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHPA(tc.mutate)
			s.Default(h)
			wantErr(t, s.Validate(h), tc.path, tc.typ, tc.detail)
		})
	}

	// Valid Berth annotations pass.
	ok := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Annotations = map[string]string{"berth.io/hpa-sync-period": "1s", "berth.io/hpa-metric-resolution": "1s",
			"berth.io/predictive-model": "holt-winters", "berth.io/predictive-season": "1h", "berth.io/predictive-step": "15s"}
	})
	s.Default(ok)
	if errs := s.Validate(ok); len(errs) != 0 {
		t.Errorf("valid annotations refused: %v", errs)
	}

	// v1 errors about the cpu target name the v1 field.
	v1 := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 5,
		TargetCPUUtilizationPercentage: ptrTo(int32(-3)),
	}}
	wantErr(t, byName(t, "autoscaling/v1", "horizontalpodautoscalers").Strategy.Validate(v1),
		"spec.targetCPUUtilizationPercentage", field.ErrorTypeInvalid, "")
}

func TestHPARoundTrip(t *testing.T) {
	now := metav1.NewTime(time.Unix(1700000000, 0))
	memTarget := resource.MustParse("512Mi")
	memCurrent := resource.MustParse("300Mi")
	cpuAvg := resource.MustParse("250m")
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &cpuAvg}}}
	mem := resourceMetric(corev1.ResourceMemory, autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &memTarget})
	cpuStatusFull := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptrTo(int32(40)), AverageValue: &cpuAvg}}}
	memStatus := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: &memCurrent}}}

	tests := []struct {
		name      string
		hpa       *autoscalingv2.HorizontalPodAutoscaler
		targetCPU *int32
	}{
		{"empty", newHPA(nil), nil},
		{"cpu only", newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, utilization(70))}
			h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{cpuStatus(55)}
		}), ptrTo(int32(70))},
		{"cpu second", newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{mem, resourceMetric(corev1.ResourceCPU, utilization(60)), pods}
		}), ptrTo(int32(60))},
		{"two cpu metrics", newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, utilization(60)), resourceMetric(corev1.ResourceCPU, utilization(90))}
		}), ptrTo(int32(60))},
		{"everything", newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.TypeMeta = metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}
			h.Annotations = map[string]string{"team": "web"}
			h.Spec.MinReplicas = ptrTo(int32(2))
			h.Spec.Metrics = []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, utilization(75)), mem, pods}
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{
				StabilizationWindowSeconds: ptrTo(int32(120)),
				Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
			}}
			h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
				ObservedGeneration: ptrTo(int64(3)), LastScaleTime: &now, CurrentReplicas: 3, DesiredReplicas: 4,
				CurrentMetrics: []autoscalingv2.MetricStatus{cpuStatusFull, memStatus},
				Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{
					Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale", LastTransitionTime: now,
				}},
			}
		}), ptrTo(int32(75))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := tc.hpa.DeepCopy()
			v1 := HPAToV1(tc.hpa)
			if !semanticEqual(tc.hpa, orig) {
				t.Fatalf("HPAToV1 changed its input")
			}
			if !semanticEqual(v1.Spec.TargetCPUUtilizationPercentage, tc.targetCPU) {
				t.Errorf("targetCPUUtilizationPercentage = %v, want %v", v1.Spec.TargetCPUUtilizationPercentage, tc.targetCPU)
			}
			back := HPAFromV1(v1)
			if !semanticEqual(back, orig) {
				t.Errorf("round trip lost data:\n got %+v\nwant %+v", back, orig)
			}
			// And through the registry's conversion hooks.
			r := byName(t, "autoscaling/v1", "horizontalpodautoscalers")
			if again := r.ToStorage(r.FromStorage(orig)); !semanticEqual(again, orig) {
				t.Errorf("ToStorage(FromStorage()) lost data")
			}
		})
	}

	// The "everything" case puts the right annotations on the v1 view.
	v1 := HPAToV1(tests[len(tests)-1].hpa)
	for _, k := range []string{HPAMetricsAnnotation, HPACurrentMetricsAnnotation, HPABehaviorAnnotation, HPAConditionsAnnotation, "team"} {
		if v1.Annotations[k] == "" {
			t.Errorf("v1 annotation %s missing", k)
		}
	}
	if v1.APIVersion != "autoscaling/v1" || *v1.Status.CurrentCPUUtilizationPercentage != 40 {
		t.Errorf("v1 view wrong: %+v", v1)
	}

	// A v1 client changing the cpu target updates the v2 metric in place.
	v1.Spec.TargetCPUUtilizationPercentage = ptrTo(int32(50))
	if got := HPAFromV1(v1).Spec.Metrics[0].Resource.Target.AverageUtilization; *got != 50 {
		t.Errorf("cpu target after v1 edit = %d", *got)
	}
}

func TestHPATable(t *testing.T) {
	memTarget := resource.MustParse("512Mi")
	memCurrent := resource.MustParse("300Mi")
	h := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.MinReplicas = ptrTo(int32(2))
		h.Spec.Metrics = []autoscalingv2.MetricSpec{
			resourceMetric(corev1.ResourceCPU, utilization(80)),
			resourceMetric(corev1.ResourceMemory, autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &memTarget}),
		}
		h.Status.CurrentReplicas = 3
		h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{cpuStatus(50), {Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: &memCurrent}}}}
	})
	table := byName(t, "autoscaling/v2", "horizontalpodautoscalers").Strategy.Table
	want := []interface{}{"web", "Deployment/web", "cpu: 50%/80%, memory: 300Mi/512Mi", int64(2), int64(10), int64(3), "<unknown>"}
	row := table.Row(h)
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("cell %s = %#v, want %#v", table.Columns[i].Name, row[i], want[i])
		}
	}

	unknownCPU := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{
			resourceMetric(corev1.ResourceCPU, utilization(80)),
			resourceMetric(corev1.ResourceMemory, utilization(70)),
			resourceMetric("ephemeral-storage", utilization(90)),
		}
	})
	if got := table.Row(unknownCPU)[2]; got != "cpu: <unknown>/80%, memory: <unknown>/70% + 1 more..." {
		t.Errorf("targets = %q", got)
	}
	if got := table.Row(newHPA(nil))[3]; got != "<unset>" {
		t.Errorf("MinPods without minReplicas = %#v", got)
	}
	// The v1 table renders the same from a v1 object.
	v1Row := byName(t, "autoscaling/v1", "horizontalpodautoscalers").Strategy.Table.Row(HPAToV1(h))
	if v1Row[2] != want[2] {
		t.Errorf("v1 targets = %#v", v1Row[2])
	}
}
