// Package podautoscaler is the HorizontalPodAutoscaler controller: for each
// HPA, every sync period (15 s, or the berth.io/hpa-sync-period
// annotation), it reads the target's scale subresource, its pods and their
// metrics (metrics.k8s.io for cpu and memory, custom.metrics.k8s.io for
// Pods and Object metrics such as the service proxy's requests_per_second),
// decides the replica count with Kubernetes' rule (internal/autoscale/hpa)
// and, for HPAs in predictive mode, with the forecast of each metric
// (internal/autoscale/predict), then updates the scale, the HPA's status
// and conditions, and emits SuccessfulRescale events.
//
// The decision (State.Decide) is pure: the simulator
// (internal/sim) runs the same code against a model of replicas.
package podautoscaler
