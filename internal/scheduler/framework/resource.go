package framework

import (
	corev1 "k8s.io/api/core/v1"
)

// Default requests the scoring plugins assume for containers that request
// nothing, as Kubernetes does, so that best-effort pods still spread.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of the resources the scheduler accounts for.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is the number of pods (allocatable: the node's pod capacity).
	Pods int64
	// Scalar holds extended resources (e.g. nvidia.com/gpu, hugepages).
	Scalar map[corev1.ResourceName]int64
}

// NewResource converts a ResourceList.
func NewResource(rl corev1.ResourceList) Resource {
	var r Resource
	r.AddList(rl)
	return r
}

// AddList adds the amounts of rl.
func (r *Resource) AddList(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
			r.Pods += q.Value()
		default:
			if isScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] += q.Value()
			}
		}
	}
}

// isScalar reports whether name is an extended or hugepages resource.
func isScalar(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > 10 && s[:10] == "hugepages-" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i] != "kubernetes.io" && s[:i] != "requests.kubernetes.io"
		}
	}
	return false
}

// Add adds o.
func (r *Resource) Add(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts o.
func (r *Resource) Sub(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] -= v
	}
}

// SetMax raises each amount of r to at least that of o.
func (r *Resource) SetMax(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.Pods = max(r.Pods, o.Pods)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	c := r
	if r.Scalar != nil {
		c.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// PodRequests returns what a pod occupies on a node, as Kubernetes computes
// it: the larger of the sum of its containers' requests (restartable init
// containers, i.e. sidecars, included) and each init container's request,
// plus the pod overhead; Pods is 1. NonZero is the same with the default
// cpu and memory for containers that request none (used for scoring).
func PodRequests(pod *corev1.Pod) (req, nonZero Resource) {
	var sidecars, sidecarsNZ Resource
	var initMax, initMaxNZ Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := NewResource(c.Resources.Requests)
		nz := nonZeroOf(r)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Add(r)
			sidecarsNZ.Add(nz)
			continue
		}
		// A regular init container runs alongside the sidecars started before it.
		r.Add(sidecars)
		nz.Add(sidecarsNZ)
		initMax.SetMax(r)
		initMaxNZ.SetMax(nz)
	}
	req, nonZero = sidecars.Clone(), sidecarsNZ.Clone()
	for i := range pod.Spec.Containers {
		r := NewResource(pod.Spec.Containers[i].Resources.Requests)
		req.Add(r)
		nonZero.Add(nonZeroOf(r))
	}
	req.SetMax(initMax)
	nonZero.SetMax(initMaxNZ)
	if pod.Spec.Overhead != nil {
		o := NewResource(pod.Spec.Overhead)
		req.Add(o)
		nonZero.Add(o)
	}
	req.Pods, nonZero.Pods = 1, 1
	return req, nonZero
}

// nonZeroOf returns r with the default cpu and memory for zero amounts.
func nonZeroOf(r Resource) Resource {
	r = r.Clone()
	if r.MilliCPU == 0 {
		r.MilliCPU = DefaultMilliCPURequest
	}
	if r.Memory == 0 {
		r.Memory = DefaultMemoryRequest
	}
	return r
}
