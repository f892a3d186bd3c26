package queue

import (
	"fmt"
	"math"
	"strings"
)

// PolicyNames are the names NewPolicy accepts.
var PolicyNames = []string{"fcfs", "sjf", "round-robin", "priority"}

// PolicyConfig holds the settings of the policies that have any; NewPolicy
// uses the part for the policy it builds. Its zero value disables SJF
// aging; DefaultPolicyConfig has the recommended settings.
type PolicyConfig struct {
	// SJF configures the "sjf" policy.
	SJF SJFConfig
	// RoundRobin configures the "round-robin" policy.
	RoundRobin RoundRobinConfig
}

// DefaultPolicyConfig returns a PolicyConfig with the defaults of every policy
// (in particular SJF aging enabled, see DefaultSJFConfig).
func DefaultPolicyConfig() PolicyConfig {
	return PolicyConfig{SJF: DefaultSJFConfig()}
}

// NewPolicy returns the policy called name (one of PolicyNames) configured
// by cfg. It fails for unknown names and, for "sjf", for a negative
// DefaultDuration or a negative, NaN or infinite AgingFactor.
func NewPolicy(name string, cfg PolicyConfig) (Policy, error) {
	switch name {
	case "fcfs":
		return NewFCFS(), nil
	case "priority":
		return NewPriority(), nil
	case "sjf":
		if err := validateSJF(cfg.SJF); err != nil {
			return nil, err
		}
		return NewSJF(cfg.SJF), nil
	case "round-robin":
		return NewRoundRobin(cfg.RoundRobin), nil
	}
	return nil, fmt.Errorf("unknown queue policy %q: valid policies are %s",
		name, strings.Join(PolicyNames, ", "))
}

// validateSJF rejects settings NewSJF would silently replace.
func validateSJF(c SJFConfig) error {
	if c.DefaultDuration < 0 {
		return fmt.Errorf("sjf queue policy: negative default duration %v", c.DefaultDuration)
	}
	if math.IsNaN(c.AgingFactor) || math.IsInf(c.AgingFactor, 0) || c.AgingFactor < 0 {
		return fmt.Errorf("sjf queue policy: aging factor %v must be a finite number >= 0", c.AgingFactor)
	}
	return nil
}
