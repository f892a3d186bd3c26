package hpa

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// DefaultTolerance is Kubernetes' --horizontal-pod-autoscaler-tolerance
// default (0.1).
const DefaultTolerance = 0.1

// Defaults of the other kube-controller-manager HPA flags.
const (
	// DefaultCPUInitializationPeriod is the
	// --horizontal-pod-autoscaler-cpu-initialization-period default.
	DefaultCPUInitializationPeriod = 5 * time.Minute
	// DefaultDelayOfInitialReadinessStatus is the
	// --horizontal-pod-autoscaler-initial-readiness-delay default.
	DefaultDelayOfInitialReadinessStatus = 30 * time.Second
	// DefaultDownscaleStabilizationWindow is the
	// --horizontal-pod-autoscaler-downscale-stabilization default.
	DefaultDownscaleStabilizationWindow = 5 * time.Minute
)

// Config holds the controller-wide settings (kube-controller-manager flags).
type Config struct {
	// Tolerance is the default tolerance of both directions
	// (--horizontal-pod-autoscaler-tolerance, default 0.1).
	Tolerance float64
	// CPUInitializationPeriod is how long after its start a pod's CPU
	// samples are only trusted when taken a full window after the pod became
	// ready (--horizontal-pod-autoscaler-cpu-initialization-period, default
	// 5m).
	CPUInitializationPeriod time.Duration
	// DelayOfInitialReadinessStatus: after the CPU initialization period, a
	// pod that is not ready and whose Ready condition last changed within
	// this delay of its start is taken as never ready and its CPU sample is
	// set aside (--horizontal-pod-autoscaler-initial-readiness-delay,
	// default 30s).
	DelayOfInitialReadinessStatus time.Duration
	// DownscaleStabilizationWindow is the scale-down stabilization window of
	// the legacy path (no behavior), and of a behavior whose scaleDown sets
	// no stabilizationWindowSeconds
	// (--horizontal-pod-autoscaler-downscale-stabilization, default 5m).
	DownscaleStabilizationWindow time.Duration
}

// DefaultConfig returns kube-controller-manager's defaults.
func DefaultConfig() Config {
	return Config{
		Tolerance:                     DefaultTolerance,
		CPUInitializationPeriod:       DefaultCPUInitializationPeriod,
		DelayOfInitialReadinessStatus: DefaultDelayOfInitialReadinessStatus,
		DownscaleStabilizationWindow:  DefaultDownscaleStabilizationWindow,
	}
}

// Tolerances are the ratios around 1.0 within which no scaling happens: a
// usage ratio r (current/target) changes nothing when
// 1-ScaleDown <= r <= 1+ScaleUp.
type Tolerances struct{ ScaleDown, ScaleUp float64 }

// TolerancesFor returns the HPA's tolerances:
// spec.behavior.scaleUp/scaleDown.tolerance when set (a resource.Quantity,
// e.g. "50m" = 0.05), else def.
func TolerancesFor(h *autoscalingv2.HorizontalPodAutoscaler, def float64) Tolerances {
	t := Tolerances{ScaleDown: def, ScaleUp: def}
	if h == nil || h.Spec.Behavior == nil {
		return t
	}
	if r := h.Spec.Behavior.ScaleDown; r != nil && r.Tolerance != nil {
		t.ScaleDown = r.Tolerance.AsApproximateFloat64()
	}
	if r := h.Spec.Behavior.ScaleUp; r != nil && r.Tolerance != nil {
		t.ScaleUp = r.Tolerance.AsApproximateFloat64()
	}
	return t
}

// Within reports whether usageRatio is close enough to 1.0 that no scaling
// happens.
func (t Tolerances) Within(usageRatio float64) bool {
	return 1.0-t.ScaleDown <= usageRatio && usageRatio <= 1.0+t.ScaleUp
}

// String formats the tolerances like Kubernetes' logs do.
func (t Tolerances) String() string {
	return fmt.Sprintf("[down:%.1f%%, up:%.1f%%]", t.ScaleDown*100, t.ScaleUp*100)
}
