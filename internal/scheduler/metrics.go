package scheduler

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scheduler's Prometheus metrics (named like
// kube-scheduler's, with a profile label).
type Metrics struct {
	// Attempts counts scheduling attempts by profile and result
	// (scheduled, unschedulable, error).
	Attempts *prometheus.CounterVec
	// AttemptDuration is the latency of one attempt, from pop to bound
	// (or failure), by profile and result.
	AttemptDuration *prometheus.HistogramVec
	// PodSchedulingDuration is the time from a pod's first entry into the
	// queue to its binding, by profile.
	PodSchedulingDuration *prometheus.HistogramVec
	// AlgorithmDuration is the time of the filter-and-score decision.
	AlgorithmDuration prometheus.Histogram
	// Pending is the number of waiting pods by profile and queue
	// (active, backoff, unschedulable).
	Pending *prometheus.GaugeVec
	// PreemptionVictims counts pods evicted by preemption.
	PreemptionVictims prometheus.Counter
}

// NewMetrics registers the metrics with reg (reusing collectors already
// registered there, as after a leadership change).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total", Help: "Scheduling attempts by profile and result (scheduled, unschedulable, error).",
		}, []string{"profile", "result"}),
		AttemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scheduler_scheduling_attempt_duration_seconds", Help: "Latency of a scheduling attempt (decision and binding) by profile and result.",
			Buckets: buckets,
		}, []string{"profile", "result"}),
		PodSchedulingDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scheduler_pod_scheduling_duration_seconds", Help: "Time from a pod's entry into the scheduling queue to its binding, by profile.",
			Buckets: buckets,
		}, []string{"profile"}),
		AlgorithmDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scheduler_scheduling_algorithm_duration_seconds", Help: "Latency of the filter-and-score decision for one pod.",
			Buckets: []float64{0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1},
		}),
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scheduler_pending_pods", Help: "Pods waiting to be scheduled by profile and queue (active, backoff, unschedulable).",
		}, []string{"profile", "queue"}),
		PreemptionVictims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scheduler_preemption_victims_total", Help: "Pods evicted to make room for higher-priority pods.",
		}),
	}
	if reg == nil {
		return m
	}
	m.Attempts = register(reg, m.Attempts)
	m.AttemptDuration = register(reg, m.AttemptDuration)
	m.PodSchedulingDuration = register(reg, m.PodSchedulingDuration)
	m.AlgorithmDuration = register(reg, m.AlgorithmDuration)
	m.Pending = register(reg, m.Pending)
	m.PreemptionVictims = register(reg, m.PreemptionVictims)
	return m
}

// register adds c to reg, or returns the equal collector already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
