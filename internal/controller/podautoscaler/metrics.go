package podautoscaler

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/autoscale/hpa"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	resourceclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
)

// apiMetrics reads metrics from the resource metrics API (cpu, memory) and
// the custom metrics API (Pods and Object metrics), as
// kube-controller-manager's REST metrics client does.
type apiMetrics struct {
	resource resourceclient.PodMetricsesGetter
	custom   customclient.CustomMetricsClient
}

// ResourceMetric implements hpa.MetricsSource.
func (m *apiMetrics) ResourceMetric(ctx context.Context, res corev1.ResourceName, ns string, sel labels.Selector, container string) (hpa.PodMetricsInfo, time.Time, error) {
	list, err := m.resource.PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, fmt.Errorf("no metrics returned from resource metrics API")
	}
	out := hpa.PodMetricsInfo{}
	for _, pm := range list.Items {
		var sum int64
		found := false
		for _, c := range pm.Containers {
			if container != "" && c.Name != container {
				continue
			}
			q, ok := c.Usage[res]
			if !ok {
				found = false
				break
			}
			sum += q.MilliValue()
			found = true
		}
		if found {
			out[pm.Name] = hpa.PodMetric{Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration, Value: sum}
		}
	}
	if len(out) == 0 && container != "" {
		return nil, time.Time{}, fmt.Errorf("failed to get container metrics: container %s not present in metrics", container)
	}
	return out, list.Items[0].Timestamp.Time, nil
}

// PodsMetric implements hpa.MetricsSource.
func (m *apiMetrics) PodsMetric(_ context.Context, name, ns string, sel, metricSel labels.Selector) (hpa.PodMetricsInfo, time.Time, error) {
	list, err := m.custom.NamespacedMetrics(ns).GetForObjects(schema.GroupKind{Kind: "Pod"}, sel, name, metricSel)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, fmt.Errorf("no metrics returned from custom metrics API")
	}
	out := hpa.PodMetricsInfo{}
	for _, v := range list.Items {
		w := time.Minute
		if v.WindowSeconds != nil {
			w = time.Duration(*v.WindowSeconds) * time.Second
		}
		out[v.DescribedObject.Name] = hpa.PodMetric{Timestamp: v.Timestamp.Time, Window: w, Value: v.Value.MilliValue()}
	}
	return out, list.Items[0].Timestamp.Time, nil
}

// ObjectMetric implements hpa.MetricsSource.
func (m *apiMetrics) ObjectMetric(_ context.Context, name, ns string, ref *autoscalingv2.CrossVersionObjectReference, metricSel labels.Selector) (int64, time.Time, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to parse apiVersion %q of the described object: %w", ref.APIVersion, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	if gk.Kind == "Namespace" && gk.Group == "" {
		mv, err := m.custom.RootScopedMetrics().GetForObject(gk, ns, name, metricSel)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
		}
		return mv.Value.MilliValue(), mv.Timestamp.Time, nil
	}
	mv, err := m.custom.NamespacedMetrics(ns).GetForObject(gk, ref.Name, name, metricSel)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	return mv.Value.MilliValue(), mv.Timestamp.Time, nil
}
