package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/expectations"
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
const Name = "replicaset"

// controllerUIDIndex indexes pods by the UID of their controller.
const controllerUIDIndex = "replicaset.berth.io/controller-uid"

// maxInFlight bounds the concurrent pod creations or deletions of one
// reconcile.
const maxInFlight = 32

// kind is the group/version/kind written into ownerReferences.
var kind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller is the ReplicaSet controller.
type Controller struct {
	client     kubernetes.Interface
	rsLister   appslisters.ReplicaSetLister
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	recorder   record.EventRecorder
	log        *slog.Logger
	queue      *controller.Queue
	exp        *expectations.Expectations
	now        func() time.Time
	burst      int
	inFlight   int
}

// New builds the ReplicaSet controller and registers its informer handlers.
func New(cctx *controller.Context) (controller.Controller, error) {
	rsInf := cctx.Informers.Apps().V1().ReplicaSets()
	podInf := cctx.Informers.Core().V1().Pods()
	log := cctx.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{
		client:    cctx.Client,
		rsLister:  rsInf.Lister(),
		podLister: podInf.Lister(),
		recorder:  cctx.Recorder,
		log:       log.With("controller", Name),
		exp:       expectations.New(time.Now),
		now:       time.Now,
		burst:     burstReplicas,
		inFlight:  maxInFlight,
	}
	c.queue = controller.NewQueue(Name, log, c.reconcile)
	if err := podInf.Informer().AddIndexers(cache.Indexers{controllerUIDIndex: indexByControllerUID}); err != nil {
		return nil, fmt.Errorf("replicaset: add pod index: %w", err)
	}
	c.podIndexer = podInf.Informer().GetIndexer()
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.queue.Enqueue,
		UpdateFunc: func(_, cur any) { c.queue.Enqueue(cur) },
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("replicaset: replicaset handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("replicaset: pod handler: %w", err)
	}
	return c, nil
}

// Name returns "replicaset".
func (c *Controller) Name() string { return Name }

// Run reconciles ReplicaSets with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }

func indexByControllerUID(obj any) ([]string, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, err
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("replicaset: %T has no object metadata", obj)
	}
	return m, nil
}

func (c *Controller) deleteRS(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.exp.Forget(key)
	c.queue.Add(key)
}

// addPod counts an observed creation for the pod's controller and enqueues
// it; an orphan wakes every ReplicaSet whose selector matches it.
func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (e.g. after a
		// re-list): it must not count as a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if rs := c.resolve(pod.Namespace, ref); rs != nil {
			key := rsKey(rs)
			c.exp.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

// updatePod enqueues the old and new controllers of a changed pod; a pod
// that started terminating counts as an observed deletion.
func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return // periodic resync
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	refChanged := !sameRef(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolve(old.Namespace, oldRef); rs != nil {
			c.queue.Add(rsKey(rs))
		}
	}
	if curRef != nil {
		if rs := c.resolve(cur.Namespace, curRef); rs != nil {
			c.queue.Add(rsKey(rs))
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(cur)
	}
}

// deletePod counts an observed deletion for the pod's controller and
// enqueues it. obj may be a cache tombstone.
func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			c.log.Error("unexpected object in pod delete event", "type", fmt.Sprintf("%T", obj))
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			c.log.Error("unexpected object in pod tombstone", "type", fmt.Sprintf("%T", tomb.Obj))
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	rs := c.resolve(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key := rsKey(rs)
	c.exp.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// resolve returns the cached ReplicaSet a controller reference points to,
// or nil if it is not a ReplicaSet or no longer exists with that UID.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != kind.Kind {
		return nil
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != kind.Group {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching enqueues every ReplicaSet in the pod's namespace whose
// selector matches the pod's labels.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	set := labels.Set(pod.Labels)
	for _, rs := range list {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(set) {
			continue
		}
		c.queue.Add(rsKey(rs))
	}
}

func sameRef(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}

func rsKey(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
