package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Name is the controller's name in logs and the enable list.
const Name = "deployment"

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	recorder  record.EventRecorder
	log       *slog.Logger
	queue     *controller.Queue
	now       func() time.Time
}

// New builds the Deployment controller and registers its informer
// handlers: Deployments on every change, the owning Deployment on
// ReplicaSet changes (matching Deployments for orphans) and, for Recreate,
// on pod deletion.
func New(cctx *controller.Context) (controller.Controller, error) {
	dInf := cctx.Informers.Apps().V1().Deployments()
	rsInf := cctx.Informers.Apps().V1().ReplicaSets()
	podInf := cctx.Informers.Core().V1().Pods()
	c := &Controller{
		client:    cctx.Client,
		dLister:   dInf.Lister(),
		rsLister:  rsInf.Lister(),
		podLister: podInf.Lister(),
		recorder:  cctx.Recorder,
		log:       cctx.Logger.With("controller", Name),
		now:       time.Now,
	}
	c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
	if _, err := dInf.Informer().AddEventHandler(c.queue.Handlers()); err != nil {
		return nil, fmt.Errorf("deployment: deployment handler: %w", err)
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addRS,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("deployment: replicaset handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("deployment: pod handler: %w", err)
	}
	return c, nil
}

// Name returns "deployment".
func (c *Controller) Name() string { return Name }

// Run reconciles Deployments with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

// addRS enqueues the Deployment controlling rs, or for an orphan every
// Deployment that may adopt it.
func (c *Controller) addRS(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		c.deleteRS(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		c.enqueueOwner(rs.Namespace, ref)
		return
	}
	c.enqueueMatching(rs)
}

// updateRS enqueues the old and new controllers of rs, or for an orphan
// whose labels or owner changed every Deployment that may adopt it.
func (c *Controller) updateRS(oldObj, curObj any) {
	old, ok1 := oldObj.(*appsv1.ReplicaSet)
	cur, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		c.enqueueOwner(old.Namespace, oldRef)
	}
	if curRef != nil {
		c.enqueueOwner(cur.Namespace, curRef)
		return
	}
	if refChanged || !reflect.DeepEqual(cur.Labels, old.Labels) {
		c.enqueueMatching(cur)
	}
}

// deleteRS enqueues the Deployment that controlled the deleted rs.
func (c *Controller) deleteRS(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		c.enqueueOwner(rs.Namespace, ref)
	}
}

// deletePod enqueues the Recreate Deployment owning the deleted pod's
// ReplicaSet: it may be waiting for its old pods to be gone.
func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	rsRef := metav1.GetControllerOfNoCopy(rs)
	if rsRef == nil {
		return
	}
	if d := c.owner(rs.Namespace, rsRef); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.queue.Enqueue(d)
	}
}

// owner resolves a controller reference to a cached Deployment.
func (c *Controller) owner(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Group != appsv1.GroupName || ref.Kind != "Deployment" {
		return nil
	}
	d, err := c.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// enqueueOwner enqueues the Deployment ref names, if it exists.
func (c *Controller) enqueueOwner(ns string, ref *metav1.OwnerReference) {
	if d := c.owner(ns, ref); d != nil {
		c.queue.Enqueue(d)
	}
}

// enqueueMatching enqueues the Deployments whose selector matches rs.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	ds, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.queue.Enqueue(d)
	}
}
