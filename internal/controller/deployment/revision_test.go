package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := rollingDeployment(3, i1, i0)
	d.Annotations = map[string]string{
		ChangeCauseAnnotation:              "kubectl set image",
		"team":                             "a",
		corev1.LastAppliedConfigAnnotation: "{}",
		RevisionAnnotation:                 "7",
		DesiredReplicasAnnotation:          "99",
	}
	tests := []struct {
		name        string
		rsAnn       map[string]string
		newRevision string
		exists      bool
		wantChanged bool
		want        map[string]string
	}{
		{"new RS", nil, "1", false, true, map[string]string{
			RevisionAnnotation: "1", ChangeCauseAnnotation: "kubectl set image", "team": "a",
			DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}},
		{"current RS, up to date", map[string]string{RevisionAnnotation: "3", ChangeCauseAnnotation: "kubectl set image", "team": "a"},
			"3", true, false, map[string]string{RevisionAnnotation: "3"}},
		{"reused old RS (undo)", map[string]string{RevisionAnnotation: "1", ChangeCauseAnnotation: "old cause", "team": "a"}, "4", true, true,
			map[string]string{RevisionAnnotation: "4", RevisionHistoryAnnotation: "1", ChangeCauseAnnotation: "kubectl set image"}},
		{"reused twice", map[string]string{RevisionAnnotation: "4", RevisionHistoryAnnotation: "1", "team": "a", ChangeCauseAnnotation: "kubectl set image"}, "6", true, true,
			map[string]string{RevisionAnnotation: "6", RevisionHistoryAnnotation: "1,4"}},
		{"a higher revision is kept", map[string]string{RevisionAnnotation: "9", "team": "a", ChangeCauseAnnotation: "kubectl set image"}, "4", true, false,
			map[string]string{RevisionAnnotation: "9"}},
		{"existing RS gets no replicas annotations here", map[string]string{RevisionAnnotation: "2"}, "2", true, true,
			map[string]string{DesiredReplicasAnnotation: "", MaxReplicasAnnotation: ""}},
		{"unparsable revision left alone", map[string]string{RevisionAnnotation: "x", "team": "a", ChangeCauseAnnotation: "kubectl set image"}, "2", true, false,
			map[string]string{RevisionAnnotation: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: tt.rsAnn}}
			changed := SetNewReplicaSetAnnotations(d, rs, tt.newRevision, tt.exists, MaxRevisionHistoryLength)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			for k, v := range tt.want {
				if rs.Annotations[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, rs.Annotations[k], v, rs.Annotations)
				}
			}
			if _, ok := rs.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
				t.Error("last-applied-configuration copied")
			}
		})
	}
}

func TestAppendHistory(t *testing.T) {
	tests := []struct {
		history, rev string
		max          int
		want         string
	}{
		{"", "1", 2000, "1"},
		{"1", "4", 2000, "1,4"},
		{"1,4,6", "8", 2000, "1,4,6,8"},
		{"1,4,6", "8", 5, "4,6,8"},
		{"1,4,6", "8", 4, "6,8"},
		{"10,11", "12", 5, "11,12"},
		{"10,11", "12", 1, "12"},
	}
	for _, tt := range tests {
		if got := appendHistory(tt.history, tt.rev, tt.max); got != tt.want {
			t.Errorf("appendHistory(%q, %q, %d) = %q, want %q", tt.history, tt.rev, tt.max, got, tt.want)
		}
	}
}

func TestMaxRevision(t *testing.T) {
	d := rollingDeployment(3, i1, i0)
	bad := testRS(d, "v9", 0, 0, 0, 0)
	bad.Annotations[RevisionAnnotation] = "junk"
	rss := []*appsv1.ReplicaSet{testRS(d, "v1", 0, 0, 0, 3), nil, testRS(d, "v2", 0, 0, 0, 12), bad, testRS(d, "v3", 0, 0, 0, 0)}
	if got := MaxRevision(rss); got != 12 {
		t.Errorf("MaxRevision = %d, want 12", got)
	}
	if got := MaxRevision(nil); got != 0 {
		t.Errorf("MaxRevision(nil) = %d, want 0", got)
	}
}

func TestNewReplicaSet(t *testing.T) {
	d := rollingDeployment(4, i1, i0)
	d.Spec.MinReadySeconds = 5
	d.Annotations = map[string]string{ChangeCauseAnnotation: "why"}
	hash := ComputeHash(&d.Spec.Template, nil)
	rs := NewReplicaSet(d, hash, 2, "3")
	if rs.Name != "web-"+hash || rs.Namespace != "ns" {
		t.Errorf("name %s/%s", rs.Namespace, rs.Name)
	}
	for what, labels := range map[string]map[string]string{"labels": rs.Labels, "selector": rs.Spec.Selector.MatchLabels, "template": rs.Spec.Template.Labels} {
		if labels[HashLabel] != hash || labels["app"] != "web" {
			t.Errorf("%s = %v", what, labels)
		}
	}
	if _, ok := d.Spec.Template.Labels[HashLabel]; ok {
		t.Error("the Deployment's template was modified")
	}
	if _, ok := d.Spec.Selector.MatchLabels[HashLabel]; ok {
		t.Error("the Deployment's selector was modified")
	}
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.UID != d.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner reference %+v", ref)
	}
	if *rs.Spec.Replicas != 2 || rs.Spec.MinReadySeconds != 5 {
		t.Errorf("replicas %d minReadySeconds %d", *rs.Spec.Replicas, rs.Spec.MinReadySeconds)
	}
	want := map[string]string{RevisionAnnotation: "3", ChangeCauseAnnotation: "why", DesiredReplicasAnnotation: "4", MaxReplicasAnnotation: "5"}
	for k, v := range want {
		if rs.Annotations[k] != v {
			t.Errorf("%s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if !EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
		t.Error("template differs from the Deployment's")
	}
}

func TestSetDeploymentRevision(t *testing.T) {
	d := rollingDeployment(1, i1, i0)
	if !SetDeploymentRevision(d, "2") || d.Annotations[RevisionAnnotation] != "2" {
		t.Error("first set")
	}
	if SetDeploymentRevision(d, "2") {
		t.Error("unchanged revision reported as changed")
	}
	if !strings.Contains(d.Annotations[RevisionAnnotation], "2") {
		t.Error("lost")
	}
}
