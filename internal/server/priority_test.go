package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/server"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPriorityAdmission checks that pods get their priority from their
// PriorityClass (or the global default) as Kubernetes' admission does.
func TestPriorityAdmission(t *testing.T) {
	skipShort(t)
	srv := start(t, server.Config{NoControllers: true})
	cs := clientFor(t, srv)
	ctx := context.Background()
	never := corev1.PreemptNever
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Value: 50, PreemptionPolicy: &never},
		{ObjectMeta: metav1.ObjectMeta{Name: "everyone"}, Value: 7, GlobalDefault: true},
	} {
		if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name, class string, prio *int32) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{PriorityClassName: class, Priority: prio,
			Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}
	}
	i32 := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		name, class string
		prio        *int32
		want        int32
		wantClass   string
		wantNever   bool
		err         string
	}{
		{name: "by-class", class: "batch", want: 50, wantClass: "batch", wantNever: true},
		{name: "same-value", class: "batch", prio: i32(50), want: 50, wantClass: "batch", wantNever: true},
		{name: "global-default", want: 7, wantClass: "everyone"},
		{name: "system", class: "system-cluster-critical", want: 2000001000, wantClass: "system-cluster-critical"},
		{name: "unknown", class: "nope", err: "no PriorityClass with name nope was found"},
		{name: "mismatch", class: "batch", prio: i32(3), err: "the integer value of priority (3) must not be provided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cs.CoreV1().Pods("default").Create(ctx, pod(tc.name, tc.class, tc.prio), metav1.CreateOptions{})
			if tc.err != "" {
				if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want 403 containing %q", err, tc.err)
				}
				if _, err := cs.CoreV1().Pods("default").Get(ctx, tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Fatalf("refused pod was stored: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Priority == nil || *got.Spec.Priority != tc.want || got.Spec.PriorityClassName != tc.wantClass {
				t.Fatalf("priority %v class %q, want %d %q", got.Spec.Priority, got.Spec.PriorityClassName, tc.want, tc.wantClass)
			}
			if isNever := got.Spec.PreemptionPolicy != nil && *got.Spec.PreemptionPolicy == corev1.PreemptNever; isNever != tc.wantNever {
				t.Fatalf("preemptionPolicy %v", got.Spec.PreemptionPolicy)
			}
		})
	}
}
