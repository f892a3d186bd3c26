package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/berth-dev/berth/internal/controller"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Name is the controller's name in logs and the enable list.
const Name = "namespace"

// Controller is the namespace controller.
type Controller struct {
	client kubernetes.Interface
	lister corelisters.NamespaceLister
	queue  *controller.Queue
	log    *slog.Logger
}

// New is the controller.Factory of the namespace controller.
func New(cctx *controller.Context) (controller.Controller, error) {
	log := cctx.Logger
	if log == nil {
		log = slog.Default()
	}
	inf := cctx.Informers.Core().V1().Namespaces()
	c := &Controller{client: cctx.Client, lister: inf.Lister(), log: log.With("controller", Name)}
	c.queue = controller.NewQueue(Name, log, c.sync)
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Enqueue(ns)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run implements controller.Controller.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

// sync empties and then releases the namespace named key, if it is being
// deleted.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", key, err)
	}
	switch decide(ns) {
	case actionNone:
		return nil
	case actionProtected:
		c.log.Error("namespace every cluster needs is marked for deletion; not emptying it", "namespace", key)
		return nil
	case actionDelete:
		return c.deleteNamespace(ctx, ns)
	}
	targets, discoveryErr := c.discover(ctx)
	var failures []error
	var left []leftover
	for _, t := range targets {
		l, err := c.empty(ctx, ns.Name, t)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		if l.count > 0 {
			left = append(left, l)
		}
	}
	ns, err = c.writeConditions(ctx, ns, deletionConditions(discoveryErr, failures, left))
	if err != nil {
		return fmt.Errorf("namespace %s: %w", key, err)
	}
	if discoveryErr != nil || len(failures) > 0 {
		return fmt.Errorf("namespace %s: %w", key, errors.Join(append(failures, discoveryErr)...))
	}
	if d := pollDelay(left); d > 0 {
		c.log.Debug("namespace not empty yet", "namespace", key, "left", fmt.Sprint(left))
		return controller.RequeueAfter{Delay: d}
	}
	return c.finalize(ctx, ns)
}

// writeConditions records the deletion conditions in the namespace's
// status when they changed and returns the namespace as stored.
func (c *Controller) writeConditions(ctx context.Context, ns *corev1.Namespace, want []corev1.NamespaceCondition) (*corev1.Namespace, error) {
	conds, changed := mergeConditions(ns.Status.Conditions, want, metav1.Now().Rfc3339Copy())
	if !changed {
		return ns, nil
	}
	n := ns.DeepCopy()
	n.Status.Conditions = conds
	out, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status: %w", err)
	}
	return out, nil
}

// finalize removes the "kubernetes" spec finalizer from the emptied
// namespace and deletes it once no finalizer is left.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	n := ns.DeepCopy()
	n.Spec.Finalizers = withoutFinalizer(n.Spec.Finalizers, finalizerKubernetes)
	updated, err := c.client.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %s: remove finalizer: %w", ns.Name, err)
	}
	c.log.Info("namespace emptied; finalizer removed", "namespace", ns.Name)
	if decide(updated) != actionDelete {
		return nil // other finalizers still hold it
	}
	return c.deleteNamespace(ctx, updated)
}

// deleteNamespace deletes a namespace that has no finalizer left.
func (c *Controller) deleteNamespace(ctx context.Context, ns *corev1.Namespace) error {
	err := c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(ns.UID))})
	switch {
	case err == nil:
		c.log.Info("namespace deleted", "namespace", ns.Name)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		c.log.Info("namespace gone", "namespace", ns.Name) // removed with its last finalizer, or replaced
	default:
		return fmt.Errorf("namespace %s: delete: %w", ns.Name, err)
	}
	return nil
}
