package apiserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// priorityClassTTL is how long the list of PriorityClasses is reused when
// pods are created. A class that is not in the cached list is looked up
// again at once, so a new class can be used immediately; a change of
// globalDefault takes effect within this time.
const priorityClassTTL = time.Second

// priorityClasses caches the PriorityClasses for pod admission.
type priorityClasses struct {
	mu      sync.Mutex
	byName  map[string]*schedulingv1.PriorityClass
	expires time.Time
}

// lookup returns the cached classes, re-reading them when stale or when
// refresh is set.
func (c *priorityClasses) lookup(ctx context.Context, s *Server, refresh bool) (map[string]*schedulingv1.PriorityClass, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !refresh && c.byName != nil && time.Now().Before(c.expires) {
		return c.byName, nil
	}
	res := s.byPath[schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}]
	if res == nil {
		return map[string]*schedulingv1.PriorityClass{}, nil
	}
	objs, _, _, err := s.listObjects(ctx, res, "", listParams{})
	if err != nil {
		return nil, err
	}
	m := make(map[string]*schedulingv1.PriorityClass, len(objs))
	for _, o := range objs {
		if pc, ok := o.(*schedulingv1.PriorityClass); ok {
			m[pc.Name] = pc
		}
	}
	c.byName, c.expires = m, time.Now().Add(priorityClassTTL)
	return m, nil
}

// admitPriority resolves a new pod's priority like Kubernetes' Priority
// admission plugin: spec.priorityClassName names a PriorityClass (the
// built-in system-cluster-critical and system-node-critical included) whose
// value and preemptionPolicy the pod gets; without a name the globalDefault
// class applies, if any, else priority 0. A priority given in the spec
// that differs from the class's value, or an unknown class, is refused.
func (s *Server) admitPriority(ctx context.Context, pod *corev1.Pod) error {
	name := pod.Spec.PriorityClassName
	if name == "system-cluster-critical" || name == "system-node-critical" {
		return nil // registry defaulting knows the built-in classes
	}
	classes, err := s.priorities.lookup(ctx, s, false)
	if err != nil {
		return err
	}
	var pc *schedulingv1.PriorityClass
	if name == "" {
		for _, c := range classes {
			if c.GlobalDefault && (pc == nil || c.Value > pc.Value) {
				pc = c
			}
		}
		if pc == nil {
			return nil
		}
	} else if pc = classes[name]; pc == nil {
		if classes, err = s.priorities.lookup(ctx, s, true); err != nil {
			return err
		}
		if pc = classes[name]; pc == nil {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
				fmt.Errorf("no PriorityClass with name %s was found", name))
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != pc.Value {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
			fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name",
				*pod.Spec.Priority, pc.Value))
	}
	v := pc.Value
	pod.Spec.Priority = &v
	if name == "" {
		pod.Spec.PriorityClassName = pc.Name
	}
	if pod.Spec.PreemptionPolicy == nil && pc.PreemptionPolicy != nil {
		p := *pc.PreemptionPolicy
		pod.Spec.PreemptionPolicy = &p
	}
	return nil
}
