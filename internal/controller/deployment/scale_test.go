package deployment

import (
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestIsScalingEvent(t *testing.T) {
	d := rollingDeployment(5, i1, i0)
	rs := testRS(d, "v2", 5, 5, 0, 1)
	if IsScalingEvent(d, rs, nil) {
		t.Error("annotation matches: not a scaling event")
	}
	d.Spec.Replicas = ptr(int32(7))
	if !IsScalingEvent(d, rs, nil) {
		t.Error("annotation 5, replicas 7: a scaling event")
	}
	rs.Spec.Replicas = ptr(int32(0))
	if IsScalingEvent(d, rs, nil) {
		t.Error("inactive RSs don't count")
	}
	rs.Spec.Replicas = ptr(int32(5))
	delete(rs.Annotations, DesiredReplicasAnnotation)
	if IsScalingEvent(d, rs, nil) {
		t.Error("no annotation: not a scaling event")
	}
}

// sized is a ReplicaSet of d with the given spec and max-replicas annotation.
func sized(d *appsv1.Deployment, image string, spec, maxReplicas int32, age int) *appsv1.ReplicaSet {
	rs := testRS(d, image, spec, spec, age, 1)
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	rs.Annotations[DesiredReplicasAnnotation] = "0" // stale on purpose
	return rs
}

func TestPlanScale(t *testing.T) {
	type rsIn struct {
		image        string
		spec, maxAnn int32
		age          int
	}
	tests := []struct {
		name     string
		replicas int32
		surge    intstr.IntOrString
		rss      []rsIn // the v2 one is the new RS
		want     map[string]int32
	}{
		{"single active takes all", 8, i1, []rsIn{{"v2", 5, 6, 1}, {"v1", 0, 6, 0}}, map[string]int32{"v2": 8}},
		{"single active old takes all", 8, i1, []rsIn{{"v1", 5, 6, 0}}, map[string]int32{"v1": 8}},
		{"none active: the new one", 4, i1, []rsIn{{"v2", 0, 6, 1}, {"v1", 0, 6, 0}}, map[string]int32{"v2": 4}},
		{"already right: nothing", 5, i1, []rsIn{{"v2", 5, 6, 1}}, map[string]int32{}},
		// 10 replicas + surge 3 = 13 running as 8 old + 5 new; scaled to 15
		// (18 allowed): 8*18/13 = 11.08 → 11, 5*18/13 = 6.92 → 7.
		{"up mid-rollout", 15, intstr.FromInt32(3), []rsIn{{"v1", 8, 13, 0}, {"v2", 5, 13, 1}}, map[string]int32{"v1": 11, "v2": 7}},
		// scaled to 5 (8 allowed): 8*8/13 = 4.92 → 5 (-3), 5*8/13 = 3.08 → 3 (-2).
		{"down mid-rollout", 5, intstr.FromInt32(3), []rsIn{{"v1", 8, 13, 0}, {"v2", 5, 13, 1}}, map[string]int32{"v1": 5, "v2": 3}},
		// 3 equal RSs of 2 (max 7 = 6+1), scaled to 10 (+surge 1 = 11, +5):
		// each 2*11/7 = 3.14 → 3 (+1); the leftover 2 goes to the largest,
		// newest first when growing: the new RS.
		{"leftover to the largest", 10, i1, []rsIn{{"v0", 2, 7, 0}, {"v1", 2, 7, 1}, {"v2", 2, 7, 2}}, map[string]int32{"v0": 3, "v1": 3, "v2": 5}},
		// to 0: everything goes.
		{"to zero", 0, intstr.FromInt32(3), []rsIn{{"v1", 8, 13, 0}, {"v2", 5, 13, 1}}, map[string]int32{"v1": 0, "v2": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := rollingDeployment(tt.replicas, tt.surge, i0)
			var newRS *appsv1.ReplicaSet
			var old []*appsv1.ReplicaSet
			for _, r := range tt.rss {
				rs := sized(d, r.image, r.spec, r.maxAnn, r.age)
				if r.image == "v2" {
					newRS = rs
				} else {
					old = append(old, rs)
				}
			}
			plan := PlanScale(d, newRS, old)
			got := map[string]int32{}
			var total int32
			for _, sc := range plan {
				got[sc.RS.Spec.Template.Spec.Containers[0].Image] = sc.To
				if sc.To < 0 {
					t.Errorf("negative size %d", sc.To)
				}
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("plan %v, want %v", got, tt.want)
					break
				}
			}
			for _, r := range tt.rss {
				if v, ok := got[r.image]; ok {
					total += v
				} else {
					total += r.spec
				}
			}
			if len(plan) > 1 && tt.replicas > 0 && total != tt.replicas+MaxSurge(d) {
				t.Errorf("total %d, want replicas+maxSurge %d", total, tt.replicas+MaxSurge(d))
			}
		})
	}
}

func TestPlanScaleSaturated(t *testing.T) {
	d := rollingDeployment(3, i1, i0)
	newRS := testRS(d, "v2", 3, 3, 1, 2) // desired annotation 3, all available
	old := testRS(d, "v1", 1, 1, 0, 1)
	plan := PlanScale(d, newRS, []*appsv1.ReplicaSet{old})
	if len(plan) != 1 || plan[0].RS != old || plan[0].To != 0 {
		t.Fatalf("plan %+v, want the old RS to 0", plan)
	}
	r := recreateDeployment(3)
	newRS.Status.AvailableReplicas = 1
	if plan := PlanScale(r, newRS, []*appsv1.ReplicaSet{old}); len(plan) != 0 {
		t.Errorf("recreate, not saturated: plan %+v, want none", plan)
	}
}
