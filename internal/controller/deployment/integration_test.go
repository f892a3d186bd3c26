package deployment_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller/deployment"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

var deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// TestIntegration runs the Deployment controller with the ReplicaSet
// controller and a fake kubelet against the real API server; each subtest
// has its own namespace.
func TestIntegration(t *testing.T) {
	cs := startServer(t)
	t.Run("CreateAndRestart", func(t *testing.T) { testCreateAndRestart(in(t, cs)) })
	t.Run("RollingUpdateKeepsAvailability", func(t *testing.T) { testRollingUpdate(in(t, cs)) })
	t.Run("UndoReusesReplicaSet", func(t *testing.T) { testUndo(in(t, cs)) })
	t.Run("Paused", func(t *testing.T) { testPaused(in(t, cs)) })
	t.Run("ProgressDeadline", func(t *testing.T) { testProgressDeadline(in(t, cs)) })
	t.Run("RevisionHistoryLimit", func(t *testing.T) { testHistoryLimit(in(t, cs)) })
	t.Run("Recreate", func(t *testing.T) { testRecreate(in(t, cs)) })
	t.Run("ProportionalScaling", func(t *testing.T) { testProportional(in(t, cs)) })
	t.Run("HashCollision", func(t *testing.T) { testHashCollision(in(t, cs)) })
	t.Run("Deleting", func(t *testing.T) { testDeleting(in(t, cs)) })
}

// waitEvent waits for an event about name with reason and message.
func (e *env) waitEvent(name, reason, message string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("event %s %q", reason, message), 10*time.Second, func() (bool, error) {
		list, err := e.cs.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Reason == reason && ev.Message == message {
				return true, nil
			}
		}
		return false, nil
	})
}

func testCreateAndRestart(e *env) {
	t := e.t
	e.create(newDeployment("web", "nginx:1", 3))
	d := e.rolledOut("web")
	st := d.Status
	if st.ObservedGeneration != d.Generation || st.Replicas != 3 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 3 ||
		st.AvailableReplicas != 3 || st.UnavailableReplicas != 0 {
		t.Errorf("status %+v", st)
	}
	rss := e.replicaSets("web")
	if len(rss) != 1 {
		t.Fatalf("%d replicasets, want 1", len(rss))
	}
	rs := e.rsFor("web", "nginx:1")
	hash := rs.Labels[deployment.HashLabel]
	if hash != deployment.ComputeHash(&d.Spec.Template, nil) || rs.Name != "web-"+hash ||
		rs.Spec.Selector.MatchLabels[deployment.HashLabel] != hash || rs.Spec.Template.Labels[deployment.HashLabel] != hash {
		t.Errorf("replicaset %s: labels %v selector %v template labels %v", rs.Name, rs.Labels, rs.Spec.Selector, rs.Spec.Template.Labels)
	}
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.UID != d.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner reference %+v", ref)
	}
	for k, v := range map[string]string{deployment.RevisionAnnotation: "1", deployment.DesiredReplicasAnnotation: "3", deployment.MaxReplicasAnnotation: "4"} {
		if rs.Annotations[k] != v {
			t.Errorf("replicaset annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if d.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Errorf("deployment revision %q, want 1", d.Annotations[deployment.RevisionAnnotation])
	}
	if c := condition(d, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" {
		t.Errorf("Available = %+v", c)
	}
	want := fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs.Name)
	if c := condition(d, appsv1.DeploymentProgressing); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "NewReplicaSetAvailable" || c.Message != want {
		t.Errorf("Progressing = %+v", c)
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Labels[deployment.HashLabel] != hash {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
	}
	e.waitEvent("web", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to 3", rs.Name))

	// kubectl rollout restart: a template annotation, so a new ReplicaSet.
	e.kubectl("web", polymorphichelpers.ObjectRestarterFn)
	d = e.rolledOut("web")
	if len(e.replicaSets("web")) != 2 {
		t.Fatalf("after restart: %d replicasets, want 2", len(e.replicaSets("web")))
	}
	for _, r := range e.replicaSets("web") {
		restarted := r.Spec.Template.Annotations[deployment.RestartedAtAnnotation] != ""
		switch {
		case restarted && (r.Annotations[deployment.RevisionAnnotation] != "2" || *r.Spec.Replicas != 3):
			t.Errorf("restarted replicaset %s: revision %s replicas %d", r.Name, r.Annotations[deployment.RevisionAnnotation], *r.Spec.Replicas)
		case !restarted && *r.Spec.Replicas != 0:
			t.Errorf("old replicaset %s still has %d replicas", r.Name, *r.Spec.Replicas)
		}
	}
	if d.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("deployment revision %q, want 2", d.Annotations[deployment.RevisionAnnotation])
	}
	e.waitEvent("web", "ScalingReplicaSet", fmt.Sprintf("Scaled down replica set %s from 1 to 0", rs.Name))
}

func testRollingUpdate(e *env) {
	t := e.t
	e.create(newDeployment("roll", "img:1", 3))
	e.rolledOut("roll")
	s := e.sample("roll")
	e.setImage("roll", "img:2")
	d := e.rolledOut("roll")
	s.finish()
	if len(s.errs) > 0 {
		t.Fatalf("sampling pods: %v", s.errs[0])
	}
	t.Logf("%d samples: ready >= %d, live <= %d", s.samples, s.minRdy, s.maxLive)
	if s.minRdy < 3 {
		t.Errorf("ready pods dropped to %d, want never below replicas (3) with maxUnavailable 0", s.minRdy)
	}
	if s.maxLive > 4 {
		t.Errorf("%d pods at once, want at most replicas+maxSurge (4)", s.maxLive)
	}
	if s.samples < 5 {
		t.Errorf("only %d samples", s.samples)
	}
	if d.Status.UpdatedReplicas != 3 || d.Status.Replicas != 3 {
		t.Errorf("status %+v", d.Status)
	}
	if old := e.rsFor("roll", "img:1"); *old.Spec.Replicas != 0 {
		t.Errorf("old replicaset keeps %d replicas", *old.Spec.Replicas)
	}
	if n := e.rsFor("roll", "img:2"); n.Annotations[deployment.ChangeCauseAnnotation] != "set image img:2" {
		t.Errorf("change-cause not copied: %v", n.Annotations)
	}
}

func testUndo(e *env) {
	t := e.t
	d := newDeployment("undo", "img:1", 2)
	d.Annotations = map[string]string{deployment.ChangeCauseAnnotation: "create img:1"}
	e.create(d)
	e.rolledOut("undo")
	e.setImage("undo", "img:2")
	e.rolledOut("undo")
	e.setImage("undo", "img:3")
	e.rolledOut("undo")
	first := e.rsFor("undo", "img:1")
	if first.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Fatalf("first replicaset revision %q, want 1", first.Annotations[deployment.RevisionAnnotation])
	}
	rb, err := polymorphichelpers.RollbackerFor(deploymentKind, e.cs)
	if err != nil {
		t.Fatal(err)
	}
	// kubectl rollout undo --to-revision=1
	if _, err := rb.Rollback(e.get("undo"), nil, 1, cmdutil.DryRunNone); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	d = e.rolledOut("undo")
	if n := len(e.replicaSets("undo")); n != 3 {
		t.Errorf("%d replicasets after undo, want 3 (the first one reused)", n)
	}
	first = e.rsFor("undo", "img:1")
	if first.Annotations[deployment.RevisionAnnotation] != "4" || first.Annotations[deployment.RevisionHistoryAnnotation] != "1" ||
		first.Annotations[deployment.ChangeCauseAnnotation] != "create img:1" || *first.Spec.Replicas != 2 {
		t.Errorf("reused replicaset: replicas %d annotations %v", *first.Spec.Replicas, first.Annotations)
	}
	if d.Annotations[deployment.RevisionAnnotation] != "4" {
		t.Errorf("deployment revision %q, want 4", d.Annotations[deployment.RevisionAnnotation])
	}
	hv, err := polymorphichelpers.HistoryViewerFor(deploymentKind, e.cs)
	if err != nil {
		t.Fatal(err)
	}
	history, err := hv.GetHistory(e.ns, "undo")
	if err != nil {
		t.Fatal(err)
	}
	for _, rev := range []int64{2, 3, 4} {
		if history[rev] == nil {
			t.Errorf("rollout history lacks revision %d (has %d entries)", rev, len(history))
		}
	}
	// kubectl rollout undo: back to the previous revision (3, img:3).
	if _, err := rb.Rollback(e.get("undo"), nil, 0, cmdutil.DryRunNone); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	e.rolledOut("undo")
	third := e.rsFor("undo", "img:3")
	if third.Annotations[deployment.RevisionAnnotation] != "5" || third.Annotations[deployment.RevisionHistoryAnnotation] != "3" {
		t.Errorf("second undo: annotations %v", third.Annotations)
	}
}

func testPaused(e *env) {
	t := e.t
	e.create(newDeployment("paused", "img:1", 2))
	e.rolledOut("paused")
	e.kubectl("paused", polymorphichelpers.ObjectPauserFn)
	e.eventually("DeploymentPaused condition", 10*time.Second, func() (bool, error) {
		c := condition(e.get("paused"), appsv1.DeploymentProgressing)
		return c != nil && c.Reason == "DeploymentPaused" && c.Status == corev1.ConditionUnknown, nil
	})
	e.setImage("paused", "img:2")
	e.update("paused", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(3)) })
	e.eventually("the paused deployment scaled", 10*time.Second, func() (bool, error) {
		d := e.get("paused")
		return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == 3, nil
	})
	if rss := e.replicaSets("paused"); len(rss) != 1 {
		t.Errorf("paused deployment rolled out: %d replicasets", len(rss))
	}
	if msg, done, err := e.rolloutStatus("paused"); done || err != nil || !strings.Contains(msg, "0 out of 3 new replicas have been updated") {
		t.Errorf("rollout status of the paused deployment: %q %v %v", msg, done, err)
	}
	if old := e.rsFor("paused", "img:1"); *old.Spec.Replicas != 3 {
		t.Errorf("scaling a paused deployment: old replicaset has %d replicas, want 3", *old.Spec.Replicas)
	}
	e.kubectl("paused", polymorphichelpers.ObjectResumerFn)
	d := e.rolledOut("paused")
	if n := e.rsFor("paused", "img:2"); n.Annotations[deployment.RevisionAnnotation] != "2" || *n.Spec.Replicas != 3 {
		t.Errorf("after resume: new replicaset revision %q replicas %d", n.Annotations[deployment.RevisionAnnotation], *n.Spec.Replicas)
	}
	if c := condition(d, appsv1.DeploymentProgressing); c == nil || c.Reason != "NewReplicaSetAvailable" {
		t.Errorf("Progressing after resume = %+v", c)
	}
}

func testProgressDeadline(e *env) {
	t := e.t
	d := newDeployment("stuck", "img:1", 2)
	d.Spec.ProgressDeadlineSeconds = ptr(int32(2))
	d.Spec.Template.Spec.NodeName = "no-such-node" // its pods never start
	e.create(d)
	e.eventually("ProgressDeadlineExceeded", 20*time.Second, func() (bool, error) {
		c := condition(e.get("stuck"), appsv1.DeploymentProgressing)
		return c != nil && c.Reason == "ProgressDeadlineExceeded", nil
	})
	d = e.get("stuck")
	rs := e.rsFor("stuck", "img:1")
	if c := condition(d, appsv1.DeploymentProgressing); c.Status != corev1.ConditionFalse || c.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", rs.Name) {
		t.Errorf("Progressing = %+v", c)
	}
	if c := condition(d, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable" {
		t.Errorf("Available = %+v", c)
	}
	if _, _, err := e.rolloutStatus("stuck"); err == nil || !strings.Contains(err.Error(), "exceeded its progress deadline") {
		t.Errorf("kubectl rollout status: %v, want the deadline error", err)
	}
}

func ptr[T any](v T) *T { return &v }
