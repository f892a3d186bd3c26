package namespace

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func condSummary(cs []corev1.NamespaceCondition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

func TestDeletionConditions(t *testing.T) {
	allGood := []string{
		"NamespaceDeletionDiscoveryFailure=False/ResourcesDiscovered",
		"NamespaceDeletionGroupVersionParsingFailure=False/ParsedGroupVersions",
		"NamespaceDeletionContentFailure=False/ContentDeleted",
		"NamespaceContentRemaining=False/ContentRemoved",
		"NamespaceFinalizersRemaining=False/ContentHasNoFinalizers",
	}
	if got := condSummary(deletionConditions(nil, nil, nil)); !reflect.DeepEqual(got, allGood) {
		t.Errorf("empty namespace: %v", got)
	}
	got := deletionConditions(errors.New("example.com/v1: 503"), []error{errors.New("delete pods: boom")},
		[]leftover{{resource: "pods", count: 2}, {resource: "configmaps", count: 1, finalized: 1, finalizers: map[string]int{"x/hold": 1}}})
	want := []string{
		"NamespaceDeletionDiscoveryFailure=True/DiscoveryFailed",
		"NamespaceDeletionGroupVersionParsingFailure=False/ParsedGroupVersions",
		"NamespaceDeletionContentFailure=True/ContentDeletionFailed",
		"NamespaceContentRemaining=True/SomeResourcesRemain",
		"NamespaceFinalizersRemaining=True/SomeFinalizersRemain",
	}
	if s := condSummary(got); !reflect.DeepEqual(s, want) {
		t.Errorf("conditions = %v", s)
	}
	if m := got[3].Message; m != "Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances" {
		t.Errorf("remaining message = %q", m)
	}
	if m := got[4].Message; m != "Some content in the namespace has finalizers remaining: x/hold in 1 resource instances" {
		t.Errorf("finalizers message = %q", m)
	}
}

func TestMergeConditions(t *testing.T) {
	t1 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	t2 := metav1.NewTime(t1.Add(time.Minute))
	remaining := func(s corev1.ConditionStatus, msg string) corev1.NamespaceCondition {
		return corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: s, Reason: "r", Message: msg}
	}
	out, changed := mergeConditions(nil, []corev1.NamespaceCondition{remaining(corev1.ConditionTrue, "a")}, t1)
	if !changed || len(out) != 1 || !out[0].LastTransitionTime.Equal(&t1) {
		t.Fatalf("add: %v %+v", changed, out)
	}
	if _, changed := mergeConditions(out, []corev1.NamespaceCondition{remaining(corev1.ConditionTrue, "a")}, t2); changed {
		t.Error("same condition reported as a change")
	}
	out2, changed := mergeConditions(out, []corev1.NamespaceCondition{remaining(corev1.ConditionTrue, "b")}, t2)
	if !changed || out2[0].Message != "b" || !out2[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("message change: %v %+v", changed, out2)
	}
	if out[0].Message != "a" {
		t.Error("input modified")
	}
	out3, changed := mergeConditions(out2, []corev1.NamespaceCondition{remaining(corev1.ConditionFalse, "b")}, t2)
	if !changed || !out3[0].LastTransitionTime.Equal(&t2) {
		t.Errorf("status change: %v %+v", changed, out3)
	}
}
