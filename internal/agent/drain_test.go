package agent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCordonForDrain: the agent cordons a schedulable node and marks the
// cordon as its own; it leaves a cordoned node alone, and its next start
// uncordons only a node it marked.
func TestCordonForDrain(t *testing.T) {
	mine := map[string]string{AnnotationCordonedByAgent: "true"}
	for _, tc := range []struct {
		name string
		// before is the node's state: unschedulable and annotations.
		unschedulable bool
		annotations   map[string]string
		// wantCordon: cordonForDrain changes the node; then the node is
		// cordoned and annotated.
		wantCordon bool
		// wantUncordon: uncordonAfterDrain of the original node changes
		// it; then it is schedulable without the annotation.
		wantUncordon bool
	}{
		{name: "schedulable node", wantCordon: true},
		{name: "schedulable node with other annotations", annotations: map[string]string{"x": "y"}, wantCordon: true},
		{name: "cordoned by an administrator", unschedulable: true},
		{name: "cordoned by the agent", unschedulable: true, annotations: mine, wantUncordon: true},
		{name: "the agent's cordon undone by an administrator", annotations: mine, wantCordon: true, wantUncordon: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := func() *corev1.Node {
				n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Unschedulable: tc.unschedulable}}
				if tc.annotations != nil {
					n.Annotations = map[string]string{}
					for k, v := range tc.annotations {
						n.Annotations[k] = v
					}
				}
				return n
			}
			n := node()
			if got := cordonForDrain(n); got != tc.wantCordon {
				t.Errorf("cordonForDrain changed the node: %v, want %v", got, tc.wantCordon)
			}
			if tc.wantCordon && (!n.Spec.Unschedulable || n.Annotations[AnnotationCordonedByAgent] != "true") {
				t.Errorf("after cordonForDrain: %+v", n)
			}
			if !tc.wantCordon && (n.Spec.Unschedulable != tc.unschedulable || len(n.Annotations) != len(tc.annotations)) {
				t.Errorf("cordonForDrain changed what it reported unchanged: %+v", n)
			}
			if tc.annotations["x"] == "y" && n.Annotations["x"] != "y" {
				t.Errorf("other annotations lost: %v", n.Annotations)
			}
			n = node()
			if got := uncordonAfterDrain(n); got != tc.wantUncordon {
				t.Errorf("uncordonAfterDrain changed the node: %v, want %v", got, tc.wantUncordon)
			}
			_, annotated := n.Annotations[AnnotationCordonedByAgent]
			switch {
			case tc.wantUncordon && (n.Spec.Unschedulable || annotated):
				t.Errorf("after uncordonAfterDrain: %+v", n)
			case !tc.wantUncordon && n.Spec.Unschedulable != tc.unschedulable:
				t.Errorf("uncordonAfterDrain changed the cordon of a node it did not cordon: %+v", n)
			}
		})
	}
}

func TestDeletionGrace(t *testing.T) {
	secs := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name                string
		deletion, termGrace *int64
		want                time.Duration
	}{
		{name: "default", want: 30 * time.Second},
		{name: "the pod's grace period", termGrace: secs(5), want: 5 * time.Second},
		{name: "the deletion's grace period wins", deletion: secs(1), termGrace: secs(5), want: time.Second},
		{name: "zero", termGrace: secs(0), want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: tc.deletion},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: tc.termGrace}}
			if got := deletionGrace(p); got != tc.want {
				t.Errorf("deletionGrace = %v, want %v", got, tc.want)
			}
		})
	}
}
