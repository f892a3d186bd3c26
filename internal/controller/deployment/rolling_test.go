package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var (
	i0 = intstr.FromInt32(0)
	i1 = intstr.FromInt32(1)
	i2 = intstr.FromInt32(2)
)

func TestResolveFenceposts(t *testing.T) {
	pct := intstr.FromString
	tests := []struct {
		surge, unavail         *intstr.IntOrString
		desired                int32
		wantSurge, wantUnavail int32
		wantErr                bool
	}{
		{ptr(pct("25%")), ptr(pct("25%")), 10, 3, 2, false},
		{ptr(pct("25%")), ptr(pct("25%")), 4, 1, 1, false},
		{ptr(pct("25%")), ptr(pct("25%")), 1, 1, 0, false},
		{ptr(pct("50%")), ptr(pct("50%")), 3, 2, 1, false},
		{ptr(pct("0%")), ptr(pct("10%")), 5, 0, 1, false}, // both round to 0
		{&i0, ptr(pct("100%")), 4, 0, 4, false},
		{&i1, &i0, 3, 1, 0, false},
		{&i2, &i1, 0, 2, 1, false},
		{nil, nil, 3, 0, 1, false},
		{ptr(pct("abc")), &i1, 3, 0, 0, true},
		{&i1, ptr(pct("x%")), 3, 0, 0, true},
	}
	for _, tt := range tests {
		s, u, err := ResolveFenceposts(tt.surge, tt.unavail, tt.desired)
		if (err != nil) != tt.wantErr {
			t.Errorf("ResolveFenceposts(%v, %v, %d) error = %v", tt.surge, tt.unavail, tt.desired, err)
			continue
		}
		if !tt.wantErr && (s != tt.wantSurge || u != tt.wantUnavail) {
			t.Errorf("ResolveFenceposts(%v, %v, %d) = %d, %d; want %d, %d", tt.surge, tt.unavail, tt.desired, s, u, tt.wantSurge, tt.wantUnavail)
		}
	}
}

func TestMaxSurgeUnavailable(t *testing.T) {
	d := rollingDeployment(3, intstr.FromInt32(2), intstr.FromInt32(5))
	if MaxSurge(d) != 2 || MaxUnavailable(d) != 3 {
		t.Errorf("rolling: surge %d unavailable %d, want 2 and 3 (capped at replicas)", MaxSurge(d), MaxUnavailable(d))
	}
	d.Spec.Replicas = ptr(int32(0))
	if MaxUnavailable(d) != 0 {
		t.Errorf("0 replicas: unavailable %d, want 0", MaxUnavailable(d))
	}
	r := recreateDeployment(3)
	if MaxSurge(r) != 0 || MaxUnavailable(r) != 0 {
		t.Errorf("recreate: surge %d unavailable %d, want 0 and 0", MaxSurge(r), MaxUnavailable(r))
	}
}

// rsSpec describes a ReplicaSet in a plan test: image, spec, available,
// age (creation order).
type rsSpec struct {
	image       string
	spec, avail int32
	age         int
}

func TestPlanRollingUpdate(t *testing.T) {
	tests := []struct {
		name           string
		replicas       int32
		surge, unavail intstr.IntOrString
		old            []rsSpec
		newRS          *rsSpec // image v2
		want           map[string]int32
	}{
		{"start: surge the new RS", 3, i1, i0, []rsSpec{{"v1", 3, 3, 0}}, &rsSpec{"v2", 0, 0, 9}, map[string]int32{"v2": 1}},
		{"surged, new not available: wait", 3, i1, i0, []rsSpec{{"v1", 3, 3, 0}}, &rsSpec{"v2", 1, 0, 9}, nil},
		{"surged, new available: scale old down", 3, i1, i0, []rsSpec{{"v1", 3, 3, 0}}, &rsSpec{"v2", 1, 1, 9}, map[string]int32{"v1": 2}},
		{"no surge: old down first", 3, i0, i1, []rsSpec{{"v1", 3, 3, 0}}, &rsSpec{"v2", 0, 0, 9}, map[string]int32{"v1": 2}},
		{"no surge: then new up", 3, i0, i1, []rsSpec{{"v1", 2, 2, 0}}, &rsSpec{"v2", 0, 0, 9}, map[string]int32{"v2": 1}},
		{"25%/25% of 10: surge 3", 10, intstr.FromString("25%"), intstr.FromString("25%"), []rsSpec{{"v1", 10, 10, 0}}, &rsSpec{"v2", 0, 0, 9}, map[string]int32{"v2": 3}},
		{"25%/25% of 10: old down by 2", 10, intstr.FromString("25%"), intstr.FromString("25%"), []rsSpec{{"v1", 10, 10, 0}}, &rsSpec{"v2", 3, 0, 9}, map[string]int32{"v1": 8}},
		{"unhealthy old replicas go first", 3, i1, i0, []rsSpec{{"v1", 3, 1, 0}}, &rsSpec{"v2", 1, 1, 9}, map[string]int32{"v1": 2}},
		{"oldest old RS first", 4, i1, i0, []rsSpec{{"v1", 2, 2, 5}, {"v0", 2, 2, 0}}, &rsSpec{"v2", 1, 1, 9}, map[string]int32{"v0": 1}},
		{"budget spans old RSs", 4, i0, i2, []rsSpec{{"v1", 2, 2, 5}, {"v0", 1, 1, 0}}, &rsSpec{"v2", 1, 1, 9}, map[string]int32{"v0": 0, "v1": 1}},
		{"new RS above replicas shrinks", 3, i1, i0, nil, &rsSpec{"v2", 5, 5, 9}, map[string]int32{"v2": 3}},
		{"complete: nothing", 3, i1, i0, []rsSpec{{"v1", 0, 0, 0}}, &rsSpec{"v2", 3, 3, 9}, nil},
		{"old status above spec holds back the surge", 3, i1, i0, []rsSpec{{"v1", 2, 2, 0}}, &rsSpec{"v2", 1, 1, 9}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := rollingDeployment(tt.replicas, tt.surge, tt.unavail)
			var old []*appsv1.ReplicaSet
			for _, o := range tt.old {
				old = append(old, testRS(d, o.image, o.spec, o.avail, o.age, 0))
			}
			if tt.name == "old status above spec holds back the surge" {
				old[0].Status.Replicas = 3 // scale-down not carried out yet
			}
			var newRS *appsv1.ReplicaSet
			if tt.newRS != nil {
				newRS = testRS(d, tt.newRS.image, tt.newRS.spec, tt.newRS.avail, tt.newRS.age, 0)
			}
			got := map[string]int32{}
			for _, sc := range PlanRollingUpdate(d, newRS, old) {
				got[sc.RS.Spec.Template.Spec.Containers[0].Image] = sc.To
			}
			if len(got) != len(tt.want) {
				t.Fatalf("plan %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("plan %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestNewRSReplicas(t *testing.T) {
	d := rollingDeployment(10, intstr.FromInt32(3), i0)
	old := testRS(d, "v1", 10, 10, 0, 1)
	newRS := testRS(d, "v2", 0, 0, 1, 0)
	if n := NewRSReplicas(d, []*appsv1.ReplicaSet{old, newRS}, newRS); n != 3 {
		t.Errorf("rolling: %d, want 3", n)
	}
	old.Spec.Replicas = ptr(int32(2))
	old.Status.Replicas = 2
	newRS.Spec.Replicas = ptr(int32(9))
	if n := NewRSReplicas(d, []*appsv1.ReplicaSet{old, newRS}, newRS); n != 10 {
		t.Errorf("rolling, never above replicas: %d, want 10", n)
	}
	r := recreateDeployment(4)
	if n := NewRSReplicas(r, []*appsv1.ReplicaSet{old}, nil); n != 4 {
		t.Errorf("recreate: %d, want 4", n)
	}
}
