package registry

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func hpaColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(""),
		column("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.", 0),
		column("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).", 0),
		column("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.", 0),
		column("MaxPods", "integer", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.", 0),
		column("Replicas", "integer", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.", 0),
		ageColumn(),
	}
}

// hpaRow renders one HPA like kubectl get hpa.
func hpaRow(h *autoscalingv2.HorizontalPodAutoscaler) []interface{} {
	var minPods interface{} = unset
	if h.Spec.MinReplicas != nil {
		minPods = int64(*h.Spec.MinReplicas)
	}
	ref := h.Spec.ScaleTargetRef
	return []interface{}{
		h.Name, ref.Kind + "/" + ref.Name, hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics),
		minPods, int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), since(h.CreationTimestamp),
	}
}

// hpaTargets renders the TARGETS column ("cpu: 50%/80%, memory: <unknown>/1Gi
// + 1 more...").
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return none
	}
	list := make([]string, 0, len(specs))
	for i := range specs {
		list = append(list, hpaTarget(&specs[i], findMetricStatus(&specs[i], statuses)))
	}
	return joinMax(list, ", ", 2)
}

// hpaTarget renders one "current/target" pair.
func hpaTarget(m *autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	var target *autoscalingv2.MetricTarget
	var current *autoscalingv2.MetricValueStatus
	prefix := ""
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource == nil {
			return unknown
		}
		target, prefix = &m.Resource.Target, string(m.Resource.Name)+": "
		if st != nil {
			current = &st.Resource.Current
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource == nil {
			return unknown
		}
		target, prefix = &m.ContainerResource.Target, string(m.ContainerResource.Name)+": "
		if st != nil {
			current = &st.ContainerResource.Current
		}
	case autoscalingv2.PodsMetricSourceType:
		if m.Pods == nil {
			return unknown
		}
		target = &m.Pods.Target
		if st != nil {
			current = &st.Pods.Current
		}
	case autoscalingv2.ObjectMetricSourceType:
		if m.Object == nil {
			return unknown
		}
		target = &m.Object.Target
		if st != nil {
			current = &st.Object.Current
		}
	case autoscalingv2.ExternalMetricSourceType:
		if m.External == nil {
			return unknown
		}
		target = &m.External.Target
		if st != nil {
			current = &st.External.Current
		}
	default:
		return "<unknown type>"
	}
	cur := unknown
	switch target.Type {
	case autoscalingv2.UtilizationMetricType:
		if current != nil && current.AverageUtilization != nil {
			cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
		}
		tgt := "<auto>"
		if target.AverageUtilization != nil {
			tgt = fmt.Sprintf("%d%%", *target.AverageUtilization)
		}
		return prefix + cur + "/" + tgt
	case autoscalingv2.AverageValueMetricType:
		if current != nil && current.AverageValue != nil {
			cur = current.AverageValue.String()
		}
		suffix := ""
		if m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType {
			suffix = " (avg)"
		}
		return prefix + cur + "/" + quantityString(target.AverageValue) + suffix
	}
	if current != nil && current.Value != nil {
		cur = current.Value.String()
	}
	return prefix + cur + "/" + quantityString(target.Value)
}

// quantityString renders an optional quantity.
func quantityString(q *resource.Quantity) string {
	if q == nil {
		return unknown
	}
	return q.String()
}

// findMetricStatus finds the current status of a metric spec.
func findMetricStatus(m *autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) *autoscalingv2.MetricStatus {
	for i := range statuses {
		s := &statuses[i]
		if s.Type != m.Type {
			continue
		}
		switch m.Type {
		case autoscalingv2.ResourceMetricSourceType:
			if s.Resource != nil && s.Resource.Name == m.Resource.Name {
				return s
			}
		case autoscalingv2.ContainerResourceMetricSourceType:
			if s.ContainerResource != nil && s.ContainerResource.Name == m.ContainerResource.Name &&
				s.ContainerResource.Container == m.ContainerResource.Container {
				return s
			}
		case autoscalingv2.PodsMetricSourceType:
			if s.Pods != nil && s.Pods.Metric.Name == m.Pods.Metric.Name {
				return s
			}
		case autoscalingv2.ObjectMetricSourceType:
			if s.Object != nil && s.Object.Metric.Name == m.Object.Metric.Name {
				return s
			}
		case autoscalingv2.ExternalMetricSourceType:
			if s.External != nil && s.External.Metric.Name == m.External.Metric.Name {
				return s
			}
		}
	}
	return nil
}
