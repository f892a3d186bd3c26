package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// podStrategyWith returns the pods' strategy built with opts.
func podStrategyWith(t *testing.T, opts Options) Strategy {
	t.Helper()
	for _, r := range AllWith(opts) {
		if r.GroupVersion.String() == "v1" && r.Resource == "pods" {
			return r.Strategy
		}
	}
	t.Fatal("pods not registered")
	return Strategy{}
}

// TestDefaultTolerationSeconds: every pod gets NoExecute tolerations of the
// not-ready and unreachable taints for the configured seconds, unless it
// tolerates them itself.
func TestDefaultTolerationSeconds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		own  []corev1.Toleration
		// want maps a taint key to the tolerationSeconds of its
		// NoExecute toleration.
		want map[string]int64
		// total is the number of tolerations the pod ends up with.
		total int
	}{
		{name: "defaults: 300 s", opts: DefaultOptions(),
			want:  map[string]int64{corev1.TaintNodeNotReady: 300, corev1.TaintNodeUnreachable: 300},
			total: 2},
		{name: "configured apart", opts: Options{NotReadyTolerationSeconds: 60, UnreachableTolerationSeconds: 5},
			want:  map[string]int64{corev1.TaintNodeNotReady: 60, corev1.TaintNodeUnreachable: 5},
			total: 2},
		{name: "zero evicts at once", opts: Options{},
			want:  map[string]int64{corev1.TaintNodeNotReady: 0, corev1.TaintNodeUnreachable: 0},
			total: 2},
		{name: "a pod's own toleration of one taint is kept", opts: Options{NotReadyTolerationSeconds: 7, UnreachableTolerationSeconds: 7},
			own:   []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo(int64(1000))}},
			want:  map[string]int64{corev1.TaintNodeNotReady: 7, corev1.TaintNodeUnreachable: 1000},
			total: 2},
		{name: "a toleration of every taint needs none added", opts: Options{NotReadyTolerationSeconds: 7, UnreachableTolerationSeconds: 7},
			own:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			want:  map[string]int64{},
			total: 1},
		{name: "a NoSchedule toleration does not count", opts: Options{NotReadyTolerationSeconds: 9, UnreachableTolerationSeconds: 8},
			own:   []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			want:  map[string]int64{corev1.TaintNodeNotReady: 9, corev1.TaintNodeUnreachable: 8},
			total: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := podStrategyWith(t, tc.opts)
			pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: simplePodSpec()}
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, tc.own...)
			s.PrepareForCreate(pod)
			s.Default(pod)
			wantNoErrs(t, s.Validate(pod))
			if len(pod.Spec.Tolerations) != tc.total {
				t.Errorf("%d tolerations, want %d: %+v", len(pod.Spec.Tolerations), tc.total, pod.Spec.Tolerations)
			}
			for key, want := range tc.want {
				found := false
				for _, tol := range pod.Spec.Tolerations {
					if tol.Key != key || tol.Effect != corev1.TaintEffectNoExecute {
						continue
					}
					found = true
					if tol.TolerationSeconds == nil || *tol.TolerationSeconds != want {
						t.Errorf("%s: tolerationSeconds %v, want %d", key, tol.TolerationSeconds, want)
					}
				}
				if !found {
					t.Errorf("no NoExecute toleration of %s: %+v", key, pod.Spec.Tolerations)
				}
			}
		})
	}
}
