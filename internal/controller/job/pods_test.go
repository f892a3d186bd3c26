package job

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCountPods(t *testing.T) {
	c := countPods([]*corev1.Pod{
		tpod("r", "Ready", 0), tpod("p", "Pending", 0), tpod("t", "Terminating", 0),
		tpod("f1", "Failed", -3*time.Second), tpod("s", "Succeeded", -2*time.Second), tpod("f2", "Failed", -time.Second),
	})
	if len(c.active) != 2 || c.ready != 1 || c.terminating != 1 || c.succeeded != 1 || c.failed != 2 || c.failuresSince != 1 {
		t.Errorf("counts = %+v", c)
	}
	if !c.lastFailure.Equal(t0.Add(-time.Second)) {
		t.Errorf("lastFailure = %v", c.lastFailure)
	}
}

func TestRankForDeletion(t *testing.T) {
	older := tpod("ready-old", "Ready", 0)
	older.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	got := names(rankForDeletion([]*corev1.Pod{older, tpod("ready-new", "Ready", 0), tpod("running", "Running", 0), tpod("pending", "Pending", 0)}))
	want := []string{"pending", "running", "ready-new", "ready-old"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rank = %v, want %v", got, want)
	}
}

func TestNewPod(t *testing.T) {
	j := testJob(ptrTo(int32(1)), 1)
	j.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "pi"},
			Annotations: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	p := newPod(j)
	if p.GenerateName != "pi-" || p.Namespace != "ns" || p.Labels[batchv1.JobNameLabel] != "pi" || p.Annotations["a"] != "b" {
		t.Errorf("pod meta = %+v", p.ObjectMeta)
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != "batch/v1" || ref.UID != "job-uid" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", ref)
	}
	if jobKeyOf(p) != "ns/pi" {
		t.Errorf("jobKeyOf = %q", jobKeyOf(p))
	}
	p.Labels["x"] = "y"
	if _, ok := j.Spec.Template.Labels["x"]; ok {
		t.Error("pod shares the template's label map")
	}
}
