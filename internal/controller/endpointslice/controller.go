package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/endpoints/podaddr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Name is the controller's name in logs and the enable list.
const Name = "endpointslice"

const (
	// cacheWait is how soon a service whose slices the cache has not
	// caught up with is looked at again (slice events usually come first).
	cacheWait = time.Second
	// staleRetry is how soon a write that lost a race is retried.
	staleRetry = 200 * time.Millisecond
	// expectationTTL bounds how long unobserved writes hold a service back.
	expectationTTL = 15 * time.Second
)

// Controller maintains the EndpointSlices of services with selectors.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   discoverylisters.EndpointSliceLister
	recorder record.EventRecorder
	log      *slog.Logger
	queue    *controller.Queue
	tracker  *tracker
}

// New is the controller.Factory of the EndpointSlice controller.
func New(cctx *controller.Context) (controller.Controller, error) {
	core := cctx.Informers.Core().V1()
	svcInf, podInf := core.Services(), core.Pods()
	sliceInf := cctx.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:   cctx.Client,
		services: svcInf.Lister(),
		pods:     podInf.Lister(),
		slices:   sliceInf.Lister(),
		recorder: cctx.Recorder,
		log:      cctx.Logger.With("controller", Name),
		tracker:  newTracker(expectationTTL),
	}
	c.queue = controller.NewQueue(Name, cctx.Logger, c.reconcile)
	if _, err := svcInf.Informer().AddEventHandler(c.queue.Handlers()); err != nil {
		return nil, fmt.Errorf("endpointslice: service handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(podaddr.PodHandlers(c.services, c.queue.Add, c.log)); err != nil {
		return nil, fmt.Errorf("endpointslice: pod handler: %w", err)
	}
	// Every change to a managed slice (ours or anyone's) re-checks its
	// service; at start-up this also finds slices of deleted services.
	if _, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueSlice(obj, false) },
		UpdateFunc: func(old, cur any) { c.enqueueSlice(old, false); c.enqueueSlice(cur, false) },
		DeleteFunc: func(obj any) { c.enqueueSlice(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("endpointslice: slice handler: %w", err)
	}
	return c, nil
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

// enqueueSlice queues the service of a slice this controller manages.
func (c *Controller) enqueueSlice(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
	if deleted {
		c.tracker.observedDelete(key, s.Name)
	}
	c.queue.Add(key)
}

// managedSelector selects the slices this controller manages for a service.
func managedSelector(service string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: ManagedBy})
}

// reconcile brings the slices of the service named key in line with it.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key never becomes valid
	}
	lookup := func(n string) (*discoveryv1.EndpointSlice, bool) {
		s, err := c.slices.EndpointSlices(ns).Get(n)
		return s, err == nil
	}
	if !c.tracker.synced(key, lookup) {
		return controller.RequeueAfter{Delay: cacheWait}
	}
	existing, err := c.slices.EndpointSlices(ns).List(managedSelector(name))
	if err != nil {
		return fmt.Errorf("endpointslice: list slices of %s: %w", key, err)
	}
	svc, err := c.services.Services(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		return c.apply(ctx, nil, key, Plan{Delete: existing})
	case err != nil:
		return fmt.Errorf("endpointslice: get service %s: %w", key, err)
	case !podaddr.Managed(svc):
		return c.apply(ctx, svc, key, Plan{Delete: existing})
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("endpointslice: list pods of %s: %w", key, err)
	}
	plan := PlanSlices(svc, existing, DesiredGroups(svc, pods), MaxEndpointsPerSlice)
	return c.apply(ctx, svc, key, plan)
}

// apply writes plan for the service key (svc is nil when it is gone):
// creates, then updates, then deletes. It stops at the first failure;
// the next reconcile plans afresh.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, key string, plan Plan) error {
	if plan.Empty() {
		return nil
	}
	err := c.write(ctx, key, plan)
	var stale errStale
	switch {
	case err == nil:
		c.log.Debug("slices written", "service", key, "created", len(plan.Create), "updated", len(plan.Update), "deleted", len(plan.Delete))
		return nil
	case errors.As(err, &stale):
		return controller.RequeueAfter{Delay: staleRetry}
	}
	if svc != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices", "Error updating Endpoint Slices for Service %s: %v", key, err)
	}
	return fmt.Errorf("endpointslice: %s: %w", key, err)
}

// errStale marks a write that lost a race with a newer version.
type errStale struct{ error }

// write performs the plan's API calls, recording each in the tracker.
func (c *Controller) write(ctx context.Context, key string, plan Plan) error {
	client := c.client.DiscoveryV1().EndpointSlices
	for _, s := range plan.Create {
		got, err := client(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.tracker.wrote(key, got)
		case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			c.log.Info("namespace terminating; not creating slices", "service", key, "err", err)
			return nil
		default:
			return fmt.Errorf("create slice: %w", err)
		}
	}
	for _, s := range plan.Update {
		got, err := client(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.tracker.wrote(key, got)
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			return errStale{fmt.Errorf("update slice %s: %w", s.Name, err)}
		default:
			return fmt.Errorf("update slice %s: %w", s.Name, err)
		}
	}
	for _, s := range plan.Delete {
		err := client(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		switch {
		case err == nil || apierrors.IsNotFound(err):
			c.tracker.deleted(key, s.Name)
		case apierrors.IsConflict(err):
			return errStale{fmt.Errorf("delete slice %s: %w", s.Name, err)}
		default:
			return fmt.Errorf("delete slice %s: %w", s.Name, err)
		}
	}
	return nil
}
