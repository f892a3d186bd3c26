package job

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/expectations"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Name is the controller's name in logs and the enable list.
const Name = "job"

// Controller is the Job controller.
type Controller struct {
	client    kubernetes.Interface
	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	recorder  record.EventRecorder
	log       *slog.Logger
	queue     *controller.Queue
	exp       *expectations.Expectations
	now       func() time.Time
	// backoffBase and backoffMax tune the delay before replacing failed
	// pods (10 s and 6 min by default; tests shorten them).
	backoffBase, backoffMax time.Duration
}

// New is the controller.Factory of the Job controller.
func New(cctx *controller.Context) (controller.Controller, error) {
	return newController(cctx, defaultBackoffBase, defaultBackoffMax)
}

func newController(cctx *controller.Context, base, limit time.Duration) (*Controller, error) {
	log := cctx.Logger
	if log == nil {
		log = slog.Default()
	}
	jobs := cctx.Informers.Batch().V1().Jobs()
	pods := cctx.Informers.Core().V1().Pods()
	c := &Controller{
		client:      cctx.Client,
		jobLister:   jobs.Lister(),
		podLister:   pods.Lister(),
		recorder:    cctx.Recorder,
		log:         log.With("controller", Name),
		exp:         expectations.New(nil, expectations.Accumulate(), expectations.ExpireAtTTL()),
		now:         time.Now,
		backoffBase: base,
		backoffMax:  limit,
	}
	c.queue = controller.NewQueue(Name, log, c.sync)
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, obj any) { c.queue.Enqueue(obj) },
		DeleteFunc: c.queue.Enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements controller.Controller.
func (c *Controller) Name() string { return Name }

// Run implements controller.Controller.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

// jobKeyOf returns the key of the Job controlling pod, or "".
func jobKeyOf(pod *corev1.Pod) string {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != jobKind.Kind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != batchv1.GroupName {
		return ""
	}
	return pod.Namespace + "/" + ref.Name
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func (c *Controller) podAdded(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := jobKeyOf(pod)
	if key == "" {
		return
	}
	c.exp.CreationObserved(key)
	if pod.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, podKey(pod))
	}
	c.queue.Add(key)
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if key := jobKeyOf(old); key != "" && key != jobKeyOf(pod) {
		c.queue.Add(key) // released by its Job
	}
	key := jobKeyOf(pod)
	if key == "" {
		return
	}
	if pod.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, podKey(pod))
	}
	c.queue.Add(key)
}

func (c *Controller) podDeleted(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	key := jobKeyOf(pod)
	if key == "" {
		return
	}
	c.exp.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}
