package cache

import (
	"sync"

	"github.com/berth-dev/berth/internal/scheduler/framework"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

type podState struct {
	info    *framework.PodInfo
	node    string
	assumed bool
}

// Cache holds node infos. Informer handlers and the scheduler call its
// methods concurrently; a scheduling decision runs inside Lock/Unlock and
// reads the node list without further locking.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]*framework.NodeInfo
	// list holds the infos of known nodes in a stable order (the scheduler
	// rotates over it); index maps a node name to its position.
	list  []*framework.NodeInfo
	index map[string]int
	pods  map[types.UID]*podState
	// nominated lists, per node, pods that preempted others there and wait.
	nominated map[string][]*framework.PodInfo
	nominee   map[types.UID]string
}

// New returns an empty cache.
func New() *Cache {
	return &Cache{
		nodes: map[string]*framework.NodeInfo{}, index: map[string]int{},
		pods: map[types.UID]*podState{}, nominated: map[string][]*framework.PodInfo{}, nominee: map[types.UID]string{},
	}
}

// Lock takes the cache for one scheduling decision.
func (c *Cache) Lock() { c.mu.Lock() }

// Unlock releases it.
func (c *Cache) Unlock() { c.mu.Unlock() }

// NodeInfos returns the known nodes; call with the cache locked and do not
// modify the result.
func (c *Cache) NodeInfos() []*framework.NodeInfo { return c.list }

// NodeInfo returns a known node's info (nil if unknown); call locked.
func (c *Cache) NodeInfo(name string) *framework.NodeInfo {
	if i, ok := c.index[name]; ok {
		return c.list[i]
	}
	return nil
}

// AddNode adds or updates a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[node.Name]
	if !ok {
		ni = &framework.NodeInfo{}
		c.nodes[node.Name] = ni
	}
	ni.SetNode(node)
	if _, listed := c.index[node.Name]; !listed {
		c.index[node.Name] = len(c.list)
		c.list = append(c.list, ni)
	}
}

// RemoveNode forgets a node; pods still bound to it keep being accounted
// until they are deleted.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[name]
	if !ok {
		return
	}
	last := len(c.list) - 1
	c.list[i] = c.list[last]
	c.index[c.list[i].Name()] = i
	c.list[last] = nil
	c.list = c.list[:last]
	delete(c.index, name)
	ni := c.nodes[name]
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		ni.Node = nil
	}
}

// NumNodes returns the number of known nodes.
func (c *Cache) NumNodes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.list)
}

// nodeFor returns the info of name, creating a placeholder for pods bound
// to a node the cache does not know (yet).
func (c *Cache) nodeFor(name string) *framework.NodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = &framework.NodeInfo{}
		c.nodes[name] = ni
	}
	return ni
}

func (c *Cache) removeFromNode(st *podState) {
	if ni, ok := c.nodes[st.node]; ok {
		ni.RemovePod(st.info.Pod.UID)
		if ni.Node == nil && len(ni.Pods) == 0 {
			delete(c.nodes, st.node)
		}
	}
}

// AssumePod accounts for pod on node before the binding is confirmed;
// call with the cache locked (inside the decision).
func (c *Cache) AssumePod(pod *corev1.Pod, node string) *framework.PodInfo {
	p := pod.DeepCopy()
	p.Spec.NodeName = node
	pi := framework.NewPodInfo(p)
	if old, ok := c.pods[p.UID]; ok {
		c.removeFromNode(old)
	}
	c.pods[p.UID] = &podState{info: pi, node: node, assumed: true}
	c.nodeFor(node).AddPod(pi)
	c.removeNominatedLocked(p.UID)
	return pi
}

// ForgetPod undoes AssumePod after a failed binding.
func (c *Cache) ForgetPod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.pods[uid]; ok && st.assumed {
		c.removeFromNode(st)
		delete(c.pods, uid)
	}
}

// IsAssumed reports whether pod uid is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.pods[uid]
	return ok && st.assumed
}

// Occupies reports whether a pod takes resources on its node: it is bound
// and neither Succeeded nor Failed.
func Occupies(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// SetPod records the latest version of a pod from the API: a bound,
// non-terminal pod is accounted on its node (confirming an assumed pod);
// any other pod is removed.
func (c *Cache) SetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.pods[pod.UID]
	if !Occupies(pod) {
		if ok && !st.assumed {
			c.removeFromNode(st)
			delete(c.pods, pod.UID)
		}
		return
	}
	if ok {
		c.removeFromNode(st)
	}
	pi := framework.NewPodInfo(pod)
	c.pods[pod.UID] = &podState{info: pi, node: pod.Spec.NodeName}
	c.nodeFor(pod.Spec.NodeName).AddPod(pi)
	c.removeNominatedLocked(pod.UID)
}

// RemovePod forgets a deleted pod.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.pods[pod.UID]; ok {
		c.removeFromNode(st)
		delete(c.pods, pod.UID)
	}
	c.removeNominatedLocked(pod.UID)
}

// Nominate records that pod waits for node after preempting there;
// call with the cache locked.
func (c *Cache) Nominate(pod *corev1.Pod, node string) {
	c.removeNominatedLocked(pod.UID)
	c.nominated[node] = append(c.nominated[node], framework.NewPodInfo(pod))
	c.nominee[pod.UID] = node
}

// SetNominated records a pod's nominatedNodeName from the API (it may have
// been set by another scheduler instance before a fail-over).
func (c *Cache) SetNominated(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pod.Spec.NodeName != "" || pod.Status.NominatedNodeName == "" {
		c.removeNominatedLocked(pod.UID)
		return
	}
	if c.nominee[pod.UID] != pod.Status.NominatedNodeName {
		c.Nominate(pod, pod.Status.NominatedNodeName)
	}
}

func (c *Cache) removeNominatedLocked(uid types.UID) {
	node, ok := c.nominee[uid]
	if !ok {
		return
	}
	delete(c.nominee, uid)
	list := c.nominated[node]
	for i, pi := range list {
		if pi.Pod.UID == uid {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.nominated, node)
	} else {
		c.nominated[node] = list
	}
}

// WithNominated returns node as pod must see it: with the pods nominated
// to it that have at least pod's priority (pod may not take their room).
// Without such pods it returns node itself. Call with the cache locked.
func (c *Cache) WithNominated(pod *corev1.Pod, node *framework.NodeInfo) *framework.NodeInfo {
	if len(c.nominated) == 0 {
		return node
	}
	list := c.nominated[node.Name()]
	if len(list) == 0 {
		return node
	}
	prio := framework.PodPriority(pod)
	var out *framework.NodeInfo
	for _, pi := range list {
		if pi.Pod.UID == pod.UID || pi.Priority < prio {
			continue
		}
		if out == nil {
			out = node.Clone()
		}
		out.AddPod(pi)
	}
	if out == nil {
		return node
	}
	return out
}
