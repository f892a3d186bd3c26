package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/berth-dev/berth/internal/scheduler/cache"
	"github.com/berth-dev/berth/internal/scheduler/framework"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// benchCluster returns a cache of n nodes (32 cpu, 128Gi, 110 pods), each
// already running podsPerNode pods, and the default profile's framework.
func benchCluster(b *testing.B, n, podsPerNode int) (*cache.Cache, *framework.Framework) {
	b.Helper()
	cfg, err := LoadConfig("")
	if err != nil {
		b.Fatal(err)
	}
	c := cache.New()
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
	for i := range n {
		name := fmt.Sprintf("node-%05d", i)
		c.AddNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
			Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
		for j := range podsPerNode {
			p := benchPod(fmt.Sprintf("pod-%d-%d", i, j))
			p.Spec.NodeName = name
			c.SetPod(p)
		}
	}
	fw, err := newFramework(cfg.Profiles[0], fake.NewClientset(), c)
	if err != nil {
		b.Fatal(err)
	}
	return c, fw
}

// benchPod is Kubernetes scheduler_perf's default pod: 100m cpu, 500Mi.
func benchPod(name string) *corev1.Pod {
	prio := int32(0)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name)},
		Spec: corev1.PodSpec{SchedulerName: "default-scheduler", Priority: &prio, Containers: []corev1.Container{{Name: "c", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("500Mi")}}}}}}
}

// BenchmarkDecision5000Nodes measures the in-process decision (pre-filter,
// filter with sampling, score, select) for one pod among 5,000 nodes that
// already run 2 pods each. Target: ≤ 200 µs per pod.
func BenchmarkDecision5000Nodes(b *testing.B) {
	c, fw := benchCluster(b, 5000, 2)
	pod := benchPod("incoming")
	rnd := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	next := 0
	c.Lock()
	defer c.Unlock()
	nodes := c.NodeInfos()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := fw.Schedule(ctx, framework.NewCycleState(), pod, nodes, framework.ScheduleOptions{Start: next, Rand: rnd, WithNominated: c.WithNominated})
		if err != nil {
			b.Fatal(err)
		}
		next = res.Next
	}
}
