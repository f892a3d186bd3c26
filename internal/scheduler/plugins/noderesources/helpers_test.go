package noderesources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// rl builds a ResourceList from name/quantity pairs.
func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// node returns the info of a node with allocatable resources and the pods.
func node(alloc corev1.ResourceList, pods ...*corev1.Pod) *framework.NodeInfo {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status:     corev1.NodeStatus{Allocatable: alloc},
	}
	ni := framework.NewNodeInfo(n)
	for _, p := range pods {
		ni.AddPod(framework.NewPodInfo(p))
	}
	return ni
}

// pod returns a pod with one container per request list (none for no lists).
func pod(requests ...corev1.ResourceList) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: types.UID("uid-p")}}
	for _, r := range requests {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: r},
		})
	}
	return p
}

// withInit adds an init container with requests r.
func withInit(p *corev1.Pod, r corev1.ResourceList) *corev1.Pod {
	p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{
		Name: "init", Resources: corev1.ResourceRequirements{Requests: r},
	})
	return p
}
