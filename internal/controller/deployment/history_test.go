package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlanCleanup(t *testing.T) {
	d := rollingDeployment(3, i1, i0)
	mk := func(image string, spec int32, rev int) *appsv1.ReplicaSet {
		return testRS(d, image, spec, spec, rev, rev)
	}
	r1, r2, r3, r4 := mk("v1", 0, 1), mk("v2", 0, 2), mk("v3", 0, 3), mk("v4", 0, 4)
	active := testRS(d, "v5", 2, 2, 0, 0) // the lowest revision, but scaled up
	deleting := mk("v6", 0, 6)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	unobserved := mk("v7", 0, 0)
	unobserved.Generation, unobserved.Status.ObservedGeneration = 3, 2
	withPods := mk("v8", 0, 0)
	withPods.Status.Replicas = 1
	names := func(rss []*appsv1.ReplicaSet) []string {
		var out []string
		for _, rs := range rss {
			out = append(out, rs.Spec.Template.Spec.Containers[0].Image)
		}
		return out
	}
	tests := []struct {
		name  string
		limit *int32
		old   []*appsv1.ReplicaSet
		want  []string
	}{
		{"no limit", nil, []*appsv1.ReplicaSet{r1, r2}, nil},
		{"within limit", ptr(int32(2)), []*appsv1.ReplicaSet{r1, r2}, nil},
		{"oldest revisions first", ptr(int32(1)), []*appsv1.ReplicaSet{r3, r1, r4, r2}, []string{"v1", "v2", "v3"}},
		{"limit 0", ptr(int32(0)), []*appsv1.ReplicaSet{r2, r1}, []string{"v1", "v2"}},
		{"active ones are kept but count", ptr(int32(1)), []*appsv1.ReplicaSet{active, r4}, nil},
		{"deleting ones don't count", ptr(int32(1)), []*appsv1.ReplicaSet{deleting, r4}, nil},
		{"unobserved scale-down or pods left are kept", ptr(int32(0)), []*appsv1.ReplicaSet{unobserved, withPods, r3}, []string{"v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Spec.RevisionHistoryLimit = tt.limit
			got := names(PlanCleanup(d, tt.old))
			if len(got) != len(tt.want) {
				t.Fatalf("deleted %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("deleted %v, want %v", got, tt.want)
				}
			}
		})
	}
}
