package deployment_test

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/controller/deployment"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

func testHistoryLimit(e *env) {
	d := newDeployment("hist", "img:1", 1)
	d.Spec.RevisionHistoryLimit = ptr(int32(1))
	e.create(d)
	e.rolledOut("hist")
	e.setImage("hist", "img:2")
	e.rolledOut("hist")
	e.setImage("hist", "img:3")
	e.rolledOut("hist")
	e.eventually("one old replicaset kept", 10*time.Second, func() (bool, error) {
		return len(e.replicaSets("hist")) == 2, nil
	})
	old := e.rsFor("hist", "img:2")
	if old.Annotations[deployment.RevisionAnnotation] != "2" {
		e.t.Errorf("kept the wrong old replicaset: %v", old.Annotations)
	}
}

func testRecreate(e *env) {
	t := e.t
	d := newDeployment("rec", "img:1", 2)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	e.create(d)
	e.rolledOut("rec")
	oldRS := e.rsFor("rec", "img:1")
	s := e.sample("rec")
	e.setImage("rec", "img:2")
	e.rolledOut("rec")
	s.finish()
	if s.mixed > 0 {
		t.Errorf("old and new pods existed together in %d of %d samples", s.mixed, s.samples)
	}
	newRS := e.rsFor("rec", "img:2")
	e.waitEvent("rec", "ScalingReplicaSet", fmt.Sprintf("Scaled down replica set %s from 2 to 0", oldRS.Name))
	e.waitEvent("rec", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to 2", newRS.Name))
}

func testProportional(e *env) {
	t := e.t
	d := newDeployment("prop", "img:1", 4)
	one := d.Spec.Strategy.RollingUpdate.MaxSurge
	d.Spec.Strategy.RollingUpdate.MaxUnavailable = one
	e.create(d)
	e.rolledOut("prop")
	e.update("prop", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "img:2"
		d.Spec.Template.Spec.NodeName = "no-such-node" // the rollout gets stuck
	})
	// 4 replicas, surge 1, unavailable 1: stuck at 3 old + 2 new.
	sizes := func(old, cur int32) func() (bool, error) {
		return func() (bool, error) {
			rss := e.replicaSets("prop")
			if len(rss) != 2 {
				return false, nil
			}
			o, n := e.rsFor("prop", "img:1"), e.rsFor("prop", "img:2")
			return *o.Spec.Replicas == old && *n.Spec.Replicas == cur && o.Status.Replicas == old && n.Status.Replicas == cur, nil
		}
	}
	e.eventually("3 old + 2 new", 10*time.Second, sizes(3, 2))
	// Scaled to 8 (9 allowed): +4 shared 3:2 → 5 old + 4 new.
	e.update("prop", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(8)) })
	e.eventually("5 old + 4 new", 10*time.Second, sizes(5, 4))
	for _, rs := range e.replicaSets("prop") {
		if rs.Annotations[deployment.DesiredReplicasAnnotation] != "8" || rs.Annotations[deployment.MaxReplicasAnnotation] != "9" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
}

func testHashCollision(e *env) {
	t := e.t
	d := newDeployment("coll", "img:1", 2)
	d.Spec.Paused = true
	d = e.create(d)
	hash := deployment.ComputeHash(&d.Spec.Template, nil)
	// An orphan in the way of the new ReplicaSet's name, with another
	// template: adopted, then found not to be the new ReplicaSet.
	taken := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "coll-" + hash, Labels: map[string]string{"app": "coll"}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(0)), Selector: d.Spec.Selector.DeepCopy(), Template: *d.Spec.Template.DeepCopy()},
	}
	taken.Spec.Template.Spec.Containers[0].Image = "other"
	if _, err := e.cs.AppsV1().ReplicaSets(e.ns).Create(context.Background(), taken, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("adoption", 10*time.Second, func() (bool, error) { return len(e.replicaSets("coll")) == 1, nil })
	e.kubectl("coll", polymorphichelpers.ObjectResumerFn)
	d = e.rolledOut("coll")
	if d.Status.CollisionCount == nil || *d.Status.CollisionCount != 1 {
		t.Errorf("collisionCount %v, want 1", d.Status.CollisionCount)
	}
	n := e.rsFor("coll", "img:1")
	if want := "coll-" + deployment.ComputeHash(&d.Spec.Template, ptr(int32(1))); n.Name != want {
		t.Errorf("new replicaset %s, want %s", n.Name, want)
	}
	if len(e.replicaSets("coll")) != 2 {
		t.Errorf("%d replicasets, want the adopted one and the new one", len(e.replicaSets("coll")))
	}
}

func testDeleting(e *env) {
	t := e.t
	e.create(newDeployment("del", "img:1", 2))
	e.rolledOut("del")
	// Foreground deletion: the deployment stays (no garbage collector
	// here) with a deletionTimestamp; only its status is synced.
	fg := metav1.DeletePropagationForeground
	if err := e.cs.AppsV1().Deployments(e.ns).Delete(context.Background(), "del", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	e.setImage("del", "img:2")
	e.eventually("status of the deleted deployment synced", 10*time.Second, func() (bool, error) {
		d := e.get("del")
		return d.DeletionTimestamp != nil && d.Status.ObservedGeneration >= d.Generation, nil
	})
	if n := len(e.replicaSets("del")); n != 1 {
		t.Errorf("a deployment being deleted rolled out: %d replicasets", n)
	}
}
