package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/endpoints/podaddr"
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
const Name = "endpoints"

// staleRetry is how soon a write that lost a race with a newer version
// (or a cache that has not yet seen our last write) is retried.
const staleRetry = 200 * time.Millisecond

// Controller maintains the Endpoints of services with selectors.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	recorder  record.EventRecorder
	log       *slog.Logger
	queue     *controller.Queue
}

// New is the controller.Factory of the Endpoints controller.
func New(cctx *controller.Context) (controller.Controller, error) {
	core := cctx.Informers.Core().V1()
	svcInf, podInf, epInf := core.Services(), core.Pods(), core.Endpoints()
	c := &Controller{
		client:    cctx.Client,
		services:  svcInf.Lister(),
		pods:      podInf.Lister(),
		endpoints: epInf.Lister(),
		recorder:  cctx.Recorder,
		log:       cctx.Logger.With("controller", Name),
	}
	c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
	if _, err := svcInf.Informer().AddEventHandler(c.queue.Handlers()); err != nil {
		return nil, fmt.Errorf("endpoints: service handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(podaddr.PodHandlers(c.services, c.queue.Add, c.log)); err != nil {
		return nil, fmt.Errorf("endpoints: pod handler: %w", err)
	}
	if _, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// Changes by others are undone, a deleted Endpoints recreated;
		// an Endpoints without a service is only removed at start-up
		// (see Run), so that one created ahead of its service survives.
		AddFunc:    c.enqueueIfService,
		UpdateFunc: func(_, cur any) { c.enqueueIfService(cur) },
		DeleteFunc: c.queue.Enqueue,
	}); err != nil {
		return nil, fmt.Errorf("endpoints: endpoints handler: %w", err)
	}
	return c, nil
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run queues Endpoints left over from services deleted while no
// controller ran, then reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	eps, err := c.endpoints.List(labels.Everything())
	if err != nil {
		c.log.Error("cannot list endpoints", "err", err)
	}
	for _, ep := range eps {
		if _, err := c.services.Services(ep.Namespace).Get(ep.Name); apierrors.IsNotFound(err) && Leftover(ep, false) {
			c.queue.Enqueue(ep)
		}
	}
	c.queue.Run(ctx, workers)
}

// enqueueIfService queues an Endpoints whose service exists.
func (c *Controller) enqueueIfService(obj any) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return
	}
	if _, err := c.services.Services(ep.Namespace).Get(ep.Name); err == nil {
		c.queue.Enqueue(ep)
	}
}

// reconcile brings the Endpoints named key in line with its service.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key never becomes valid
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteLeftover(ctx, ns, name)
	}
	if err != nil {
		return fmt.Errorf("endpoints: get service %s: %w", key, err)
	}
	if !podaddr.Managed(svc) {
		return nil // selectorless services get Endpoints from their users
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("endpoints: list pods for %s: %w", key, err)
	}
	existing, err := c.endpoints.Endpoints(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return fmt.Errorf("endpoints: get %s: %w", key, err)
	}
	plan := PlanEndpoints(svc, existing, pods)
	return c.apply(ctx, svc, plan)
}

// apply writes plan for svc.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, plan Plan) error {
	client := c.client.CoreV1().Endpoints(svc.Namespace)
	switch {
	case plan.Create != nil:
		_, err := client.Create(ctx, plan.Create, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Info("created endpoints", "namespace", svc.Namespace, "name", svc.Name, "addresses", count(plan.Create))
			return nil
		case apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			return controller.RequeueAfter{Delay: staleRetry} // our cache lags behind
		case namespaceTerminating(err):
			c.log.Info("namespace terminating; not creating endpoints", "namespace", svc.Namespace, "name", svc.Name, "err", err)
			return nil
		}
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %s/%s: %v", svc.Namespace, svc.Name, err)
		return fmt.Errorf("endpoints: create %s/%s: %w", svc.Namespace, svc.Name, err)
	case plan.Update != nil:
		_, err := client.Update(ctx, plan.Update, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.log.Debug("updated endpoints", "namespace", svc.Namespace, "name", svc.Name, "addresses", count(plan.Update))
			return nil
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			return controller.RequeueAfter{Delay: staleRetry}
		}
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %s/%s: %v", svc.Namespace, svc.Name, err)
		return fmt.Errorf("endpoints: update %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

// deleteLeftover deletes the Endpoints ns/name whose service is gone.
func (c *Controller) deleteLeftover(ctx context.Context, ns, name string) error {
	ep, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("endpoints: get %s/%s: %w", ns, name, err)
	}
	if !Leftover(ep, false) {
		return nil
	}
	err = c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &ep.UID}})
	switch {
	case err == nil:
		c.log.Info("deleted endpoints of deleted service", "namespace", ns, "name", name)
		return nil
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return nil
	}
	return fmt.Errorf("endpoints: delete %s/%s: %w", ns, name, err)
}

// namespaceTerminating reports whether err refuses a create because the
// namespace is being deleted.
func namespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

// count is the number of addresses in ep.
func count(ep *corev1.Endpoints) int {
	n := 0
	for _, ss := range ep.Subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	return n
}
