package queue

import (
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// ExpectedDurationAnnotation is the pod annotation the "sjf" policy reads
// a pod's expected run time from: a Go duration ("90s", "1h30m") or a
// plain number of seconds ("90", "1.5").
const ExpectedDurationAnnotation = "berth.io/expected-duration"

// Defaults of SJFConfig (see DefaultSJFConfig).
const (
	// DefaultExpectedDuration is the expected run time of pods without a
	// valid ExpectedDurationAnnotation unless SJFConfig.DefaultDuration
	// says otherwise.
	DefaultExpectedDuration = time.Hour
	// DefaultAgingFactor is the recommended SJFConfig.AgingFactor.
	DefaultAgingFactor = 1.0
)

// SJFConfig configures the "sjf" (shortest job first with aging) policy.
//
// A pod's expected duration D is the value of its annotation
// berth.io/expected-duration: a Go duration ("90s", "1h30m") or a plain
// number of seconds ("90", "1.5"). A missing, malformed or negative value
// means DefaultDuration.
//
// Pods are taken in increasing order of
//
//	key = D + AgingFactor × C
//
// where D is in seconds and C is the pod's metadata.creationTimestamp in
// Unix seconds (1-second precision; a pod without one counts as created
// when it entered the queue). At any moment this is the order of
// D − AgingFactor × W, W being the time the pod has waited since it was
// created: with AgingFactor 1 every second a pod waits counts as one second
// less expected run time, so long jobs are not starved. For example, a pod
// expected to run 1h goes before a 1m pod created more than 59m after it.
// AgingFactor 0 disables aging (pure shortest job first, so long jobs may
// wait as long as shorter ones keep arriving). Pods with equal keys go in
// increasing order of requested CPU, then requested memory (the pod's
// requests as the scheduler accounts them), then in the order they first
// entered the queue.
//
// A DefaultDuration of zero or less means DefaultExpectedDuration (1h). A
// negative, NaN or infinite AgingFactor is treated as 0. Note that the
// zero value of AgingFactor disables aging: start from DefaultSJFConfig
// for the defaults (1h, 1.0).
type SJFConfig struct {
	// DefaultDuration is the expected duration of pods without a valid
	// annotation; zero or less means 1h.
	DefaultDuration time.Duration
	// AgingFactor is how many seconds of expected run time each second of
	// waiting is worth; 0 disables aging. The recommended value is 1.
	AgingFactor float64
}

// DefaultSJFConfig returns the default SJF configuration: DefaultDuration
// 1h and AgingFactor 1.
func DefaultSJFConfig() SJFConfig {
	return SJFConfig{DefaultDuration: DefaultExpectedDuration, AgingFactor: DefaultAgingFactor}
}

// withDefaults fills in DefaultDuration and sanitizes AgingFactor.
func (c SJFConfig) withDefaults() SJFConfig {
	if c.DefaultDuration <= 0 {
		c.DefaultDuration = DefaultExpectedDuration
	}
	if math.IsNaN(c.AgingFactor) || math.IsInf(c.AgingFactor, 0) || c.AgingFactor < 0 {
		c.AgingFactor = 0
	}
	return c
}

// maxDurationSeconds is the longest time.Duration in seconds.
var maxDurationSeconds = time.Duration(math.MaxInt64).Seconds()

// parseExpectedDuration parses an ExpectedDurationAnnotation value, in
// seconds; ok is false for malformed or negative values.
func parseExpectedDuration(v string) (seconds float64, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		// A plain number of seconds. ParseFloat also accepts "NaN",
		// "Inf" and hexadecimal; keep it to finite, in-range values.
		if math.IsNaN(f) || f < 0 || f > maxDurationSeconds {
			return 0, false
		}
		return f, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, false
	}
	return d.Seconds(), true
}

// expectedSeconds is the pod's expected duration in seconds.
func expectedSeconds(pod *corev1.Pod, def time.Duration) float64 {
	if pod != nil {
		if v, found := pod.Annotations[ExpectedDurationAnnotation]; found {
			if s, ok := parseExpectedDuration(v); ok {
				return s
			}
		}
	}
	return def.Seconds()
}

// sjfKey orders pods for the "sjf" policy; see SJFConfig.
type sjfKey struct {
	rank     float64 // expected seconds + AgingFactor × creation seconds
	milliCPU int64
	memory   int64
	seq      uint64
}

func sjfLess(a, b *sjfKey) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.milliCPU != b.milliCPU {
		return a.milliCPU < b.milliCPU
	}
	if a.memory != b.memory {
		return a.memory < b.memory
	}
	return a.seq < b.seq
}

// NewSJF returns the "sjf" policy: shortest job first with aging, ordered
// as SJFConfig describes. Push, Pop, Update and Delete are O(log n).
func NewSJF(cfg SJFConfig) Policy {
	cfg = cfg.withDefaults()
	keyOf := func(p *QueuedPod) sjfKey {
		k := sjfKey{seq: p.Seq}
		// float64 holds Unix seconds exactly, and the sum to within a
		// microsecond for realistic timestamps; it cannot overflow.
		k.rank = expectedSeconds(p.Pod, cfg.DefaultDuration) +
			cfg.AgingFactor*float64(creationSeconds(p))
		if p.Pod != nil {
			req, _ := framework.PodRequests(p.Pod)
			k.milliCPU, k.memory = req.MilliCPU, req.Memory
		}
		return k
	}
	return newHeapPolicy("sjf", keyOf, sjfLess)
}
