package hpa

import (
	"math"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of the AbleToScale and ScalingLimited conditions Normalize
// returns.
const (
	// ReasonScaleUpStabilized (AbleToScale): the scale-up window held the
	// count below the recommendation.
	ReasonScaleUpStabilized = "ScaleUpStabilized"
	// ReasonScaleDownStabilized (AbleToScale): the scale-down window held the
	// count above the recommendation.
	ReasonScaleDownStabilized = "ScaleDownStabilized"
	// ReasonReadyForNewScale (AbleToScale): the recommendation applies
	// unchanged.
	ReasonReadyForNewScale = "ReadyForNewScale"
	// ReasonTooFewReplicas (ScalingLimited): raised to minReplicas.
	ReasonTooFewReplicas = "TooFewReplicas"
	// ReasonTooManyReplicas (ScalingLimited): lowered to maxReplicas.
	ReasonTooManyReplicas = "TooManyReplicas"
	// ReasonDesiredWithinRange (ScalingLimited=False): not limited.
	ReasonDesiredWithinRange = "DesiredWithinRange"
	// ReasonScaleUpLimit (ScalingLimited): lowered to the scale-up rate
	// limit.
	ReasonScaleUpLimit = "ScaleUpLimit"
	// ReasonScaleDownLimit (ScalingLimited): raised to the scale-down rate
	// limit.
	ReasonScaleDownLimit = "ScaleDownLimit"
)

// Kubernetes' messages of those reasons.
const (
	msgScaleUpStabilized   = "recent recommendations were lower than current one, applying the lowest recent recommendation"
	msgScaleDownStabilized = "recent recommendations were higher than current one, applying the highest recent recommendation"
	msgReadyForNewScale    = "recommended size matches current size"
	msgTooFewReplicas      = "the desired replica count is less than the minimum replica count"
	msgTooManyReplicas     = "the desired replica count is more than the maximum replica count"
	msgDesiredWithinRange  = "the desired count is within the acceptable range"
	msgScaleUpLimit        = "the desired replica count is increasing faster than the maximum scale rate"
	msgScaleDownLimit      = "the desired replica count is decreasing faster than the maximum scale rate"
)

// The legacy scale-up limit: max(scaleUpLimitFactor*current,
// scaleUpLimitMinimum).
const (
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

// The API server's defaults of a behavior's scaling rules.
const (
	defaultScaleUpPods          int32 = 4
	defaultScaleUpPercent       int32 = 100
	defaultScaleUpPeriodSeconds int32 = 15
	defaultScaleDownPercent     int32 = 100
	defaultScaleDownPeriod      int32 = 15
)

type timestampedRecommendation struct {
	recommendation int32
	timestamp      time.Time
}

type timestampedScaleEvent struct {
	replicaChange int32 // absolute value
	timestamp     time.Time
}

// Stabilizer is the per-HPA memory of recommendations and scale events
// (zero value ready to use); one per HPA, kept by the caller across syncs.
// It is safe for concurrent use; it must not be copied after first use.
type Stabilizer struct {
	mu              sync.Mutex
	recommendations []timestampedRecommendation
	scaleUpEvents   []timestampedScaleEvent
	scaleDownEvents []timestampedScaleEvent
}

// NormalizeArgs are the inputs of normalization.
type NormalizeArgs struct {
	// Key identifies the HPA (namespace/name); informational, the
	// Stabilizer already belongs to one HPA.
	Key string
	// ScaleUpBehavior and ScaleDownBehavior are the behavior's rules; when
	// nil, those of hpa.Spec.Behavior are used. Unset fields take the API
	// server's defaults (a scale-down stabilization window from
	// Config.DownscaleStabilizationWindow).
	ScaleUpBehavior, ScaleDownBehavior *autoscalingv2.HPAScalingRules
	// MinReplicas and MaxReplicas are the HPA's bounds.
	MinReplicas, MaxReplicas int32
	// CurrentReplicas is the scale's spec.replicas.
	CurrentReplicas int32
	// DesiredReplicas is ComputeResult.Replicas.
	DesiredReplicas int32
	// Recommendation, when set, is recorded in the stabilization history
	// instead of DesiredReplicas (Berth's predictive mode records the
	// reactive count, so that a scale-up asked for by a forecast alone is
	// not held for the whole scale-down window once the forecast drops).
	Recommendation *int32
}

// recorded is the count the stabilization history records.
func (a NormalizeArgs) recorded() int32 {
	if a.Recommendation != nil {
		return *a.Recommendation
	}
	return a.DesiredReplicas
}

// RecordInitialRecommendation records current as a recommendation at now
// if the Stabilizer has none yet, as Kubernetes does at the start of every
// sync. Normalize does it too; call it on syncs that do not normalize
// (e.g. when the current count is outside [min, max]) to match Kubernetes
// exactly.
func (s *Stabilizer) RecordInitialRecommendation(current int32, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordInitialRecommendation(current, now)
}

func (s *Stabilizer) recordInitialRecommendation(current int32, now time.Time) {
	if s.recommendations == nil {
		s.recommendations = []timestampedRecommendation{{current, now}}
	}
}

// Normalize clamps and stabilizes a desired replica count, like Kubernetes:
// with hpa.Spec.Behavior == nil the legacy path (downscale stabilization
// window from Config, scale-up limit max(2*current, 4), min/max clamp);
// otherwise stabilization windows, policies and selectPolicy from the
// behavior (defaults for unset rules). It records the recommendation and
// returns the final count plus the AbleToScale (ScaleUpStabilized,
// ScaleDownStabilized, ReadyForNewScale) and ScalingLimited
// (TooFewReplicas, TooManyReplicas, DesiredWithinRange, ScaleUpLimit,
// ScaleDownLimit) conditions with Kubernetes' messages, in that order; their
// LastTransitionTime is left for the caller (see SetCondition).
func (s *Stabilizer) Normalize(cfg Config, h *autoscalingv2.HorizontalPodAutoscaler, args NormalizeArgs, now time.Time) (replicas int32, conds []autoscalingv2.HorizontalPodAutoscalerCondition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordInitialRecommendation(args.CurrentReplicas, now)

	if h == nil || h.Spec.Behavior == nil {
		return s.normalizeLegacy(cfg, args, now)
	}
	up, down := effectiveRules(h, args.ScaleUpBehavior, args.ScaleDownBehavior, cfg.DownscaleStabilizationWindow)
	stabilized, reason, message := s.stabilizeWithBehaviors(args, up, down, now)
	able := condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, msgReadyForNewScale)
	if stabilized != args.DesiredReplicas {
		able.Reason, able.Message = reason, message
	}
	args.DesiredReplicas = stabilized
	replicas, reason, message = s.convertWithBehaviorRate(args, up, down, now)
	return replicas, []autoscalingv2.HorizontalPodAutoscalerCondition{able, limitedCondition(replicas != stabilized, reason, message)}
}

// RecordScale records that the controller changed the replica count from
// old to new at now (the scale events the behavior policies' periods look
// at). Like Kubernetes, nothing is recorded for an HPA without behavior.
// Events of the same direction older than its longest policy period are
// dropped.
func (s *Stabilizer) RecordScale(h *autoscalingv2.HorizontalPodAutoscaler, old, new int32, now time.Time) {
	if h == nil || h.Spec.Behavior == nil || old == new {
		return
	}
	up, down := effectiveRules(h, nil, nil, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	if new > old {
		s.scaleUpEvents = appendScaleEvent(s.scaleUpEvents, longestPolicyPeriod(up), new-old, now)
	} else {
		s.scaleDownEvents = appendScaleEvent(s.scaleDownEvents, longestPolicyPeriod(down), old-new, now)
	}
}

func appendScaleEvent(events []timestampedScaleEvent, longestPeriodSeconds, change int32, now time.Time) []timestampedScaleEvent {
	cutoff := now.Add(-time.Duration(longestPeriodSeconds) * time.Second)
	kept := events[:0]
	for _, e := range events {
		if !e.timestamp.Before(cutoff) {
			kept = append(kept, e)
		}
	}
	return append(kept, timestampedScaleEvent{change, now})
}

func longestPolicyPeriod(rules *autoscalingv2.HPAScalingRules) int32 {
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	return longest
}

// normalizeLegacy is normalizeDesiredReplicas.
func (s *Stabilizer) normalizeLegacy(cfg Config, args NormalizeArgs, now time.Time) (int32, []autoscalingv2.HorizontalPodAutoscalerCondition) {
	stabilized := s.stabilizeLegacy(args.DesiredReplicas, args.recorded(), cfg.DownscaleStabilizationWindow, now)
	able := condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, msgReadyForNewScale)
	if stabilized != args.DesiredReplicas {
		able.Reason, able.Message = ReasonScaleDownStabilized, msgScaleDownStabilized
	}
	replicas, reason, message := convertWithRules(args.CurrentReplicas, stabilized, args.MinReplicas, args.MaxReplicas)
	return replicas, []autoscalingv2.HorizontalPodAutoscalerCondition{able, limitedCondition(replicas != stabilized, reason, message)}
}

// stabilizeLegacy is stabilizeRecommendation: the highest recommendation
// within the window (including this one), recording recorded
// (normally desired) in place of an expired one.
func (s *Stabilizer) stabilizeLegacy(desired, recorded int32, window time.Duration, now time.Time) int32 {
	highest := desired
	cutoff := now.Add(-window)
	oldIndex := -1
	for i, rec := range s.recommendations {
		if rec.timestamp.Before(cutoff) {
			oldIndex = i
		} else if window > 0 && rec.recommendation > highest {
			// With a zero window only this recommendation counts: in
			// Kubernetes the clock has moved past the earlier ones.
			highest = rec.recommendation
		}
	}
	s.record(oldIndex, recorded, now)
	return highest
}

func (s *Stabilizer) record(oldIndex int, recommendation int32, now time.Time) {
	if oldIndex >= 0 {
		s.recommendations[oldIndex] = timestampedRecommendation{recommendation, now}
	} else {
		s.recommendations = append(s.recommendations, timestampedRecommendation{recommendation, now})
	}
}

// convertWithRules is convertDesiredReplicasWithRules.
func convertWithRules(current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	scaleUpLimit := int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum))
	maximumAllowed, reason, message := maxReplicas, ReasonTooManyReplicas, msgTooManyReplicas
	if maxReplicas > scaleUpLimit {
		maximumAllowed, reason, message = scaleUpLimit, ReasonScaleUpLimit, msgScaleUpLimit
	}
	switch {
	case desired < minReplicas:
		return minReplicas, ReasonTooFewReplicas, msgTooFewReplicas
	case desired > maximumAllowed:
		return maximumAllowed, reason, message
	}
	return desired, ReasonDesiredWithinRange, msgDesiredWithinRange
}

// stabilizeWithBehaviors is stabilizeRecommendationWithBehaviors: the
// current count moved up to the lowest recommendation of the scale-up
// window and down to the highest of the scale-down window (both including
// this one), recording this one in place of one that expired from both.
func (s *Stabilizer) stabilizeWithBehaviors(args NormalizeArgs, up, down *autoscalingv2.HPAScalingRules, now time.Time) (int32, string, string) {
	upRecommendation, downRecommendation := args.DesiredReplicas, args.DesiredReplicas
	upCutoff := now.Add(-time.Duration(*up.StabilizationWindowSeconds) * time.Second)
	downCutoff := now.Add(-time.Duration(*down.StabilizationWindowSeconds) * time.Second)
	oldIndex := -1
	for i, rec := range s.recommendations {
		if rec.timestamp.After(upCutoff) {
			upRecommendation = min(rec.recommendation, upRecommendation)
		}
		if rec.timestamp.After(downCutoff) {
			downRecommendation = max(rec.recommendation, downRecommendation)
		}
		if rec.timestamp.Before(upCutoff) && rec.timestamp.Before(downCutoff) {
			oldIndex = i
		}
	}
	recommendation := args.CurrentReplicas
	if recommendation < upRecommendation {
		recommendation = upRecommendation
	}
	if recommendation > downRecommendation {
		recommendation = downRecommendation
	}
	s.record(oldIndex, args.recorded(), now)

	if args.DesiredReplicas >= args.CurrentReplicas {
		return recommendation, ReasonScaleUpStabilized, msgScaleUpStabilized
	}
	return recommendation, ReasonScaleDownStabilized, msgScaleDownStabilized
}

// convertWithBehaviorRate is convertDesiredReplicasWithBehaviorRate: the
// policies' limit, then [min, max].
func (s *Stabilizer) convertWithBehaviorRate(args NormalizeArgs, up, down *autoscalingv2.HPAScalingRules, now time.Time) (int32, string, string) {
	switch {
	case args.DesiredReplicas > args.CurrentReplicas:
		limit := scaleUpLimit(args.CurrentReplicas, s.scaleUpEvents, s.scaleDownEvents, up, now)
		if limit < args.CurrentReplicas {
			// No further scale-up until the recent scale-ups age out.
			limit = args.CurrentReplicas
		}
		maximumAllowed, reason, message := args.MaxReplicas, ReasonTooManyReplicas, msgTooManyReplicas
		if maximumAllowed > limit {
			maximumAllowed, reason, message = limit, ReasonScaleUpLimit, msgScaleUpLimit
		}
		if args.DesiredReplicas > maximumAllowed {
			return maximumAllowed, reason, message
		}
	case args.DesiredReplicas < args.CurrentReplicas:
		limit := scaleDownLimit(args.CurrentReplicas, s.scaleUpEvents, s.scaleDownEvents, down, now)
		if limit > args.CurrentReplicas {
			// No further scale-down until the recent scale-downs age out.
			limit = args.CurrentReplicas
		}
		minimumAllowed, reason, message := args.MinReplicas, ReasonTooFewReplicas, msgTooFewReplicas
		if minimumAllowed < limit {
			minimumAllowed, reason, message = limit, ReasonScaleDownLimit, msgScaleDownLimit
		}
		if args.DesiredReplicas < minimumAllowed {
			return minimumAllowed, reason, message
		}
	}
	return args.DesiredReplicas, ReasonDesiredWithinRange, msgDesiredWithinRange
}

// replicasChangePerPeriod sums the changes of the events within the last
// periodSeconds.
func replicasChangePerPeriod(periodSeconds int32, events []timestampedScaleEvent, now time.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var replicas int32
	for _, e := range events {
		if e.timestamp.After(cutoff) {
			replicas += e.replicaChange
		}
	}
	return replicas
}

// scaleUpLimit is calculateScaleUpLimitWithScalingRules: the largest
// (selectPolicy Max) or smallest (Min) count the policies allow from the
// count at the start of their period; the current count when Disabled.
func scaleUpLimit(current int32, upEvents, downEvents []timestampedScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	return policyLimit(true, current, upEvents, downEvents, rules, now)
}

// scaleDownLimit is calculateScaleDownLimitWithBehaviors: the smallest
// (selectPolicy Max) or largest (Min) count the policies allow from the
// count at the start of their period; the current count when Disabled.
func scaleDownLimit(current int32, upEvents, downEvents []timestampedScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	return policyLimit(false, current, upEvents, downEvents, rules, now)
}

// policyLimit is the count the policies of rules allow in one direction
// (up or down): each policy proposes a count from the count at the start
// of its period, and selectPolicy Max picks the proposal that changes the
// most, Min the one that changes the least.
func policyLimit(up bool, current int32, upEvents, downEvents []timestampedScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *rules.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	// Keep the highest proposal when scaling up for the most change, or
	// down for the least; the lowest otherwise.
	highest := up == (*rules.SelectPolicy != autoscalingv2.MinChangePolicySelect)
	result := int32(math.MaxInt32)
	if highest {
		result = math.MinInt32
	}
	sign := int32(-1)
	if up {
		sign = 1
	}
	for _, p := range rules.Policies {
		start := current - replicasChangePerPeriod(p.PeriodSeconds, upEvents, now) + replicasChangePerPeriod(p.PeriodSeconds, downEvents, now)
		var proposed int32
		switch {
		case p.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start + sign*p.Value
		case p.Type == autoscalingv2.PercentScalingPolicy && up:
			// Rounded up so that a small percentage still adds a pod.
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		case p.Type == autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if highest {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

// effectiveRules returns the scale-up and scale-down rules with the API
// server's defaults for what is unset: scale-up window 0, policies 4 pods
// and 100% per 15s, selectPolicy Max; scale-down window
// downscaleWindow, policy 100% per 15s, selectPolicy Max. up and down
// override the HPA's rules when non-nil.
func effectiveRules(h *autoscalingv2.HorizontalPodAutoscaler, up, down *autoscalingv2.HPAScalingRules, downscaleWindow time.Duration) (*autoscalingv2.HPAScalingRules, *autoscalingv2.HPAScalingRules) {
	if b := h.Spec.Behavior; b != nil {
		if up == nil {
			up = b.ScaleUp
		}
		if down == nil {
			down = b.ScaleDown
		}
	}
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	upDefaults := autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr(int32(0)),
		SelectPolicy:               &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: defaultScaleUpPods, PeriodSeconds: defaultScaleUpPeriodSeconds},
			{Type: autoscalingv2.PercentScalingPolicy, Value: defaultScaleUpPercent, PeriodSeconds: defaultScaleUpPeriodSeconds},
		},
	}
	downDefaults := autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr(int32(downscaleWindow / time.Second)),
		SelectPolicy:               &maxPolicy,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: defaultScaleDownPercent, PeriodSeconds: defaultScaleDownPeriod},
		},
	}
	return withDefaults(up, upDefaults), withDefaults(down, downDefaults)
}

func withDefaults(r *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if r == nil {
		return &def
	}
	out := def
	if r.StabilizationWindowSeconds != nil {
		out.StabilizationWindowSeconds = r.StabilizationWindowSeconds
	}
	if r.SelectPolicy != nil {
		out.SelectPolicy = r.SelectPolicy
	}
	if r.Policies != nil {
		out.Policies = r.Policies
	}
	out.Tolerance = r.Tolerance
	return &out
}

func ptr[T any](v T) *T { return &v }

func condition(t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string) autoscalingv2.HorizontalPodAutoscalerCondition {
	return autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: status, Reason: reason, Message: message}
}

// limitedCondition is the ScalingLimited condition: True when the count
// was changed by the limits.
func limitedCondition(limited bool, reason, message string) autoscalingv2.HorizontalPodAutoscalerCondition {
	status := corev1.ConditionFalse
	if limited {
		status = corev1.ConditionTrue
	}
	return condition(autoscalingv2.ScalingLimited, status, reason, message)
}

// SetCondition sets c in conditions the way Kubernetes' setConditionInList
// does: the condition of c's type is added or updated in place, and its
// LastTransitionTime becomes now only when its status changes.
func SetCondition(conditions []autoscalingv2.HorizontalPodAutoscalerCondition, c autoscalingv2.HorizontalPodAutoscalerCondition, now time.Time) []autoscalingv2.HorizontalPodAutoscalerCondition {
	var existing *autoscalingv2.HorizontalPodAutoscalerCondition
	for i := range conditions {
		if conditions[i].Type == c.Type {
			existing = &conditions[i]
			break
		}
	}
	if existing == nil {
		conditions = append(conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: c.Type})
		existing = &conditions[len(conditions)-1]
	}
	if existing.Status != c.Status {
		existing.LastTransitionTime = metav1.NewTime(now)
	}
	existing.Status = c.Status
	existing.Reason = c.Reason
	existing.Message = c.Message
	return conditions
}
