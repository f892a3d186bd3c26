package scheduler

import (
	"github.com/berth-dev/berth/internal/scheduler/cache"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	clientcache "k8s.io/client-go/tools/cache"
)

// responsible reports whether pod waits for one of this scheduler's profiles.
func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	_, ok := s.profiles[pod.Spec.SchedulerName]
	return ok
}

// podHandlers keep the cache (bound pods) and the queue (unbound pods)
// current, and retry unschedulable pods when a pod frees its node.
func (s *Scheduler) podHandlers() clientcache.ResourceEventHandler {
	return clientcache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			s.observePod(pod)
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*corev1.Pod)
			pod, ok2 := newObj.(*corev1.Pod)
			if !ok1 || !ok2 {
				return
			}
			s.observePod(pod)
			if cache.Occupies(old) && !cache.Occupies(pod) {
				s.queue.MoveAll() // a pod finished and freed its node
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(clientcache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			s.cache.RemovePod(pod)
			s.queue.Delete(pod)
			if cache.Occupies(pod) {
				s.queue.MoveAll()
			}
		},
	}
}

// observePod routes the latest version of a pod.
func (s *Scheduler) observePod(pod *corev1.Pod) {
	if pod.Spec.NodeName != "" {
		s.queue.Delete(pod)
		s.cache.SetPod(pod)
		return
	}
	s.cache.SetNominated(pod)
	if s.responsible(pod) {
		if err := s.queue.Add(pod); err != nil {
			s.log.Warn("cannot queue pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		return
	}
	s.queue.Delete(pod)
}

// nodeHandlers keep the cache's nodes current and retry unschedulable pods
// when a node joins or changes in a way that may let them fit.
func (s *Scheduler) nodeHandlers() clientcache.ResourceEventHandler {
	return clientcache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if node, ok := obj.(*corev1.Node); ok {
				s.cache.AddNode(node)
				s.queue.MoveAll()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*corev1.Node)
			node, ok2 := newObj.(*corev1.Node)
			if !ok1 || !ok2 {
				return
			}
			s.cache.AddNode(node)
			if nodeChangeMatters(old, node) {
				s.queue.MoveAll()
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(clientcache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if node, ok := obj.(*corev1.Node); ok {
				s.cache.RemoveNode(node.Name)
			}
		},
	}
}

// nodeChangeMatters reports whether a node update may let a waiting pod
// fit: allocatable, labels, taints, schedulability or readiness changed.
// Heartbeats (condition timestamps) do not count.
func nodeChangeMatters(old, cur *corev1.Node) bool {
	return !equality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable) ||
		!equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		old.Spec.Unschedulable != cur.Spec.Unschedulable ||
		readyStatus(old) != readyStatus(cur)
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}
