package podaddr

import (
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// PodHandlers returns pod informer handlers that call add with the key of
// every service whose selector matches a pod's old or new labels, for pod
// changes that can change a service's endpoints.
func PodHandlers(services corelisters.ServiceLister, add func(key string), log *slog.Logger) cache.ResourceEventHandlerFuncs {
	enqueue := func(old *corev1.Pod, obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok || (!HasIP(pod) && (old == nil || !HasIP(old))) {
			return
		}
		svcs, err := services.Services(pod.Namespace).List(labels.Everything())
		if err != nil {
			log.Error("cannot list services", "namespace", pod.Namespace, "err", err)
			return
		}
		for _, key := range SelectingServices(svcs, pod, old) {
			add(key)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { enqueue(nil, obj) },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Pod)
			n, ok2 := cur.(*corev1.Pod)
			if ok1 && ok2 && Relevant(o, n) {
				enqueue(o, n)
			}
		},
		DeleteFunc: func(obj any) { enqueue(nil, obj) },
	}
}
