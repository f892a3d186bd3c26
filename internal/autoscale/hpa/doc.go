// Package hpa is the HorizontalPodAutoscaler algorithm of Kubernetes as
// pure code: no API reads or writes, no clock, no goroutines. It follows
// kube-controller-manager's pkg/controller/podautoscaler (replica_calculator.go
// and horizontal.go, v1.33 and later) so that Berth's HPA controller and the
// simulator reach the replica counts, metric statuses and conditions a
// Kubernetes cluster would.
//
// A sync of one HPA uses it in three steps:
//
//   - ComputeReplicas evaluates every metric of the HPA against the scale
//     target (computeReplicasForMetrics): resource utilization and average
//     value with the missing/unready/ignored pod rules and the CPU
//     initialization period, Pods metrics, Object Value and AverageValue
//     metrics, ContainerResource metrics; the largest proposal wins and an
//     invalid metric blocks a scale-down.
//   - Stabilizer.Normalize stabilizes and clamps the proposal: the legacy
//     path (downscale stabilization window, scale-up limit max(2*current, 4),
//     [min, max]) when the HPA has no behavior, otherwise the behavior's
//     stabilization windows, Pods/Percent policies over their periods and
//     selectPolicy, and it returns the AbleToScale and ScalingLimited
//     conditions Kubernetes sets.
//   - Stabilizer.RecordScale remembers a rescale, the events the policies'
//     periods count.
//
// Where Berth differs from Kubernetes:
//
//   - Time is a parameter (now) instead of time.Now(), so that a simulator
//     can run the algorithm on a virtual clock. As a consequence, with the
//     legacy path and a zero downscale stabilization window nothing is
//     stabilized (Kubernetes' clock moves between recording the initial
//     recommendation and reading it, which has the same effect).
//   - External metrics are not supported (Berth serves no
//     external.metrics.k8s.io): such a metric fails with the
//     InvalidMetricSourceType reason and ErrExternalMetricsUnsupported.
//   - Per-HPA tolerances (spec.behavior.scaleUp/scaleDown.tolerance) are
//     always honoured, as if the HPAConfigurableTolerance feature gate were
//     on.
//   - Scale events older than the longest policy period of their direction
//     are dropped when a new event is recorded; Kubernetes marks them
//     outdated and reuses one slot. Both count the same replicas.
//   - With pod-level resources (spec.resources.requests of the pod), a
//     Resource metric uses the pod-level request of the resource (plus the
//     pod overhead) when set and otherwise falls back to the containers'
//     requests; Kubernetes aggregates the containers with the init
//     containers' rules in the fallback case.
//   - The timestamp of an Object Value proposal is the metric's timestamp;
//     Kubernetes reports a zero time there.
//   - An Object AverageValue metric with zero status replicas reports the
//     total as its average instead of dividing by zero.
//   - A metric without a selector is queried with labels.Everything()
//     (Kubernetes passes labels.Nothing(); both reach the metrics APIs as
//     the empty selector). An Object metric's fetch error names the object
//     as "unable to get metric M on Kind ns/name: err" (Kubernetes' format
//     string has its arguments out of order).
//   - Selector ownership (the AmbiguousSelector check) is the controller's
//     job; ComputeReplicas only reports a missing selector.
package hpa
