package framework

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodInfo is a pod with what the scheduler derives from it once.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is what the pod occupies on a node (Pods = 1).
	Requests Resource
	// NonZeroRequests is Requests with default cpu/memory for containers
	// that request none; scoring uses it.
	NonZeroRequests Resource
	// Priority is spec.priority (0 when unset).
	Priority int32
	// Owner is the UID of the pod's controller (empty for bare pods).
	Owner types.UID
}

// NewPodInfo derives a PodInfo from pod.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod}
	pi.Requests, pi.NonZeroRequests = PodRequests(pod)
	pi.Priority = PodPriority(pod)
	for i := range pod.OwnerReferences {
		if r := &pod.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			pi.Owner = r.UID
			break
		}
	}
	return pi
}

// PodPriority returns spec.priority, 0 when unset.
func PodPriority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// HostPort is one host port a pod uses on a node.
type HostPort struct {
	IP       string // "" or 0.0.0.0 means every address
	Protocol corev1.Protocol
	Port     int32
}

// NodeInfo is a node with the pods on it (bound and assumed) and their sums.
type NodeInfo struct {
	Node *corev1.Node
	// Pods on the node: bound pods and pods assumed by the scheduler but not
	// yet bound.
	Pods []*PodInfo
	// Requested is the sum of the pods' Requests (Pods counts them).
	Requested Resource
	// NonZeroRequested is the sum of the pods' NonZeroRequests.
	NonZeroRequested Resource
	// Allocatable is the node's allocatable resources.
	Allocatable Resource
	// Ready is the status of the node's Ready condition ("" if missing),
	// Unschedulable its spec.unschedulable and Taints its spec.taints,
	// copied here so that filters read only the NodeInfo (fewer cache
	// misses when thousands of nodes are filtered per pod).
	Ready         corev1.ConditionStatus
	Unschedulable bool
	Taints        []corev1.Taint
	// UsedPorts are the host ports the pods use.
	UsedPorts []HostPort
	// PodsWithAntiAffinity counts pods that have required pod anti-affinity
	// (filters skip the symmetric check when it is 0).
	PodsWithAntiAffinity int
	// Generation increases on every change.
	Generation int64
}

// NewNodeInfo returns the info of node with no pods.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	ni.SetNode(node)
	return ni
}

// SetNode replaces the node object (pods are kept).
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = NewResource(node.Status.Allocatable)
	n.Ready = ""
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			n.Ready = node.Status.Conditions[i].Status
		}
	}
	n.Unschedulable = node.Spec.Unschedulable
	n.Taints = node.Spec.Taints
	n.Generation++
}

// Name returns the node's name ("" without a node).
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// AddPod accounts for pi on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	n.Requested.Add(pi.Requests)
	n.NonZeroRequested.Add(pi.NonZeroRequests)
	n.UsedPorts = append(n.UsedPorts, PodHostPorts(pi.Pod)...)
	if HasRequiredAntiAffinity(pi.Pod) {
		n.PodsWithAntiAffinity++
	}
	n.Generation++
}

// RemovePod removes the pod with uid; it reports whether it was there.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	for i, pi := range n.Pods {
		if pi.Pod.UID != uid {
			continue
		}
		last := len(n.Pods) - 1
		n.Pods[i] = n.Pods[last]
		n.Pods[last] = nil
		n.Pods = n.Pods[:last]
		n.Requested.Sub(pi.Requests)
		n.NonZeroRequested.Sub(pi.NonZeroRequests)
		n.removePorts(PodHostPorts(pi.Pod))
		if HasRequiredAntiAffinity(pi.Pod) {
			n.PodsWithAntiAffinity--
		}
		n.Generation++
		return true
	}
	return false
}

func (n *NodeInfo) removePorts(ports []HostPort) {
	for _, p := range ports {
		for i, u := range n.UsedPorts {
			if u == p {
				n.UsedPorts = append(n.UsedPorts[:i], n.UsedPorts[i+1:]...)
				break
			}
		}
	}
}

// Clone returns a copy that can be changed without affecting n (the node
// and pod objects themselves are shared and must not be modified).
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Pods = append([]*PodInfo(nil), n.Pods...)
	c.Requested = n.Requested.Clone()
	c.NonZeroRequested = n.NonZeroRequested.Clone()
	c.Allocatable = n.Allocatable.Clone()
	c.UsedPorts = append([]HostPort(nil), n.UsedPorts...)
	return &c
}

// PodHostPorts lists the host ports a pod's containers ask for.
func PodHostPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, HostPort{IP: p.HostIP, Protocol: proto, Port: p.HostPort})
		}
	}
	return out
}

// PodContainerPorts returns every container port of pod as the host port
// it becomes when the pod shares its node's network (the host port where
// one is set, else the container port).
func PodContainerPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			port := p.HostPort
			if port <= 0 {
				port = p.ContainerPort
			}
			if port <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, HostPort{IP: p.HostIP, Protocol: proto, Port: port})
		}
	}
	return out
}

// HasRequiredAntiAffinity reports whether pod has required pod anti-affinity terms.
func HasRequiredAntiAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}
