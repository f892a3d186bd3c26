package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Name is the controller's name in logs and the enable list.
const Name = "servicelb"

// Controller keeps LoadBalancer Services' ingress addresses.
type Controller struct {
	client kubernetes.Interface
	svcs   corelisters.ServiceLister
	nodes  corelisters.NodeLister
	log    *slog.Logger
	queue  *controller.Queue
}

// New is the controller.Factory of the ServiceLB controller.
func New(cctx *controller.Context) (controller.Controller, error) {
	svcInf, nodeInf := cctx.Informers.Core().V1().Services(), cctx.Informers.Core().V1().Nodes()
	c := &Controller{client: cctx.Client, svcs: svcInf.Lister(), nodes: nodeInf.Lister(), log: cctx.Logger.With("controller", Name)}
	c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
	if _, err := svcInf.Informer().AddEventHandler(c.queue.Handlers()); err != nil {
		return nil, fmt.Errorf("servicelb: %w", err)
	}
	// Any node change may change every LoadBalancer's addresses.
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAll() },
		UpdateFunc: func(old, cur any) { c.nodeChanged(old, cur) },
		DeleteFunc: func(any) { c.enqueueAll() },
	}); err != nil {
		return nil, fmt.Errorf("servicelb: %w", err)
	}
	return c, nil
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

func (c *Controller) nodeChanged(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if ok1 && ok2 && nodeAddress(o) == nodeAddress(n) {
		return // heartbeats: nothing that matters here
	}
	c.enqueueAll()
}

func (c *Controller) enqueueAll() {
	svcs, err := c.svcs.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
			c.queue.Enqueue(s)
		}
	}
}

// nodeAddress is the address a node serves LoadBalancer ports on, or ""
// when it is not Ready or not schedulable.
func nodeAddress(n *corev1.Node) string {
	if n.Spec.Unschedulable {
		return ""
	}
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = cond.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return ""
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// Ingress is what status.loadBalancer.ingress should be for svc.
func Ingress(svc *corev1.Service, nodes []*corev1.Node) []corev1.LoadBalancerIngress {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	seen := map[string]bool{}
	var ips []string
	for _, n := range nodes {
		if a := nodeAddress(n); a != "" && !seen[a] {
			seen[a] = true
			ips = append(ips, a)
		}
	}
	sort.Strings(ips)
	var out []corev1.LoadBalancerIngress
	for _, ip := range ips {
		mode := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: ip, IPMode: &mode})
	}
	return out
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcs.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	want := Ingress(svc, nodes)
	if apiequality.Semantic.DeepEqual(want, svc.Status.LoadBalancer.Ingress) {
		return nil
	}
	s := svc.DeepCopy()
	s.Status.LoadBalancer.Ingress = want
	_, err = c.client.CoreV1().Services(ns).UpdateStatus(ctx, s, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
