package hpa

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// calculator is Kubernetes' ReplicaCalculator over an already listed set of
// pods and already fetched metrics.
type calculator struct {
	tolerances                    Tolerances
	cpuInitializationPeriod       time.Duration
	delayOfInitialReadinessStatus time.Duration
	now                           time.Time
	pods                          []*corev1.Pod
}

var errNoPods = errors.New("no pods returned by selector while calculating replica count")

// errNoMetrics is returned when no ready pod has a sample.
var errNoMetrics = errors.New("did not receive metrics for targeted pods (pods might be unready)")

// podGroups is how groupPods sorts the pods.
type podGroups struct {
	ready                     int
	unready, missing, ignored sets.Set[string]
}

// groupPods sorts the pods: deleting and failed pods are ignored, pending
// pods are unready, pods without a sample are missing and, for CPU only,
// pods still initializing (see isUnreadyForCPU) are unready; the rest are
// ready.
func (c *calculator) groupPods(metrics PodMetricsInfo, resource corev1.ResourceName) podGroups {
	g := podGroups{unready: sets.New[string](), missing: sets.New[string](), ignored: sets.New[string]()}
	for _, pod := range c.pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			g.ignored.Insert(pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			g.unready.Insert(pod.Name)
			continue
		}
		metric, found := metrics[pod.Name]
		if !found {
			g.missing.Insert(pod.Name)
			continue
		}
		if resource == corev1.ResourceCPU && c.isUnreadyForCPU(pod, metric) {
			g.unready.Insert(pod.Name)
			continue
		}
		g.ready++
	}
	return g
}

// isUnreadyForCPU reports whether a running pod's CPU sample must be set
// aside: the pod has no Ready condition or start time; or it is within the
// CPU initialization period and either not ready or its sample was taken
// less than a window after it became ready; or, after the period, it is not
// ready and never was (it turned unready within the initial readiness
// delay of its start).
func (c *calculator) isUnreadyForCPU(pod *corev1.Pod, metric PodMetric) bool {
	cond := podReadyCondition(pod)
	if cond == nil || pod.Status.StartTime == nil {
		return true
	}
	start := pod.Status.StartTime.Time
	if start.Add(c.cpuInitializationPeriod).After(c.now) {
		return cond.Status == corev1.ConditionFalse || metric.Timestamp.Before(cond.LastTransitionTime.Add(metric.Window))
	}
	return cond.Status == corev1.ConditionFalse && start.Add(c.delayOfInitialReadinessStatus).After(cond.LastTransitionTime.Time)
}

func podReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// isPodReady is podutil.IsPodReady: the Ready condition is True.
func isPodReady(pod *corev1.Pod) bool {
	cond := podReadyCondition(pod)
	return cond != nil && cond.Status == corev1.ConditionTrue
}

// usableMetrics copies metrics without the samples of the ignored and
// unready pods.
func usableMetrics(metrics PodMetricsInfo, g podGroups) PodMetricsInfo {
	out := make(PodMetricsInfo, len(metrics))
	for name, m := range metrics {
		if g.ignored.Has(name) || g.unready.Has(name) {
			continue
		}
		out[name] = m
	}
	return out
}

// resourceUtilization is GetResourceReplicas: the replica count for a
// target utilization (percentage of request) of resource, the current
// utilization and the raw average value of the pods with metrics, and the
// number of ready pods.
func (c *calculator) resourceUtilization(currentReplicas, targetUtilization int32, resource corev1.ResourceName, container string, rawMetrics PodMetricsInfo) (replicas int32, utilization int32, rawAverage int64, ready int, err error) {
	if len(c.pods) == 0 {
		return 0, 0, 0, 0, errNoPods
	}
	g := c.groupPods(rawMetrics, resource)
	metrics := usableMetrics(rawMetrics, g)
	if len(metrics) == 0 {
		return 0, 0, 0, 0, errNoMetrics
	}
	requests, err := podRequests(c.pods, container, resource)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	usageRatio, utilization, rawAverage, err := resourceUtilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, 0, err
	}

	scaleUpWithUnready := g.unready.Len() > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && g.missing.Len() == 0 {
		if c.tolerances.Within(usageRatio) {
			return currentReplicas, utilization, rawAverage, g.ready, nil
		}
		return int32(math.Ceil(usageRatio * float64(g.ready))), utilization, rawAverage, g.ready, nil
	}

	if g.missing.Len() > 0 {
		if usageRatio < 1.0 {
			// Scale-down: a pod without a sample is taken as using its whole
			// request, or the target when the target is above 100%.
			fallback := int64(max(100, targetUtilization))
			for name := range g.missing {
				metrics[name] = PodMetric{Value: requests[name] * fallback / 100}
			}
		} else if usageRatio > 1.0 {
			// Scale-up: a pod without a sample is taken as idle.
			for name := range g.missing {
				metrics[name] = PodMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			metrics[name] = PodMetric{Value: 0}
		}
	}

	newUsageRatio, _, _, err := resourceUtilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if c.tolerances.Within(newUsageRatio) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		// Too small a change, or the pods set aside reverse the direction.
		return currentReplicas, utilization, rawAverage, g.ready, nil
	}
	newReplicas := int32(math.Ceil(newUsageRatio * float64(len(metrics))))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		// Counting the pods set aside reverses the direction.
		return currentReplicas, utilization, rawAverage, g.ready, nil
	}
	return newReplicas, utilization, rawAverage, g.ready, nil
}

// plainMetric is calcPlainMetricReplicas (GetRawResourceReplicas and
// GetMetricReplicas): the replica count for a target average value, the
// current average over the pods with metrics and the number of ready pods.
// resource is empty for a Pods metric (no CPU initialization rules).
func (c *calculator) plainMetric(currentReplicas int32, targetUsage int64, resource corev1.ResourceName, rawMetrics PodMetricsInfo) (replicas int32, usage int64, ready int, err error) {
	if len(c.pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	g := c.groupPods(rawMetrics, resource)
	metrics := usableMetrics(rawMetrics, g)
	if len(metrics) == 0 {
		return 0, 0, 0, errNoMetrics
	}
	usageRatio, usage := metricUsageRatio(metrics, targetUsage)

	scaleUpWithUnready := g.unready.Len() > 0 && usageRatio > 1.0
	if !scaleUpWithUnready && g.missing.Len() == 0 {
		if c.tolerances.Within(usageRatio) {
			return currentReplicas, usage, g.ready, nil
		}
		return int32(math.Ceil(usageRatio * float64(g.ready))), usage, g.ready, nil
	}

	if g.missing.Len() > 0 {
		if usageRatio < 1.0 {
			// Scale-down: a pod without a sample is taken as at the target.
			for name := range g.missing {
				metrics[name] = PodMetric{Value: targetUsage}
			}
		} else if usageRatio > 1.0 {
			for name := range g.missing {
				metrics[name] = PodMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			metrics[name] = PodMetric{Value: 0}
		}
	}

	newUsageRatio, _ := metricUsageRatio(metrics, targetUsage)
	if c.tolerances.Within(newUsageRatio) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0) {
		return currentReplicas, usage, g.ready, nil
	}
	newReplicas := int32(math.Ceil(newUsageRatio * float64(len(metrics))))
	if (newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas) {
		return currentReplicas, usage, g.ready, nil
	}
	return newReplicas, usage, g.ready, nil
}

// objectValue is GetObjectMetricReplicas / getUsageRatioReplicaCount: the
// usage ratio of an object's value times the ready pods (running and
// Ready); with zero current replicas, ceil(ratio) without tolerance (scale
// from/to zero). ready is 0 when the ready pods were not counted.
func (c *calculator) objectValue(currentReplicas int32, usage, targetUsage int64) (replicas int32, ready int, err error) {
	usageRatio := float64(usage) / float64(targetUsage)
	if currentReplicas == 0 {
		return ceilInt32(usageRatio), 0, nil
	}
	if c.tolerances.Within(usageRatio) {
		return currentReplicas, 0, nil
	}
	if len(c.pods) == 0 {
		return 0, 0, fmt.Errorf("unable to calculate ready pods: %w", errNoPods)
	}
	for _, pod := range c.pods {
		if pod.Status.Phase == corev1.PodRunning && isPodReady(pod) {
			ready++
		}
	}
	return ceilInt32(usageRatio * float64(ready)), ready, nil
}

// objectPerPod is GetObjectPerPodMetricReplicas: ceil(value/target) unless
// value/(target*statusReplicas) is within tolerance, and the value per
// status replica.
func (c *calculator) objectPerPod(statusReplicas int32, usage, targetAverage int64) (replicas int32, average int64) {
	replicas = statusReplicas
	usageRatio := float64(usage) / (float64(targetAverage) * float64(statusReplicas))
	if !c.tolerances.Within(usageRatio) {
		replicas = ceilInt32(float64(usage) / float64(targetAverage))
	}
	if statusReplicas <= 0 {
		return replicas, usage
	}
	return replicas, int64(math.Ceil(float64(usage) / float64(statusReplicas)))
}

func ceilInt32(f float64) int32 {
	c := math.Ceil(f)
	switch {
	case c >= math.MaxInt32:
		return math.MaxInt32
	case c <= math.MinInt32:
		return math.MinInt32
	}
	return int32(c)
}

// resourceUtilizationRatio is metrics.GetResourceUtilizationRatio: the
// utilization (integer percent of the summed requests) over the samples of
// the pods with a request, its ratio to the target, and the raw average.
func resourceUtilizationRatio(metrics PodMetricsInfo, requests map[string]int64, targetUtilization int32) (ratio float64, utilization int32, rawAverage int64, err error) {
	var metricsTotal, requestsTotal, entries int64
	for name, m := range metrics {
		request, ok := requests[name]
		if !ok {
			// A sample of a pod that is not listed.
			continue
		}
		metricsTotal += m.Value
		requestsTotal += request
		entries++
	}
	if requestsTotal == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	utilization = int32(metricsTotal * 100 / requestsTotal)
	return float64(utilization) / float64(targetUtilization), utilization, metricsTotal / entries, nil
}

// metricUsageRatio is metrics.GetMetricUsageRatio: the (truncated) average
// of all samples and its ratio to the target.
func metricUsageRatio(metrics PodMetricsInfo, targetUsage int64) (ratio float64, usage int64) {
	var total int64
	for _, m := range metrics {
		total += m.Value
	}
	usage = total / int64(len(metrics))
	return float64(usage) / float64(targetUsage), usage
}

// podRequests is calculateRequests: each pod's request of resource in
// milli-units: the pod-level request when the pod sets one for it and no
// container is named, else the sum over its containers and restartable
// (sidecar) init containers, or only the named container.
func podRequests(pods []*corev1.Pod, container string, resource corev1.ResourceName) (map[string]int64, error) {
	requests := make(map[string]int64, len(pods))
	for _, pod := range pods {
		if container == "" {
			if r, ok := podLevelRequest(pod, resource); ok {
				requests[pod.Name] = r
				continue
			}
		}
		r, err := containerRequests(pod, container, resource)
		if err != nil {
			return nil, err
		}
		requests[pod.Name] = r
	}
	return requests, nil
}

// podLevelRequest is the pod-level request of resource (plus the pod
// overhead) when the pod sets one; pod-level resources cover cpu, memory
// and hugepages.
func podLevelRequest(pod *corev1.Pod, resource corev1.ResourceName) (int64, bool) {
	if pod.Spec.Resources == nil {
		return 0, false
	}
	if resource != corev1.ResourceCPU && resource != corev1.ResourceMemory && !strings.HasPrefix(string(resource), corev1.ResourceHugePagesPrefix) {
		return 0, false
	}
	q, ok := pod.Spec.Resources.Requests[resource]
	if !ok {
		return 0, false
	}
	r := q.MilliValue()
	if o, ok := pod.Spec.Overhead[resource]; ok {
		r += o.MilliValue()
	}
	return r, true
}

// containerRequests is calculatePodRequestsFromContainers.
func containerRequests(pod *corev1.Pod, container string, resource corev1.ResourceName) (int64, error) {
	containers := make([]corev1.Container, 0, len(pod.Spec.Containers)+len(pod.Spec.InitContainers))
	containers = append(containers, pod.Spec.Containers...)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	var request int64
	for _, c := range containers {
		if container != "" && container != c.Name {
			continue
		}
		q, ok := c.Resources.Requests[resource]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
		}
		request += q.MilliValue()
		if container == c.Name {
			return request, nil
		}
	}
	if container != "" {
		return 0, fmt.Errorf("container %s not found in Pod %s", container, pod.Name)
	}
	return request, nil
}
