package replicaset_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/replicaset"
	"github.com/berth-dev/berth/internal/testutil/fakekubelet"
	"github.com/berth-dev/berth/internal/testutil/testenv"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const ns = "default"

// env is a running API server with the ReplicaSet controller.
type env struct {
	t  *testing.T
	cs *kubernetes.Clientset
}

func start(t *testing.T, kubelet bool) *env {
	t.Helper()
	opts := testenv.Options{Controllers: []controller.Factory{replicaset.New}}
	if kubelet {
		opts.Kubelet = &fakekubelet.Config{Bind: true}
	}
	return &env{t: t, cs: testenv.Start(t, opts).Client}
}

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	l := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
		},
	}
}

func (e *env) create(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
	e.t.Helper()
	got, err := e.cs.AppsV1().ReplicaSets(ns).Create(context.Background(), rs, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create replicaset: %v", err)
	}
	return got
}

func (e *env) get(name string) *appsv1.ReplicaSet {
	e.t.Helper()
	rs, err := e.cs.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get replicaset: %v", err)
	}
	return rs
}

func (e *env) scale(name string, replicas int32) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		rs := e.get(name)
		rs.Spec.Replicas = &replicas
		_, err := e.cs.AppsV1().ReplicaSets(ns).Update(context.Background(), rs, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("scale %s to %d: %v", name, replicas, err)
	}
}

// active returns the active pods controlled by the ReplicaSet with uid.
func (e *env) active(uid types.UID) []corev1.Pod {
	e.t.Helper()
	list, err := e.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("list pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != uid || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	return out
}

// eventually polls cond until it holds or timeout passes.
func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// converged waits until the ReplicaSet has exactly want active pods, all
// ready, and a status saying so for its current generation.
func (e *env) converged(name string, want int32, timeout time.Duration) *appsv1.ReplicaSet {
	e.t.Helper()
	var rs *appsv1.ReplicaSet
	e.eventually(timeout, fmt.Sprintf("%s to converge to %d", name, want), func() (bool, string) {
		rs = e.get(name)
		n := len(e.active(rs.UID))
		st := rs.Status
		state := fmt.Sprintf("active=%d status=%+v generation=%d", n, st, rs.Generation)
		return n == int(want) && st.Replicas == want && st.ReadyReplicas == want && st.AvailableReplicas == want &&
			st.ObservedGeneration == rs.Generation, state
	})
	return rs
}

func TestReplicaSetBecomesReady(t *testing.T) {
	e := start(t, true)
	e.create(newRS("web", 3))
	rs := e.converged("web", 3, 20*time.Second)
	if rs.Status.FullyLabeledReplicas != 3 {
		t.Errorf("fullyLabeledReplicas = %d, want 3", rs.Status.FullyLabeledReplicas)
	}
	for _, p := range e.active(rs.UID) {
		ref := metav1.GetControllerOf(&p)
		if ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s: controller ref %+v", p.Name, ref)
		}
		if p.GenerateName != "web-" || p.Labels["app"] != "web" {
			t.Errorf("pod %s: generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
		}
	}
}

func TestMinReadySecondsDelaysAvailability(t *testing.T) {
	e := start(t, true)
	rs := newRS("slow", 2)
	rs.Spec.MinReadySeconds = 2
	e.create(rs)
	e.eventually(20*time.Second, "ready but not yet available", func() (bool, string) {
		st := e.get("slow").Status
		return st.ReadyReplicas == 2 && st.AvailableReplicas < 2, fmt.Sprintf("%+v", st)
	})
	// No pod event comes after readiness: only the controller's own
	// requeue can make the pods available.
	e.converged("slow", 2, 10*time.Second)
}

func TestScaleUpAndDown(t *testing.T) {
	e := start(t, true)
	e.create(newRS("scale", 3))
	e.converged("scale", 3, 20*time.Second)
	e.scale("scale", 10)
	e.converged("scale", 10, 20*time.Second)
	e.scale("scale", 1)
	e.converged("scale", 1, 20*time.Second)
}

func TestDeletedPodIsReplaced(t *testing.T) {
	e := start(t, true)
	rs := e.create(newRS("replace", 2))
	e.converged("replace", 2, 20*time.Second)
	victim := e.active(rs.UID)[0].Name
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "a replacement pod", func() (bool, string) {
		pods := e.active(rs.UID)
		names := ""
		for _, p := range pods {
			if p.Name == victim {
				return false, "victim still active"
			}
			names += p.Name + " "
		}
		return len(pods) == 2, names
	})
	e.converged("replace", 2, 20*time.Second)
}

func TestAdoptAndRelease(t *testing.T) {
	e := start(t, true)
	ctx := context.Background()
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{"app": "adopt"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := e.create(newRS("adopt", 2))
	e.eventually(20*time.Second, "the orphan to be adopted", func() (bool, string) {
		p, err := e.cs.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ref := metav1.GetControllerOf(p)
		return ref != nil && ref.UID == rs.UID, fmt.Sprintf("ownerReferences=%+v", p.OwnerReferences)
	})
	e.converged("adopt", 2, 20*time.Second)
	if all, _ := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); len(all.Items) != 2 {
		t.Errorf("%d pods exist, want 2 (the orphan replaces a creation)", len(all.Items))
	}

	patch := []byte(`{"metadata":{"labels":{"app":"released"}}}`)
	if _, err := e.cs.CoreV1().Pods(ns).Patch(ctx, "orphan", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(20*time.Second, "the relabelled pod to be released", func() (bool, string) {
		p, err := e.cs.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.GetControllerOf(p) == nil, fmt.Sprintf("ownerReferences=%+v", p.OwnerReferences)
	})
	rs = e.converged("adopt", 2, 20*time.Second)
	for _, p := range e.active(rs.UID) {
		if p.Name == "orphan" {
			t.Error("the released pod is still counted")
		}
	}
}

func TestConcurrentScalingCreatesNoDuplicates(t *testing.T) {
	e := start(t, true)
	ctx := context.Background()
	rs := e.create(newRS("race", 5))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
			want := int32(rand.IntN(16))
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if i%2 == 0 { // through the scale subresource
					sc, err := e.cs.AppsV1().ReplicaSets(ns).GetScale(ctx, "race", metav1.GetOptions{})
					if err != nil {
						return err
					}
					sc.Spec.Replicas = want
					_, err = e.cs.AppsV1().ReplicaSets(ns).UpdateScale(ctx, "race", sc, metav1.UpdateOptions{})
					return err
				}
				cur, err := e.cs.AppsV1().ReplicaSets(ns).Get(ctx, "race", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Spec.Replicas = &want
				_, err = e.cs.AppsV1().ReplicaSets(ns).Update(ctx, cur, metav1.UpdateOptions{})
				return err
			})
			if err != nil && !apierrors.IsConflict(err) {
				t.Errorf("scale: %v", err)
			}
		}()
	}
	wg.Wait()
	final := *e.get("race").Spec.Replicas
	e.converged("race", final, 30*time.Second)
	// And it stays exact: no late duplicate creations.
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		if n := len(e.active(rs.UID)); n != int(final) {
			t.Fatalf("%d active pods after convergence, want %d", n, final)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("final replicas %d", final)
}

func TestCreationThroughput(t *testing.T) {
	e := start(t, false)
	const n = 500
	begin := time.Now()
	e.create(newRS("bulk", n))
	e.eventually(60*time.Second, "500 replicas in status", func() (bool, string) {
		st := e.get("bulk").Status
		return st.Replicas == n, fmt.Sprintf("replicas=%d", st.Replicas)
	})
	d := time.Since(begin)
	t.Logf("created %d pods in %v: %.0f pods/s", n, d.Round(time.Millisecond), n/d.Seconds())
}
