package deployment

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestClaim(t *testing.T) {
	d := rollingDeployment(3, i1, i0)
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	deleting := d.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	other := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", UID: "other", Controller: ptr(true)}
	tests := []struct {
		name     string
		deleting bool
		owner    *metav1.OwnerReference // nil: orphan; else the controller
		app      string
		rsGone   bool
		ns       string
		want     ClaimAction
	}{
		{"ours, matching", false, ownerRef(d), "web", false, "ns", Keep},
		{"ours, matching, while deleting", true, ownerRef(d), "web", false, "ns", Keep},
		{"ours, not matching", false, ownerRef(d), "api", false, "ns", Release},
		{"ours, not matching, while deleting", true, ownerRef(d), "api", false, "ns", Ignore},
		{"someone else's", false, &other, "web", false, "ns", Ignore},
		{"orphan, matching", false, nil, "web", false, "ns", Adopt},
		{"orphan, not matching", false, nil, "api", false, "ns", Ignore},
		{"orphan while deleting", true, nil, "web", false, "ns", Ignore},
		{"orphan being deleted", false, nil, "web", true, "ns", Ignore},
		{"orphan elsewhere", false, nil, "web", false, "other", Ignore},
	}
	for _, tt := range tests {
		rs := testRS(d, "v1", 1, 1, 0, 1)
		rs.Namespace = tt.ns
		rs.Labels["app"] = tt.app
		rs.OwnerReferences = nil
		if tt.owner != nil {
			rs.OwnerReferences = []metav1.OwnerReference{*tt.owner}
		}
		if tt.rsGone {
			rs.DeletionTimestamp = &metav1.Time{Time: t0}
		}
		dd := d
		if tt.deleting {
			dd = deleting
		}
		if got := Claim(dd, sel, rs); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
