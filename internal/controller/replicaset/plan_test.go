package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func testRS(replicas int32) *appsv1.ReplicaSet {
	l := map[string]string{"app": "web"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid", Generation: 3},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

// pod builds a pod; opts tweak it.
func pod(name string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", UID: types.UID(name + "-uid"),
		Labels:            map[string]string{"app": "web", "tier": "front"},
		CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
	}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func owned(p *corev1.Pod) {
	p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(testRS(1), kind)}
}

func ownedBy(uid types.UID) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		rs := testRS(1)
		rs.UID = uid
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, kind)}
	}
}

func lbl(l map[string]string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Labels = l } }
func node(n string) func(*corev1.Pod)           { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func created(d time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}
func deleting(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }
func restartsN(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

// readyFor marks the pod Running and Ready since d ago.
func readyFor(d time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-d))}}
	}
}

func names(pods []*corev1.Pod) string {
	s := ""
	for i, p := range pods {
		if i > 0 {
			s += ","
		}
		s += p.Name
	}
	return s
}

func TestPlanClaims(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	other := map[string]string{"app": "db"}
	cases := []struct {
		name                 string
		deleting             bool
		pods                 []*corev1.Pod
		keep, adopt, release string
	}{
		{name: "owned matching kept", pods: []*corev1.Pod{pod("a", owned)}, keep: "a"},
		{name: "orphan matching adopted", pods: []*corev1.Pod{pod("a")}, adopt: "a"},
		{name: "orphan not matching ignored", pods: []*corev1.Pod{pod("a", lbl(other))}},
		{name: "owned not matching released", pods: []*corev1.Pod{pod("a", owned, lbl(other))}, release: "a"},
		{name: "other controller ignored", pods: []*corev1.Pod{pod("a", ownedBy("other"))}},
		{name: "inactive ignored", pods: []*corev1.Pod{
			pod("a", owned, deleting), pod("b", owned, phase(corev1.PodSucceeded)),
			pod("c", phase(corev1.PodFailed)), pod("d", owned, lbl(other), deleting),
		}},
		{name: "deleting rs neither adopts nor releases", deleting: true,
			pods: []*corev1.Pod{pod("a", owned), pod("b"), pod("c", owned, lbl(other))}, keep: "a"},
		{name: "mixed", pods: []*corev1.Pod{pod("a", owned), pod("b"), pod("c", owned, lbl(other)), pod("d", owned)},
			keep: "a,d", adopt: "b", release: "c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := testRS(1)
			if tc.deleting {
				now := metav1.NewTime(t0)
				rs.DeletionTimestamp = &now
			}
			p := planClaims(rs, sel, tc.pods)
			if got := names(p.Keep); got != tc.keep {
				t.Errorf("keep = %q, want %q", got, tc.keep)
			}
			if got := names(p.Adopt); got != tc.adopt {
				t.Errorf("adopt = %q, want %q", got, tc.adopt)
			}
			if got := names(p.Release); got != tc.release {
				t.Errorf("release = %q, want %q", got, tc.release)
			}
		})
	}
	t.Run("empty selector matches nothing", func(t *testing.T) {
		if p := planClaims(testRS(1), labels.Everything(), []*corev1.Pod{pod("a")}); len(p.Adopt) != 0 {
			t.Errorf("adopted %s with an empty selector", names(p.Adopt))
		}
	})
}

func TestPlanScale(t *testing.T) {
	three := []*corev1.Pod{pod("old", readyFor(time.Hour)), pod("unbound"), pod("pending", node("n1"), phase(corev1.PodPending))}
	cases := []struct {
		name     string
		active   []*corev1.Pod
		replicas int32
		burst    int
		create   int
		del      string
	}{
		{name: "steady", active: three, replicas: 3, burst: 500},
		{name: "create missing", active: three, replicas: 5, burst: 500, create: 2},
		{name: "create from zero", replicas: 10, burst: 500, create: 10},
		{name: "create capped by burst", replicas: 800, burst: 500, create: 500},
		{name: "delete one", active: three, replicas: 2, burst: 500, del: "unbound"},
		{name: "delete two", active: three, replicas: 1, burst: 500, del: "unbound,pending"},
		{name: "delete all", active: three, replicas: 0, burst: 500, del: "unbound,pending,old"},
		{name: "delete capped by burst", active: three, replicas: 0, burst: 1, del: "unbound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planScale(tc.active, tc.replicas, tc.burst, t0)
			if p.Create != tc.create {
				t.Errorf("create = %d, want %d", p.Create, tc.create)
			}
			if got := names(p.Delete); got != tc.del {
				t.Errorf("delete = %q, want %q", got, tc.del)
			}
		})
	}
}

func TestRankForDeletion(t *testing.T) {
	notReady := func(p *corev1.Pod) {
		p.Spec.NodeName, p.Status.Phase = "n1", corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	}
	cases := []struct {
		name string
		pods []*corev1.Pod
		want string
	}{
		{name: "unassigned before assigned",
			pods: []*corev1.Pod{pod("assigned", node("n1")), pod("unassigned")}, want: "unassigned,assigned"},
		{name: "pending before unknown before running",
			pods: []*corev1.Pod{pod("running", node("n1"), phase(corev1.PodRunning)), pod("unknown", node("n1"), phase(corev1.PodUnknown)), pod("pending", node("n1"), phase(corev1.PodPending))},
			want: "pending,unknown,running"},
		{name: "not ready before ready",
			pods: []*corev1.Pod{pod("ready", readyFor(time.Minute)), pod("notready", notReady)}, want: "notready,ready"},
		{name: "ready more recently first",
			pods: []*corev1.Pod{pod("long", readyFor(time.Hour)), pod("short", readyFor(time.Minute)), pod("mid", readyFor(10*time.Minute))},
			want: "short,mid,long"},
		{name: "more restarts first",
			pods: []*corev1.Pod{pod("few", node("n1"), restartsN(1)), pod("many", node("n1"), restartsN(5))}, want: "many,few"},
		{name: "newest first",
			pods: []*corev1.Pod{pod("oldest", created(time.Hour)), pod("newest", created(time.Second)), pod("middle", created(time.Minute))},
			want: "newest,middle,oldest"},
		{name: "name breaks ties", pods: []*corev1.Pod{pod("b"), pod("a"), pod("c")}, want: "a,b,c"},
		{name: "assignment beats age",
			pods: []*corev1.Pod{pod("new-assigned", node("n1"), created(time.Second)), pod("old-unassigned", created(time.Hour))},
			want: "old-unassigned,new-assigned"},
		{name: "readiness beats age",
			pods: []*corev1.Pod{pod("new-ready", readyFor(time.Second), created(time.Second)), pod("old-notready", notReady, created(time.Hour))},
			want: "old-notready,new-ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]*corev1.Pod(nil), tc.pods...)
			got := rankForDeletion(tc.pods, t0)
			if names(got) != tc.want {
				t.Errorf("order = %s, want %s", names(got), tc.want)
			}
			if names(tc.pods) != names(in) {
				t.Errorf("input reordered: %s", names(tc.pods))
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	failure := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "old"}
	partial := lbl(map[string]string{"app": "web"})
	cases := []struct {
		name        string
		minReady    int32
		pods        []*corev1.Pod
		terminating int32
		manageErr   error
		oldConds    []appsv1.ReplicaSetCondition
		want        appsv1.ReplicaSetStatus
		wait        time.Duration
		failMsg     string
	}{
		{name: "empty", want: appsv1.ReplicaSetStatus{ObservedGeneration: 3}},
		{name: "counts",
			pods: []*corev1.Pod{pod("a", readyFor(time.Minute)), pod("b", readyFor(time.Minute), partial), pod("c"), pod("d", partial)},
			want: appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 3}},
		{name: "minReadySeconds not yet", minReady: 30,
			pods: []*corev1.Pod{pod("a", readyFor(10*time.Second)), pod("b", readyFor(25*time.Second)), pod("c", readyFor(time.Hour))},
			want: appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 1, ObservedGeneration: 3},
			wait: 5 * time.Second},
		{name: "minReadySeconds reached exactly", minReady: 30,
			pods: []*corev1.Pod{pod("a", readyFor(30*time.Second))},
			want: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 3}},
		{name: "terminating counted",
			terminating: 2,
			want:        appsv1.ReplicaSetStatus{ObservedGeneration: 3, TerminatingReplicas: ptr(int32(2))}},
		{name: "failure condition added", manageErr: errors.New("quota exceeded"),
			want:    appsv1.ReplicaSetStatus{ObservedGeneration: 3},
			failMsg: "quota exceeded"},
		{name: "failure condition kept as is", manageErr: errors.New("new"), oldConds: []appsv1.ReplicaSetCondition{failure},
			want:    appsv1.ReplicaSetStatus{ObservedGeneration: 3},
			failMsg: "old"},
		{name: "failure condition cleared", oldConds: []appsv1.ReplicaSetCondition{failure},
			want: appsv1.ReplicaSetStatus{ObservedGeneration: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := testRS(3)
			rs.Spec.MinReadySeconds = tc.minReady
			rs.Status.Conditions = tc.oldConds
			got, wait := computeStatus(statusInput{RS: rs, Pods: tc.pods, Terminating: tc.terminating,
				ManageErr: tc.manageErr, FailureReason: "FailedCreate", Now: t0})
			if wait != tc.wait {
				t.Errorf("wait = %v, want %v", wait, tc.wait)
			}
			conds := got.Conditions
			got.Conditions = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("status = %+v\nwant     %+v", got, tc.want)
			}
			if tc.failMsg == "" {
				if len(conds) != 0 {
					t.Errorf("conditions = %+v, want none", conds)
				}
				return
			}
			if len(conds) != 1 || conds[0].Type != appsv1.ReplicaSetReplicaFailure || conds[0].Message != tc.failMsg || conds[0].Reason != "FailedCreate" {
				t.Errorf("conditions = %+v, want one ReplicaFailure with message %q", conds, tc.failMsg)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
