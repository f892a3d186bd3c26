package nodeipam

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Name is the controller's name in logs and the enable list.
const Name = "nodeipam"

// Defaults of New.
const (
	// DefaultClusterCIDR is the range pod CIDRs are taken from.
	DefaultClusterCIDR = "10.42.0.0/16"
	// DefaultNodeMaskSize is the prefix length of an IPv4 node's range.
	DefaultNodeMaskSize = 24
	// DefaultNodeMaskSizeIPv6 is the prefix length of an IPv6 node's range.
	DefaultNodeMaskSizeIPv6 = 64
)

// Event reasons on Nodes.
const (
	// ReasonCIDRNotAvailable: the cluster CIDR has no free range for the
	// node (Kubernetes' reason).
	ReasonCIDRNotAvailable = "CIDRNotAvailable"
	// ReasonCIDRAssignmentFailed: the API server refused the range.
	ReasonCIDRAssignmentFailed = "CIDRAssignmentFailed"
)

// staleRetry is how soon a write that lost a race with a newer version is
// retried.
const staleRetry = 200 * time.Millisecond

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	recorder record.EventRecorder
	log      *slog.Logger
	queue    *controller.Queue

	// mu serializes allocation: the set, the reservations and the nodes
	// told about exhaustion are shared by all workers and the handlers.
	mu        sync.Mutex
	set       *CIDRSet
	pending   map[string]netip.Prefix // node → range reserved, not yet seen on the node
	exhausted map[string]bool         // nodes without a range, told so
}

// New is the controller.Factory of the node IPAM controller with the
// default cluster CIDR 10.42.0.0/16 and /24 node ranges.
func New(cctx *controller.Context) (controller.Controller, error) {
	return NewWithCIDR(DefaultClusterCIDR, 0)(cctx)
}

// NewWithCIDR returns the factory of a node IPAM controller handing out
// /nodeMaskSize ranges of clusterCIDR (nodeMaskSize 0: 24 for IPv4, 64 for
// IPv6). The factory fails on an invalid CIDR or mask size, or one that
// splits the cluster CIDR into more than 65536 ranges.
func NewWithCIDR(clusterCIDR string, nodeMaskSize int) controller.Factory {
	return func(cctx *controller.Context) (controller.Controller, error) {
		cluster, err := netip.ParsePrefix(clusterCIDR)
		if err != nil {
			return nil, fmt.Errorf("nodeipam: cluster CIDR: %w", err)
		}
		if nodeMaskSize == 0 {
			nodeMaskSize = DefaultNodeMaskSize
			if cluster.Addr().Is6() {
				nodeMaskSize = DefaultNodeMaskSizeIPv6
			}
		}
		set, err := NewCIDRSet(cluster, nodeMaskSize)
		if err != nil {
			return nil, err
		}
		inf := cctx.Informers.Core().V1().Nodes()
		c := &Controller{
			client:    cctx.Client,
			nodes:     inf.Lister(),
			recorder:  cctx.Recorder,
			log:       cctx.Logger.With("controller", Name),
			set:       set,
			pending:   map[string]netip.Prefix{},
			exhausted: map[string]bool{},
		}
		c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
		if _, err := inf.Informer().AddEventHandler(controller.ChangeHandlers(c.nodeSeen, c.nodeDeleted)); err != nil {
			return nil, fmt.Errorf("nodeipam: node handler: %w", err)
		}
		return c, nil
	}
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run marks the ranges of all existing nodes used, then assigns ranges
// until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("cannot list nodes", "err", err)
	}
	c.mu.Lock()
	for _, n := range nodes {
		c.occupyLocked(n)
	}
	c.log.Info("pod CIDR ranges rebuilt", "cluster", c.set.cluster, "mask", c.set.maskSize, "inUse", c.set.InUse(), "size", c.set.Size())
	c.mu.Unlock()
	c.queue.Run(ctx, workers)
}

// podCIDRs returns the node's ranges (spec.podCIDRs, else spec.podCIDR).
func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// nodeSeen marks a node's ranges used, or queues a node without one.
func (c *Controller) nodeSeen(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if len(podCIDRs(n)) == 0 {
		c.queue.Add(n.Name)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.occupyLocked(n)
}

// occupyLocked marks n's ranges used and settles its reservation; a
// reservation of another node for one of them is dropped (that node gets
// a new range). c.mu is held.
func (c *Controller) occupyLocked(n *corev1.Node) {
	cidrs := podCIDRs(n)
	if len(cidrs) == 0 {
		return
	}
	delete(c.exhausted, n.Name)
	var have []netip.Prefix
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			c.log.Warn("node has an invalid pod CIDR", "node", n.Name, "podCIDR", s, "err", err)
			continue
		}
		p = p.Masked()
		if p.Addr().BitLen() != c.set.cluster.Addr().BitLen() {
			continue // the other address family: not ours
		}
		if err := c.set.Occupy(p); err != nil {
			c.log.Debug("node's pod CIDR is outside the cluster CIDR", "node", n.Name, "podCIDR", s)
			continue
		}
		have = append(have, p)
	}
	if r, ok := c.pending[n.Name]; ok {
		delete(c.pending, n.Name)
		if !slices.Contains(have, r) {
			_ = c.set.Release(r) // the node got another range elsewhere
		}
	}
	for other, r := range c.pending {
		if slices.Contains(have, r) {
			delete(c.pending, other) // taken meanwhile: that node needs another
			c.queue.Add(other)
		}
	}
}

// nodeDeleted frees the deleted node's ranges and retries nodes that
// found none.
func (c *Controller) nodeDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	freed := false
	for _, s := range podCIDRs(n) {
		if p, err := netip.ParsePrefix(s); err == nil && c.set.Release(p.Masked()) == nil {
			freed = true
		}
	}
	if r, ok := c.pending[n.Name]; ok {
		delete(c.pending, n.Name)
		freed = c.set.Release(r) == nil || freed
	}
	delete(c.exhausted, n.Name)
	if freed {
		for waiting := range c.exhausted {
			c.queue.Add(waiting)
		}
	}
}

// reconcile gives the node named key a range if it has none.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	node, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodeipam: get node %s: %w", key, err)
	}
	if len(podCIDRs(node)) > 0 {
		return nil
	}
	cidr, ok := c.reserve(node)
	if !ok {
		return nil
	}
	update := node.DeepCopy()
	update.Spec.PodCIDR = cidr.String()
	update.Spec.PodCIDRs = []string{cidr.String()}
	_, err = c.client.CoreV1().Nodes().Update(ctx, update, metav1.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Info("assigned pod CIDR", "node", key, "podCIDR", cidr)
		return nil
	case apierrors.IsConflict(err):
		return controller.RequeueAfter{Delay: staleRetry} // keep the reservation for the retry
	case apierrors.IsNotFound(err):
		c.unreserve(key, cidr)
		return nil
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err):
		c.unreserve(key, cidr)
		c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonCIDRAssignmentFailed, "Failed to set pod CIDR %s: %v", cidr, err)
		return fmt.Errorf("nodeipam: set pod CIDR of %s: %w", key, err)
	}
	// The write may or may not have happened: keep the reservation; the
	// retry uses the same range.
	return fmt.Errorf("nodeipam: set pod CIDR of %s: %w", key, err)
}

// reserve returns the node's reserved range, reserving a free one first
// if needed; false means the cluster CIDR is exhausted (reported once per
// node).
func (c *Controller) reserve(node *corev1.Node) (netip.Prefix, bool) {
	c.mu.Lock()
	if r, ok := c.pending[node.Name]; ok {
		c.mu.Unlock()
		return r, true
	}
	r, err := c.set.Allocate()
	if err != nil {
		first := !c.exhausted[node.Name]
		c.exhausted[node.Name] = true
		size := c.set.Size()
		c.mu.Unlock()
		if first {
			c.log.Warn("no pod CIDR left for node", "node", node.Name, "cluster", c.set.cluster, "ranges", size)
			c.recorder.Eventf(node, corev1.EventTypeWarning, ReasonCIDRNotAvailable,
				"Node %s has no pod CIDR: all %d /%d ranges of cluster CIDR %s are in use", node.Name, size, c.set.maskSize, c.set.cluster)
		}
		return netip.Prefix{}, false
	}
	c.pending[node.Name] = r
	delete(c.exhausted, node.Name)
	c.mu.Unlock()
	return r, true
}

// unreserve drops node's reservation of r and frees r.
func (c *Controller) unreserve(node string, r netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[node] == r {
		delete(c.pending, node)
		_ = c.set.Release(r)
	}
}
