package cache

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("10")}}}
}

func pod(name, nodeName, cpu string, prio int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)},
		Spec: corev1.PodSpec{NodeName: nodeName, Priority: &prio, Containers: []corev1.Container{{
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

func requested(t *testing.T, c *Cache, n string) (int64, int64) {
	t.Helper()
	c.Lock()
	defer c.Unlock()
	ni := c.NodeInfo(n)
	if ni == nil {
		t.Fatalf("node %s unknown", n)
	}
	return ni.Requested.MilliCPU, ni.Requested.Pods
}

func TestAssumeConfirmForget(t *testing.T) {
	c := New()
	c.AddNode(node("a"))
	c.AddNode(node("b"))
	p := pod("p", "", "1", 0)
	c.Lock()
	c.AssumePod(p, "a")
	c.Unlock()
	if cpu, n := requested(t, c, "a"); cpu != 1000 || n != 1 || !c.IsAssumed(p.UID) {
		t.Fatalf("after assume: cpu %d pods %d", cpu, n)
	}
	// An update of the still-unbound pod (e.g. a status patch) keeps the assumption.
	c.SetPod(p)
	if cpu, _ := requested(t, c, "a"); cpu != 1000 {
		t.Fatal("unbound update dropped the assumed pod")
	}
	bound := p.DeepCopy()
	bound.Spec.NodeName = "a"
	c.SetPod(bound)
	if c.IsAssumed(p.UID) {
		t.Fatal("binding not confirmed")
	}
	if cpu, n := requested(t, c, "a"); cpu != 1000 || n != 1 {
		t.Fatalf("confirm double-counted: cpu %d pods %d", cpu, n)
	}
	c.ForgetPod(p.UID) // confirmed pods are not forgotten
	if cpu, _ := requested(t, c, "a"); cpu != 1000 {
		t.Fatal("ForgetPod removed a bound pod")
	}
	done := bound.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	c.SetPod(done)
	if cpu, n := requested(t, c, "a"); cpu != 0 || n != 0 {
		t.Fatalf("finished pod still counted: cpu %d pods %d", cpu, n)
	}
	q := pod("q", "", "2", 0)
	c.Lock()
	c.AssumePod(q, "b")
	c.Unlock()
	c.ForgetPod(q.UID)
	if cpu, n := requested(t, c, "b"); cpu != 0 || n != 0 {
		t.Fatalf("forgotten pod still counted: cpu %d pods %d", cpu, n)
	}
}

func TestPodsOnUnknownAndRemovedNodes(t *testing.T) {
	c := New()
	c.SetPod(pod("early", "late-node", "1", 0)) // pod informer ran first
	c.AddNode(node("late-node"))
	if cpu, _ := requested(t, c, "late-node"); cpu != 1000 {
		t.Fatalf("pod bound before its node was seen is not counted: %d", cpu)
	}
	c.AddNode(node("other"))
	c.RemoveNode("late-node")
	c.Lock()
	if len(c.NodeInfos()) != 1 || c.NodeInfos()[0].Name() != "other" || c.NodeInfo("late-node") != nil {
		t.Fatal("removed node still listed")
	}
	c.Unlock()
	c.RemovePod(pod("early", "late-node", "1", 0))
	if len(c.nodes) != 1 {
		t.Fatalf("placeholder of removed node kept: %d infos", len(c.nodes))
	}
}

func TestWithNominated(t *testing.T) {
	c := New()
	c.AddNode(node("a"))
	high := pod("high", "", "3", 100)
	c.Lock()
	defer c.Unlock()
	c.Nominate(high, "a")
	ni := c.NodeInfo("a")
	for _, tc := range []struct {
		pod  *corev1.Pod
		want int64
	}{
		{pod("low", "", "1", 1), 3000},     // must leave room for the nominated pod
		{pod("higher", "", "1", 200), 0},   // may take it
		{high, 0},                          // the nominee itself
		{pod("equal", "", "1", 100), 3000}, // equal priority waits its turn
	} {
		if got := c.WithNominated(tc.pod, ni).Requested.MilliCPU; got != tc.want {
			t.Errorf("%s sees %dm requested, want %dm", tc.pod.Name, got, tc.want)
		}
	}
	if ni.Requested.MilliCPU != 0 {
		t.Fatal("WithNominated changed the cached node")
	}
	c.AssumePod(high, "a")
	if len(c.nominated) != 0 {
		t.Fatal("nomination kept after the pod was assumed")
	}
}
