package scheduler

import (
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/internal/scheduler/queue"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Placement presets (ProfileConfig.Placement).
const (
	// PlacementSpread prefers the least loaded nodes and spreads each
	// workload's pods over nodes.
	PlacementSpread = "spread"
	// PlacementBinPack prefers the fullest nodes that still fit, leaving
	// whole nodes free.
	PlacementBinPack = "bin-pack"
)

// Config is the scheduler configuration file (--scheduler-config).
type Config struct {
	// APIVersion and Kind are optional; if set they must be
	// berth.io/v1alpha1 and SchedulerConfiguration.
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// PercentageOfNodesToScore bounds how many feasible nodes are looked
	// for before scoring: 0 is adaptive (50 % minus 1 % per 125 nodes, at
	// least 5 %, never fewer than 100 nodes), 100 examines every node.
	PercentageOfNodesToScore int32 `json:"percentageOfNodesToScore,omitempty"`
	// PodInitialBackoff and PodMaxBackoff bound the back-off of pods whose
	// attempt failed: it starts at the initial value and doubles per
	// failure up to the maximum (defaults 1s and 10s).
	PodInitialBackoff metav1.Duration `json:"podInitialBackoff,omitempty"`
	PodMaxBackoff     metav1.Duration `json:"podMaxBackoff,omitempty"`
	// MaxUnschedulableWait is how long an unschedulable pod waits for a
	// relevant cluster change before it is retried anyway (default 60s).
	MaxUnschedulableWait metav1.Duration `json:"maxUnschedulableWait,omitempty"`
	// BindConcurrency is the number of bindings in flight (default 128).
	BindConcurrency int `json:"bindConcurrency,omitempty"`
	// Profiles are the schedulers served; pods pick one by spec.schedulerName.
	Profiles []ProfileConfig `json:"profiles"`
}

// ProfileConfig is one scheduler profile.
type ProfileConfig struct {
	// SchedulerName is the spec.schedulerName the profile serves.
	SchedulerName string `json:"schedulerName"`
	// Queue is the queue policy: fcfs, sjf, round-robin or priority.
	Queue string `json:"queue"`
	// Placement is spread (default) or bin-pack.
	Placement string `json:"placement,omitempty"`
	// Preemption lets pods evict lower-priority pods when nothing fits
	// (default: true for the priority policy, false otherwise).
	Preemption *bool `json:"preemption,omitempty"`
	// ScoreWeights overrides score plugin weights by plugin name (0
	// disables a score).
	ScoreWeights map[string]int64 `json:"scoreWeights,omitempty"`
	// SJF configures the sjf policy.
	SJF *SJFArgs `json:"sjf,omitempty"`
	// RoundRobin configures the round-robin policy.
	RoundRobin *RoundRobinArgs `json:"roundRobin,omitempty"`
}

// SJFArgs configures shortest-job-first.
type SJFArgs struct {
	// DefaultDuration is the expected run time of pods without the
	// berth.io/expected-duration annotation (default 1h).
	DefaultDuration metav1.Duration `json:"defaultDuration,omitempty"`
	// AgingFactor is how many seconds of expected run time a second of
	// waiting is worth (default 1; 0 disables aging).
	AgingFactor *float64 `json:"agingFactor,omitempty"`
}

// RoundRobinArgs configures round-robin fair share.
type RoundRobinArgs struct {
	// QueueLabel names the pod label whose value is the pod's queue;
	// pods without it (or when empty) queue by namespace.
	QueueLabel string `json:"queueLabel,omitempty"`
}

// DefaultConfig serves default-scheduler (priority order like Kubernetes,
// with preemption) and one profile per policy: fcfs, sjf, round-robin,
// priority, all placing pods with spread.
func DefaultConfig() Config {
	return Config{Profiles: []ProfileConfig{
		{SchedulerName: "default-scheduler", Queue: "priority"},
		{SchedulerName: "fcfs", Queue: "fcfs"},
		{SchedulerName: "sjf", Queue: "sjf"},
		{SchedulerName: "round-robin", Queue: "round-robin"},
		{SchedulerName: "priority", Queue: "priority"},
	}}
}

// LoadConfig reads and validates a configuration file; an empty path gives
// DefaultConfig.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig().withDefaults()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("scheduler config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses and validates YAML or JSON configuration; unknown
// fields are errors.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return Config{}, fmt.Errorf("scheduler config: %w", err)
	}
	return c.withDefaults()
}

// withDefaults fills defaults and validates.
func (c Config) withDefaults() (Config, error) {
	if c.APIVersion != "" && c.APIVersion != "berth.io/v1alpha1" {
		return c, fmt.Errorf("scheduler config: apiVersion %q: want berth.io/v1alpha1", c.APIVersion)
	}
	if c.Kind != "" && c.Kind != "SchedulerConfiguration" {
		return c, fmt.Errorf("scheduler config: kind %q: want SchedulerConfiguration", c.Kind)
	}
	if c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100 {
		return c, fmt.Errorf("scheduler config: percentageOfNodesToScore %d: want 0 (adaptive) to 100", c.PercentageOfNodesToScore)
	}
	if c.PodInitialBackoff.Duration == 0 {
		c.PodInitialBackoff.Duration = time.Second
	}
	if c.PodMaxBackoff.Duration == 0 {
		c.PodMaxBackoff.Duration = 10 * time.Second
	}
	if c.PodInitialBackoff.Duration < 0 || c.PodMaxBackoff.Duration < c.PodInitialBackoff.Duration {
		return c, fmt.Errorf("scheduler config: podInitialBackoff %s, podMaxBackoff %s: want 0 < initial <= max",
			c.PodInitialBackoff.Duration, c.PodMaxBackoff.Duration)
	}
	if c.MaxUnschedulableWait.Duration == 0 {
		c.MaxUnschedulableWait.Duration = 60 * time.Second
	}
	if c.MaxUnschedulableWait.Duration < 0 {
		return c, fmt.Errorf("scheduler config: maxUnschedulableWait %s must be positive", c.MaxUnschedulableWait.Duration)
	}
	if c.BindConcurrency == 0 {
		c.BindConcurrency = 128
	}
	if c.BindConcurrency < 0 {
		return c, fmt.Errorf("scheduler config: bindConcurrency %d must be positive", c.BindConcurrency)
	}
	if len(c.Profiles) == 0 {
		return c, fmt.Errorf("scheduler config: no profiles")
	}
	seen := map[string]bool{}
	for i := range c.Profiles {
		p := &c.Profiles[i]
		where := fmt.Sprintf("scheduler config: profiles[%d]", i)
		if p.SchedulerName == "" {
			return c, fmt.Errorf("%s: schedulerName is required", where)
		}
		if seen[p.SchedulerName] {
			return c, fmt.Errorf("%s: schedulerName %q appears twice", where, p.SchedulerName)
		}
		seen[p.SchedulerName] = true
		if _, err := queue.NewPolicy(p.Queue, queue.DefaultPolicyConfig()); err != nil {
			return c, fmt.Errorf("%s (%s): queue: %w", where, p.SchedulerName, err)
		}
		switch p.Placement {
		case "":
			p.Placement = PlacementSpread
		case PlacementSpread, PlacementBinPack:
		default:
			return c, fmt.Errorf("%s (%s): placement %q: want %s or %s", where, p.SchedulerName, p.Placement, PlacementSpread, PlacementBinPack)
		}
		if p.Preemption == nil {
			on := p.Queue == "priority"
			p.Preemption = &on
		}
		for name, w := range p.ScoreWeights {
			if !isScorePlugin(name) {
				return c, fmt.Errorf("%s (%s): scoreWeights: unknown score plugin %q (known: %v)", where, p.SchedulerName, name, scorePluginNames())
			}
			if w < 0 || w > 100 {
				return c, fmt.Errorf("%s (%s): scoreWeights[%s] = %d: want 0..100", where, p.SchedulerName, name, w)
			}
		}
		if p.SJF != nil && p.SJF.AgingFactor != nil && *p.SJF.AgingFactor < 0 {
			return c, fmt.Errorf("%s (%s): sjf.agingFactor %g must not be negative", where, p.SchedulerName, *p.SJF.AgingFactor)
		}
		if p.SJF != nil && p.SJF.DefaultDuration.Duration < 0 {
			return c, fmt.Errorf("%s (%s): sjf.defaultDuration must not be negative", where, p.SchedulerName)
		}
	}
	return c, nil
}

// queueConfig returns the policy configuration of profile p.
func (p ProfileConfig) queueConfig() queue.PolicyConfig {
	qc := queue.DefaultPolicyConfig()
	if p.SJF != nil {
		if p.SJF.DefaultDuration.Duration > 0 {
			qc.SJF.DefaultDuration = p.SJF.DefaultDuration.Duration
		}
		if p.SJF.AgingFactor != nil {
			qc.SJF.AgingFactor = *p.SJF.AgingFactor
		}
	}
	if p.RoundRobin != nil {
		qc.RoundRobin.QueueLabel = p.RoundRobin.QueueLabel
	}
	return qc
}
