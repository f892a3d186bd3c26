package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/replicaset"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestTwoServersOneLeader runs two servers on one etcd cluster: only the
// leader's controllers act (no duplicate pods under churn), and killing it
// hands over within 15 s.
func TestTwoServersOneLeader(t *testing.T) {
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd, err := store.StartEmbedded(ctx, store.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	ctrls := []controller.Factory{replicaset.New}
	a := start(t, server.Config{EtcdEndpoints: etcd.Endpoints(), Identity: "server-a", Controllers: ctrls})
	csA := clientFor(t, a)
	waitHolder(ctx, t, csA, "server-a", 20*time.Second)
	b := start(t, server.Config{EtcdEndpoints: etcd.Endpoints(), Identity: "server-b", Controllers: ctrls})
	csB := clientFor(t, b)

	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "churn"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "churn"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "churn"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			},
		},
	}
	if _, err := csB.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Churn through both servers' API endpoints.
	for i, n := range []int32{8, 3, 12, 5, 9, 6} {
		cs := csA
		if i%2 == 1 {
			cs = csB
		}
		if _, err := cs.AppsV1().ReplicaSets("default").UpdateScale(ctx, "churn", scaleTo("churn", n), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitPods(ctx, t, csB, 6)
	// Stays exact: no second controller creates extra pods.
	time.Sleep(2 * time.Second)
	waitPods(ctx, t, csB, 6)

	killed := time.Now()
	a.Close()
	waitHolder(ctx, t, csB, "server-b", 25*time.Second)
	if took := time.Since(killed); took > 15*time.Second+2*time.Second {
		t.Errorf("hand-over took %v, want ≤ 15 s", took)
	} else {
		t.Logf("hand-over took %v", took)
	}
	if _, err := csB.AppsV1().ReplicaSets("default").UpdateScale(ctx, "churn", scaleTo("churn", 7), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(ctx, t, csB, 7)
}

func ptr[T any](v T) *T { return &v }

func scaleTo(name string, n int32) *autoscalingv1.Scale {
	return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}
}

func waitHolder(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "berth-controller-manager", metav1.GetOptions{})
		if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease holder is not %s after %v (lease %v, err %v)", want, timeout, l, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitPods(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=churn"})
		n := 0
		if err == nil {
			for _, p := range l.Items {
				if p.DeletionTimestamp == nil {
					n++
				}
			}
			if n == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods, want %d (err %v)", n, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
