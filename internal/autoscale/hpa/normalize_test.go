package hpa

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// step is an earlier sync: Normalize(current, desired) at testNow+at.
type step struct {
	at               time.Duration
	current, desired int32
}

// scale is an earlier rescale recorded at testNow+at.
type scale struct {
	at       time.Duration
	old, new int32
}

type normCase struct {
	name     string
	cfg      *Config // default testConfig
	behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
	override *autoscalingv2.HPAScalingRules // NormalizeArgs.ScaleUpBehavior
	history  []step
	scales   []scale
	min, max int32
	current  int32
	desired  int32

	want           int32
	wantAble       string
	wantLimited    string
	wantLimitedSet bool // ScalingLimited status True
}

var (
	msgByReason = map[string]string{
		ReasonScaleUpStabilized:   "recent recommendations were lower than current one, applying the lowest recent recommendation",
		ReasonScaleDownStabilized: "recent recommendations were higher than current one, applying the highest recent recommendation",
		ReasonReadyForNewScale:    "recommended size matches current size",
		ReasonTooFewReplicas:      "the desired replica count is less than the minimum replica count",
		ReasonTooManyReplicas:     "the desired replica count is more than the maximum replica count",
		ReasonDesiredWithinRange:  "the desired count is within the acceptable range",
		ReasonScaleUpLimit:        "the desired replica count is increasing faster than the maximum scale rate",
		ReasonScaleDownLimit:      "the desired replica count is decreasing faster than the maximum scale rate",
	}
)

func runNormCases(t *testing.T, cases []normCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig
			if c.cfg != nil {
				cfg = *c.cfg
			}
			h := mkHPA(c.behavior, cpuUtilization(50))
			minR, maxR := c.min, c.max
			if minR == 0 {
				minR = 1
			}
			if maxR == 0 {
				maxR = 100
			}
			var s Stabilizer
			args := func(current, desired int32) NormalizeArgs {
				a := NormalizeArgs{Key: "ns/web", MinReplicas: minR, MaxReplicas: maxR, CurrentReplicas: current, DesiredReplicas: desired, ScaleUpBehavior: c.override}
				if c.behavior != nil && c.override == nil {
					a.ScaleUpBehavior, a.ScaleDownBehavior = c.behavior.ScaleUp, c.behavior.ScaleDown
				}
				return a
			}
			for _, st := range c.history {
				s.Normalize(cfg, h, args(st.current, st.desired), testNow.Add(st.at))
			}
			for _, sc := range c.scales {
				s.RecordScale(h, sc.old, sc.new, testNow.Add(sc.at))
			}
			got, conds := s.Normalize(cfg, h, args(c.current, c.desired), testNow)
			if got != c.want {
				t.Errorf("replicas = %d, want %d", got, c.want)
			}
			if len(conds) != 2 {
				t.Fatalf("conditions = %+v, want AbleToScale and ScalingLimited", conds)
			}
			able, limited := conds[0], conds[1]
			if able.Type != autoscalingv2.AbleToScale || able.Status != corev1.ConditionTrue || able.Reason != c.wantAble || able.Message != msgByReason[c.wantAble] {
				t.Errorf("AbleToScale = %+v, want True %s", able, c.wantAble)
			}
			wantStatus := corev1.ConditionFalse
			if c.wantLimitedSet {
				wantStatus = corev1.ConditionTrue
			}
			if limited.Type != autoscalingv2.ScalingLimited || limited.Status != wantStatus || limited.Reason != c.wantLimited || limited.Message != msgByReason[c.wantLimited] {
				t.Errorf("ScalingLimited = %+v, want %s %s", limited, wantStatus, c.wantLimited)
			}
		})
	}
}

// TestNormalizeLegacy covers normalizeDesiredReplicas (no behavior).
func TestNormalizeLegacy(t *testing.T) {
	zeroWindow := testConfig
	zeroWindow.DownscaleStabilizationWindow = 0
	runNormCases(t, []normCase{
		{name: "scale up limited to twice the current count", current: 3, desired: 10, max: 20,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "scale up limited to at least 4", current: 1, desired: 10, max: 20,
			want: 4, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "max below the scale-up limit", current: 3, desired: 10, max: 5,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonTooManyReplicas, wantLimitedSet: true},
		{name: "desired within range", current: 3, desired: 5, max: 10,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "desired equals the scale-up limit", current: 3, desired: 6, max: 10,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "below min (no stabilization window)", cfg: &zeroWindow, current: 3, desired: 1, min: 2,
			want: 2, wantAble: ReasonReadyForNewScale, wantLimited: ReasonTooFewReplicas, wantLimitedSet: true},
		{name: "first sync: the current count is a recent recommendation", current: 5, desired: 2,
			want: 5, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "downscale stabilization keeps the highest recent recommendation",
			history: []step{{-4 * time.Minute, 5, 5}, {-2 * time.Minute, 5, 4}}, current: 5, desired: 2,
			want: 5, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "expired recommendations no longer count",
			history: []step{{-6 * time.Minute, 5, 5}, {-1 * time.Minute, 5, 3}}, current: 5, desired: 2,
			want: 3, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "all recommendations expired",
			history: []step{{-10 * time.Minute, 5, 5}, {-6 * time.Minute, 5, 4}}, current: 5, desired: 2,
			want: 2, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "zero window: no stabilization", cfg: &zeroWindow,
			history: []step{{-time.Minute, 5, 5}}, current: 5, desired: 2,
			want: 2, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "stabilized recommendation clamped to max", current: 3, desired: 2, max: 2,
			history: []step{{-time.Minute, 3, 8}},
			want:    2, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonTooManyReplicas, wantLimitedSet: true},
	})
}

func rules(window *int32, sel autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	r := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: window, Policies: policies}
	if sel != "" {
		r.SelectPolicy = &sel
	}
	return r
}

func pods(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: n, PeriodSeconds: period}
}

func percent(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: n, PeriodSeconds: period}
}

func secs(n int32) *int32 { return &n }

func behavior(up, down *autoscalingv2.HPAScalingRules) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: up, ScaleDown: down}
}

// noDownWindow is a scale-down rule set without stabilization and the
// default policy.
var noDownWindow = rules(secs(0), "")

// TestNormalizeWithBehavior covers normalizeDesiredReplicasWithBehaviors.
func TestNormalizeWithBehavior(t *testing.T) {
	runNormCases(t, []normCase{
		// Defaults.
		{name: "default scale up: 4 pods or 100% per 15s", behavior: behavior(nil, nil), current: 3, desired: 20,
			want: 7, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "default scale up: 100% wins over 4 pods", behavior: behavior(nil, nil), current: 10, desired: 50,
			want: 20, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "default scale down window comes from the config", behavior: behavior(nil, nil),
			history: []step{{-time.Minute, 10, 10}}, current: 10, desired: 4,
			want: 10, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "default scale down allows 100% per 15s", behavior: behavior(nil, noDownWindow), current: 10, desired: 1,
			want: 1, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},

		// Stabilization windows.
		{name: "scale-down window expired", behavior: behavior(nil, rules(secs(60), "")),
			history: []step{{-2 * time.Minute, 10, 10}}, current: 10, desired: 4,
			want: 4, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "scale-down window takes the highest recommendation", behavior: behavior(nil, rules(secs(60), "")),
			history: []step{{-2 * time.Minute, 10, 10}, {-50 * time.Second, 10, 7}, {-20 * time.Second, 10, 5}}, current: 10, desired: 4,
			want: 7, wantAble: ReasonScaleDownStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "scale-up window takes the lowest recommendation", behavior: behavior(rules(secs(60), ""), nil),
			history: []step{{-30 * time.Second, 2, 2}}, current: 2, desired: 6,
			want: 2, wantAble: ReasonScaleUpStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "scale-up window partly expired", behavior: behavior(rules(secs(60), ""), nil),
			history: []step{{-90 * time.Second, 2, 2}, {-45 * time.Second, 2, 5}}, current: 2, desired: 6,
			want: 5, wantAble: ReasonScaleUpStabilized, wantLimited: ReasonDesiredWithinRange},
		{name: "no scale-up window: the new recommendation applies at once", behavior: behavior(rules(secs(0), ""), nil),
			history: []step{{-15 * time.Second, 2, 2}}, current: 2, desired: 6,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},

		// Pods and Percent policies with periods.
		{name: "pods policy limits scale up", behavior: behavior(rules(nil, "", pods(2, 60)), nil), current: 4, desired: 10,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "pods policy counts a recent scale up", behavior: behavior(rules(nil, "", pods(2, 60)), nil),
			scales: []scale{{-30 * time.Second, 4, 6}}, current: 6, desired: 10,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "pods policy forgets a scale up older than its period", behavior: behavior(rules(nil, "", pods(2, 60)), nil),
			scales: []scale{{-61 * time.Second, 4, 6}}, current: 6, desired: 10,
			want: 8, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "percent policy limits scale up", behavior: behavior(rules(nil, "", percent(50, 60)), nil), current: 4, desired: 10,
			want: 6, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "percent scale up rounds up", behavior: behavior(rules(nil, "", percent(10, 60)), nil), current: 3, desired: 10,
			want: 4, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "a recent scale down raises the scale-up limit", behavior: behavior(rules(nil, "", pods(4, 60)), noDownWindow),
			scales: []scale{{-30 * time.Second, 10, 6}}, current: 6, desired: 20,
			want: 14, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "percent policy limits scale down", behavior: behavior(nil, rules(secs(0), "", percent(50, 60))), current: 10, desired: 2,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "percent policy counts a recent scale down", behavior: behavior(nil, rules(secs(0), "", percent(50, 60))),
			scales: []scale{{-30 * time.Second, 10, 5}}, current: 5, desired: 2,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "percent scale down after the period", behavior: behavior(nil, rules(secs(0), "", percent(50, 60))),
			scales: []scale{{-61 * time.Second, 10, 5}}, current: 5, desired: 2,
			want: 2, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},
		{name: "percent scale down truncates", behavior: behavior(nil, rules(secs(0), "", percent(30, 60))), current: 5, desired: 1,
			want: 3, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "pods policy limits scale down", behavior: behavior(nil, rules(secs(0), "", pods(3, 60))), current: 10, desired: 1,
			want: 7, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},

		// selectPolicy.
		{name: "selectPolicy Max scale up picks the largest change", behavior: behavior(rules(nil, autoscalingv2.MaxChangePolicySelect, pods(4, 60), percent(100, 60)), nil),
			current: 10, desired: 40,
			want: 20, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "selectPolicy Min scale up picks the smallest change", behavior: behavior(rules(nil, autoscalingv2.MinChangePolicySelect, pods(4, 60), percent(100, 60)), nil),
			current: 10, desired: 40,
			want: 14, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "selectPolicy Max scale down picks the largest change", behavior: behavior(nil, rules(secs(0), autoscalingv2.MaxChangePolicySelect, pods(2, 60), percent(50, 60))),
			current: 10, desired: 1,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "selectPolicy Min scale down picks the smallest change", behavior: behavior(nil, rules(secs(0), autoscalingv2.MinChangePolicySelect, pods(2, 60), percent(50, 60))),
			current: 10, desired: 1,
			want: 8, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "selectPolicy Disabled scale up", behavior: behavior(rules(nil, autoscalingv2.DisabledPolicySelect), nil),
			current: 3, desired: 8,
			want: 3, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
		{name: "selectPolicy Disabled scale down", behavior: behavior(nil, rules(secs(0), autoscalingv2.DisabledPolicySelect)),
			current: 8, desired: 3,
			want: 8, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},
		{name: "scale down disabled does not block scale up", behavior: behavior(nil, rules(secs(0), autoscalingv2.DisabledPolicySelect)),
			current: 3, desired: 5,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonDesiredWithinRange},

		// Clamp to [min, max].
		{name: "max with behavior", behavior: behavior(nil, nil), current: 3, desired: 20, max: 5,
			want: 5, wantAble: ReasonReadyForNewScale, wantLimited: ReasonTooManyReplicas, wantLimitedSet: true},
		{name: "min with behavior", behavior: behavior(nil, noDownWindow), current: 5, desired: 1, min: 3,
			want: 3, wantAble: ReasonReadyForNewScale, wantLimited: ReasonTooFewReplicas, wantLimitedSet: true},
		{name: "scale-down limit above min", behavior: behavior(nil, rules(secs(0), "", pods(1, 60))), current: 5, desired: 1, min: 3,
			want: 4, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleDownLimit, wantLimitedSet: true},

		// NormalizeArgs rules override the HPA's.
		{name: "args scale-up rules override", behavior: behavior(nil, nil), override: rules(nil, "", pods(1, 60)),
			current: 3, desired: 10,
			want: 4, wantAble: ReasonReadyForNewScale, wantLimited: ReasonScaleUpLimit, wantLimitedSet: true},
	})
}

// TestScaleEvents checks what RecordScale keeps.
func TestScaleEvents(t *testing.T) {
	h := mkHPA(behavior(rules(nil, "", pods(4, 60), percent(100, 30)), rules(nil, "", percent(50, 120))))
	var s Stabilizer
	s.RecordScale(h, 1, 2, testNow)
	s.RecordScale(h, 2, 3, testNow.Add(10*time.Second))
	s.RecordScale(h, 3, 3, testNow.Add(20*time.Second)) // no change: nothing recorded
	s.RecordScale(h, 3, 1, testNow.Add(30*time.Second))
	if len(s.scaleUpEvents) != 2 || len(s.scaleDownEvents) != 1 {
		t.Fatalf("events up/down = %d/%d, want 2/1", len(s.scaleUpEvents), len(s.scaleDownEvents))
	}
	if s.scaleDownEvents[0].replicaChange != 2 {
		t.Fatalf("scale-down change = %d, want 2", s.scaleDownEvents[0].replicaChange)
	}
	// 70s after the first event: older than the longest scale-up period
	// (60s), dropped; the second (60s old) is kept.
	s.RecordScale(h, 1, 5, testNow.Add(70*time.Second))
	if len(s.scaleUpEvents) != 2 || s.scaleUpEvents[0].replicaChange != 1 || s.scaleUpEvents[1].replicaChange != 4 {
		t.Fatalf("scale-up events = %+v, want changes [1 4]", s.scaleUpEvents)
	}
	// The scale-down event is 100s old, within its 120s period: kept.
	s.RecordScale(h, 5, 4, testNow.Add(130*time.Second))
	if len(s.scaleDownEvents) != 2 {
		t.Fatalf("scale-down events = %+v, want 2", s.scaleDownEvents)
	}
	s.RecordScale(h, 4, 3, testNow.Add(200*time.Second))
	if len(s.scaleDownEvents) != 2 || s.scaleDownEvents[0].replicaChange != 1 {
		t.Fatalf("scale-down events = %+v, want the last two", s.scaleDownEvents)
	}

	// Without behavior Kubernetes records nothing.
	var legacy Stabilizer
	legacy.RecordScale(mkHPA(nil), 1, 4, testNow)
	if len(legacy.scaleUpEvents) != 0 || len(legacy.scaleDownEvents) != 0 {
		t.Fatal("events recorded for an HPA without behavior")
	}
}

// TestRecommendationsReuseExpiredSlots checks that the recommendations do
// not grow without bound.
func TestRecommendationsReuseExpiredSlots(t *testing.T) {
	cfg := testConfig
	h := mkHPA(nil)
	var s Stabilizer
	for i := range 100 {
		now := testNow.Add(time.Duration(i) * time.Minute)
		s.Normalize(cfg, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 10, CurrentReplicas: 3, DesiredReplicas: 3}, now)
	}
	// A 5m window with one sync a minute: about 6 live recommendations.
	if n := len(s.recommendations); n > 8 {
		t.Fatalf("%d recommendations kept, want at most 8", n)
	}
}

func TestRecordInitialRecommendation(t *testing.T) {
	var s Stabilizer
	s.RecordInitialRecommendation(6, testNow.Add(-time.Minute))
	s.RecordInitialRecommendation(9, testNow) // ignored: already initialized
	got, conds := s.Normalize(testConfig, mkHPA(nil), NormalizeArgs{MinReplicas: 1, MaxReplicas: 10, CurrentReplicas: 4, DesiredReplicas: 2}, testNow)
	if got != 6 || conds[0].Reason != ReasonScaleDownStabilized {
		t.Fatalf("Normalize = %d, %s; want 6, ScaleDownStabilized", got, conds[0].Reason)
	}
}

// TestNormalizeSimulation runs a sequence of syncs the way a controller
// would: normalize, then record the rescale.
func TestNormalizeSimulation(t *testing.T) {
	h := mkHPA(behavior(rules(nil, "", pods(2, 60)), rules(secs(30), "", pods(1, 60))))
	cfg := testConfig
	var s Stabilizer
	current := int32(2)
	// One sync every 15s; the comments give the time and why.
	steps := []struct {
		desired int32
		want    int32
	}{
		{10, 4}, // 0s: +2 per 60s
		{10, 4}, // 15s: the last 60s already added 2
		{10, 4}, // 30s
		{10, 4}, // 45s
		{10, 6}, // 60s: the first scale up left the period
		{1, 6},  // 75s: the scale-down window (30s) still holds the 10 of 60s
		{1, 3},  // 90s: -1 per 60s from the 4 replicas of 60s ago
		{1, 3},  // 105s: the period started at 4 replicas
		{1, 3},  // 120s: the scale down of 90s is within the period
		{1, 3},  // 135s
		{1, 2},  // 150s: the scale down of 90s left the period
		{1, 2},  // 165s
		{1, 2},  // 180s
		{1, 2},  // 195s
		{1, 1},  // 210s
		{10, 4}, // 225s: +2 from the 2 replicas of 60s ago
		{10, 4}, // 240s
		{10, 4}, // 255s
		{10, 4}, // 270s: the period started at 1 replica: limit 3 < 4
		{10, 6}, // 285s: the scale up of 225s left the period
	}
	for i, st := range steps {
		now := testNow.Add(time.Duration(i) * 15 * time.Second)
		got, _ := s.Normalize(cfg, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 20, CurrentReplicas: current, DesiredReplicas: st.desired}, now)
		if got != st.want {
			t.Fatalf("step %d (t=%v): replicas = %d, want %d", i, now.Sub(testNow), got, st.want)
		}
		if got != current {
			s.RecordScale(h, current, got, now)
			current = got
		}
	}
}

func TestSetCondition(t *testing.T) {
	t0 := testNow
	conds := SetCondition(nil, condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonReadyForNewScale, msgReadyForNewScale), t0)
	conds = SetCondition(conds, condition(autoscalingv2.ScalingActive, corev1.ConditionTrue, ReasonValidMetricFound, "m"), t0)
	if len(conds) != 2 || !conds[0].LastTransitionTime.Equal(&metav1.Time{Time: t0}) {
		t.Fatalf("conditions = %+v", conds)
	}
	// Same status: reason and message change, the transition time stays.
	conds = SetCondition(conds, condition(autoscalingv2.AbleToScale, corev1.ConditionTrue, ReasonScaleDownStabilized, msgScaleDownStabilized), t0.Add(time.Minute))
	if conds[0].Reason != ReasonScaleDownStabilized || !conds[0].LastTransitionTime.Time.Equal(t0) {
		t.Fatalf("AbleToScale = %+v, want ScaleDownStabilized with the old transition time", conds[0])
	}
	// Status change: new transition time.
	conds = SetCondition(conds, condition(autoscalingv2.ScalingActive, corev1.ConditionFalse, ReasonFailedGetResourceMetric, "x"), t0.Add(2*time.Minute))
	if len(conds) != 2 || conds[1].Status != corev1.ConditionFalse || !conds[1].LastTransitionTime.Time.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("ScalingActive = %+v", conds[1])
	}
}

// TestRecommendationRecordedInsteadOfDesired checks NormalizeArgs.
// Recommendation: a scale-up asked for by a forecast alone (desired above
// the recorded reactive count) is not held by the scale-down window.
func TestRecommendationRecordedInsteadOfDesired(t *testing.T) {
	for _, h := range []*autoscalingv2.HorizontalPodAutoscaler{mkHPA(nil), mkHPA(behavior(nil, nil))} {
		var s Stabilizer
		reactive := int32(4)
		got, _ := s.Normalize(testConfig, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 20, CurrentReplicas: 4, DesiredReplicas: 8, Recommendation: &reactive}, testNow)
		if got != 8 {
			t.Fatalf("behavior %v: forecast scale-up gave %d, want 8", h.Spec.Behavior != nil, got)
		}
		// A minute later the forecast dropped: back to what the rule asked.
		got, _ = s.Normalize(testConfig, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 20, CurrentReplicas: 8, DesiredReplicas: 4, Recommendation: &reactive}, testNow.Add(time.Minute))
		if got != 4 {
			t.Fatalf("behavior %v: after the forecast dropped %d, want 4 (not held at 8)", h.Spec.Behavior != nil, got)
		}
		// Without Recommendation the 8 is held by the 5-minute window.
		var k Stabilizer
		k.Normalize(testConfig, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 20, CurrentReplicas: 4, DesiredReplicas: 8}, testNow)
		if got, _ := k.Normalize(testConfig, h, NormalizeArgs{MinReplicas: 1, MaxReplicas: 20, CurrentReplicas: 8, DesiredReplicas: 4}, testNow.Add(time.Minute)); got != 8 {
			t.Fatalf("behavior %v: Kubernetes' rule gave %d, want 8 held", h.Spec.Behavior != nil, got)
		}
	}
}
