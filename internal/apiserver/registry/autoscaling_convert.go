package registry

import (
	"encoding/json"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Annotations that carry, on an autoscaling/v1 HorizontalPodAutoscaler, the
// autoscaling/v2 fields v1 cannot express (as JSON of the v2 values).
const (
	// HPAMetricsAnnotation holds spec.metrics other than the cpu target.
	HPAMetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics"
	// HPACurrentMetricsAnnotation holds status.currentMetrics other than
	// the current cpu utilization.
	HPACurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	// HPABehaviorAnnotation holds spec.behavior.
	HPABehaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior"
	// HPAConditionsAnnotation holds status.conditions.
	HPAConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"
)

var hpaAnnotations = []string{HPAMetricsAnnotation, HPACurrentMetricsAnnotation, HPABehaviorAnnotation, HPAConditionsAnnotation}

// HPAToV1 converts a stored autoscaling/v2 HorizontalPodAutoscaler to its
// autoscaling/v1 view. The first cpu Utilization metric becomes
// targetCPUUtilizationPercentage (and its current value
// currentCPUUtilizationPercentage); everything else v1 cannot express goes
// into the autoscaling.alpha.kubernetes.io annotations, so that HPAFromV1
// restores the v2 object exactly.
func HPAToV1(in *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv1.HorizontalPodAutoscaler {
	if in == nil {
		return nil
	}
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	if in.Kind != "" || in.APIVersion != "" {
		out.TypeMeta = metav1.TypeMeta{APIVersion: autoscalingV1.String(), Kind: "HorizontalPodAutoscaler"}
	}
	ref := in.Spec.ScaleTargetRef
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: ref.Kind, Name: ref.Name, APIVersion: ref.APIVersion},
		MinReplicas:    copyPtr(in.Spec.MinReplicas),
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	st := &in.Status
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyPtr(st.ObservedGeneration),
		CurrentReplicas:    st.CurrentReplicas,
		DesiredReplicas:    st.DesiredReplicas,
	}
	if st.LastScaleTime != nil {
		out.Status.LastScaleTime = st.LastScaleTime.DeepCopy()
	}

	ann := map[string]string{}
	target, metrics := splitCPU(in.Spec.Metrics, specCPU, cpuSpec)
	out.Spec.TargetCPUUtilizationPercentage = target
	if len(metrics) > 0 {
		ann[HPAMetricsAnnotation] = mustJSON(metrics)
	}
	if in.Spec.Behavior != nil {
		ann[HPABehaviorAnnotation] = mustJSON(in.Spec.Behavior)
	}
	current, currentMetrics := splitCPU(st.CurrentMetrics, statusCPU, cpuStatus)
	out.Status.CurrentCPUUtilizationPercentage = current
	if len(currentMetrics) > 0 {
		ann[HPACurrentMetricsAnnotation] = mustJSON(currentMetrics)
	}
	if len(st.Conditions) > 0 {
		ann[HPAConditionsAnnotation] = mustJSON(st.Conditions)
	}
	if len(ann) > 0 {
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		for k, v := range ann {
			out.Annotations[k] = v
		}
	}
	return out
}

// HPAFromV1 converts an autoscaling/v1 HorizontalPodAutoscaler to the stored
// autoscaling/v2 form, restoring what the annotations carry and removing
// them.
func HPAFromV1(in *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	if in == nil {
		return nil
	}
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	if in.Kind != "" || in.APIVersion != "" {
		out.TypeMeta = metav1.TypeMeta{APIVersion: autoscalingV2.String(), Kind: "HorizontalPodAutoscaler"}
	}
	ann := in.Annotations
	for _, k := range hpaAnnotations {
		delete(out.Annotations, k)
	}
	if len(out.Annotations) == 0 && len(in.Annotations) > 0 {
		out.Annotations = nil
	}
	ref := in.Spec.ScaleTargetRef
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: ref.Kind, Name: ref.Name, APIVersion: ref.APIVersion},
		MinReplicas:    copyPtr(in.Spec.MinReplicas),
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var metrics []autoscalingv2.MetricSpec
	fromJSON(ann[HPAMetricsAnnotation], &metrics)
	out.Spec.Metrics = joinCPU(metrics, in.Spec.TargetCPUUtilizationPercentage, specCPU, cpuSpec)
	if s, ok := ann[HPABehaviorAnnotation]; ok {
		out.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
		if !fromJSON(s, out.Spec.Behavior) {
			out.Spec.Behavior = nil
		}
	}

	st := &in.Status
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyPtr(st.ObservedGeneration),
		CurrentReplicas:    st.CurrentReplicas,
		DesiredReplicas:    st.DesiredReplicas,
	}
	if st.LastScaleTime != nil {
		out.Status.LastScaleTime = st.LastScaleTime.DeepCopy()
	}
	var current []autoscalingv2.MetricStatus
	fromJSON(ann[HPACurrentMetricsAnnotation], &current)
	out.Status.CurrentMetrics = joinCPU(current, st.CurrentCPUUtilizationPercentage, statusCPU, cpuStatus)
	fromJSON(ann[HPAConditionsAnnotation], &out.Status.Conditions)
	return out
}

// specCPU returns the target of a cpu Utilization Resource metric.
func specCPU(m *autoscalingv2.MetricSpec) *int32 {
	if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Name != corev1.ResourceCPU ||
		m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
		return nil
	}
	return m.Resource.Target.AverageUtilization
}

// cpuSpec is the v2 metric a v1 targetCPUUtilizationPercentage stands for.
func cpuSpec(v int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &v},
	}}
}

// statusCPU returns the current utilization of a cpu Resource metric status.
func statusCPU(m *autoscalingv2.MetricStatus) *int32 {
	if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Name != corev1.ResourceCPU {
		return nil
	}
	return m.Resource.Current.AverageUtilization
}

// cpuStatus is the v2 metric status a v1 currentCPUUtilizationPercentage
// stands for.
func cpuStatus(v int32) autoscalingv2.MetricStatus {
	return autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &v},
	}}
}

// splitCPU finds the first cpu utilization entry. When it is first in the
// list, is exactly what v1's single field stands for, and no other cpu
// utilization entry follows, it is taken out of the rest; otherwise the whole
// list is kept so joinCPU can restore it unchanged.
func splitCPU[T any](list []T, cpu func(*T) *int32, plain func(int32) T) (*int32, []T) {
	idx := -1
	for i := range list {
		if cpu(&list[i]) != nil {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, list
	}
	v := *cpu(&list[idx])
	if idx == 0 && semanticEqual(list[0], plain(v)) {
		rest := list[1:]
		again := false
		for i := range rest {
			if cpu(&rest[i]) != nil {
				again = true
			}
		}
		if !again {
			return &v, rest
		}
	}
	return &v, list
}

// joinCPU is the inverse of splitCPU: it writes v into the first cpu
// utilization entry of list, or prepends the plain entry when there is none.
func joinCPU[T any](list []T, v *int32, cpu func(*T) *int32, plain func(int32) T) []T {
	if v == nil {
		return list
	}
	for i := range list {
		if p := cpu(&list[i]); p != nil {
			*p = *v
			return list
		}
	}
	return append([]T{plain(*v)}, list...)
}

// copyPtr returns a copy of *p, or nil.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// mustJSON encodes API values, which always encode.
func mustJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// fromJSON decodes s into v when s is set; it reports success.
func fromJSON(s string, v interface{}) bool {
	if s == "" {
		return false
	}
	return json.Unmarshal([]byte(s), v) == nil
}

// hpaToStorage converts served autoscaling/v1 objects and lists to v2.
func hpaToStorage(obj runtime.Object) runtime.Object {
	switch o := obj.(type) {
	case *autoscalingv1.HorizontalPodAutoscaler:
		return HPAFromV1(o)
	case *autoscalingv1.HorizontalPodAutoscalerList:
		out := &autoscalingv2.HorizontalPodAutoscalerList{ListMeta: *o.ListMeta.DeepCopy()}
		if o.Kind != "" {
			out.TypeMeta = metav1.TypeMeta{APIVersion: autoscalingV2.String(), Kind: "HorizontalPodAutoscalerList"}
		}
		for i := range o.Items {
			out.Items = append(out.Items, *HPAFromV1(&o.Items[i]))
		}
		return out
	}
	return obj
}

// hpaFromStorage converts stored autoscaling/v2 objects and lists to v1.
func hpaFromStorage(obj runtime.Object) runtime.Object {
	switch o := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		return HPAToV1(o)
	case *autoscalingv2.HorizontalPodAutoscalerList:
		out := &autoscalingv1.HorizontalPodAutoscalerList{ListMeta: *o.ListMeta.DeepCopy()}
		if o.Kind != "" {
			out.TypeMeta = metav1.TypeMeta{APIVersion: autoscalingV1.String(), Kind: "HorizontalPodAutoscalerList"}
		}
		for i := range o.Items {
			out.Items = append(out.Items, *HPAToV1(&o.Items[i]))
		}
		return out
	}
	return obj
}
