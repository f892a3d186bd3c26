package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Finalizers the API server adds for propagation policies; the garbage
// collector removes them.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// protectedNamespaces may not be deleted, as in Kubernetes.
var protectedNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// parseDeleteOptions reads DeleteOptions from the body (if any) and the
// query parameters.
func (s *Server) parseDeleteOptions(q *request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := s.readBody(q.r)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		data, err := toJSON(q.r, body)
		if err != nil {
			return opts, err
		}
		if err := decodeInto(q.w, data, &opts, "Strict"); err != nil {
			return opts, err
		}
	}
	qv := q.r.URL.Query()
	if g := qv.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", g))
		}
		opts.GracePeriodSeconds = &n
	}
	if p := qv.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &pp
	}
	if qv.Get("orphanDependents") != "" && opts.PropagationPolicy == nil {
		pp := metav1.DeletePropagationBackground
		if qv.Get("orphanDependents") == "true" {
			pp = metav1.DeletePropagationOrphan
		}
		opts.PropagationPolicy = &pp
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return opts, apierrors.NewBadRequest(fmt.Sprintf("unsupported propagationPolicy %q (supported: Background, Foreground, Orphan)", *opts.PropagationPolicy))
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	dry, err := dryRun(q.r)
	if err != nil {
		return opts, err
	}
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts, nil
}

func (s *Server) delete(q *request) error {
	opts, err := s.parseDeleteOptions(q)
	if err != nil {
		return err
	}
	obj, code, err := s.deleteObject(q.r.Context(), q.res, q.namespace, q.name, opts)
	if err != nil {
		return err
	}
	writeObject(q.w, q.r, code, obj)
	return nil
}

// deleteObject deletes one object, or marks it for deletion when finalizers
// or graceful pod termination must run first (then the code is 202 for
// finalizers, 200 for graceful pods, as in Kubernetes).
func (s *Server) deleteObject(ctx context.Context, res *registry.Resource, ns, name string, opts metav1.DeleteOptions) (runtime.Object, int, error) {
	gr := grOf(res)
	dry := len(opts.DryRun) > 0
	for attempt := 0; ; attempt++ {
		cur, curRev, err := s.getForUpdate(ctx, res, ns, name)
		if err != nil {
			return nil, 0, err
		}
		m := accessor(cur)
		if _, isNS := cur.(*corev1.Namespace); isNS && protectedNamespaces[name] {
			return nil, 0, apierrors.NewForbidden(gr, name, fmt.Errorf("this namespace may not be deleted"))
		}
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, 0, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, 0, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		if res.Kind == "Namespace" {
			s.namespaces.forget(name)
		}
		next, code, mark := planDeletion(cur, opts)
		if dry {
			return next, code, nil
		}
		if mark && apiequality.Semantic.DeepEqual(next, cur) {
			// Already marked: nothing to write, if the read was current.
			if fresh, err := s.isCurrent(ctx, res, m.GetNamespace(), name, curRev); err != nil {
				return nil, 0, err
			} else if fresh || attempt >= maxUpdateAttempts {
				return next, code, nil
			}
			continue
		}
		key := objectKey(res, m.GetNamespace(), name)
		var rev int64
		if mark {
			var data []byte
			if data, err = s.encodeForStorage(res, next); err == nil {
				if rev, err = s.store.UpdateTTL(ctx, key, data, curRev, s.ttlOf(res), nil, nil); err == nil {
					s.decodedObjs.add(decodedKey{res: res, key: key, rev: rev}, data)
				}
			}
		} else {
			rev, err = s.store.Delete(ctx, key, curRev, s.alloc.heldKeys(cur)...)
		}
		if err != nil {
			if errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts {
				continue
			}
			return nil, 0, storeError(err, gr, name)
		}
		setRV(next, rev)
		return next, code, nil
	}
}

// planDeletion decides what deleting cur means: mark=false removes it now;
// mark=true stores next (with deletionTimestamp and finalizers) instead.
func planDeletion(cur runtime.Object, opts metav1.DeleteOptions) (next runtime.Object, code int, mark bool) {
	next = cur.DeepCopyObject()
	m := accessor(next)
	now := metav1.NewTime(time.Now())
	if pod, ok := next.(*corev1.Pod); ok && pod.Spec.NodeName != "" && !podFinished(pod) {
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = *pod.Spec.TerminationGracePeriodSeconds
		}
		if opts.GracePeriodSeconds != nil {
			grace = *opts.GracePeriodSeconds
		}
		prev := m.GetDeletionGracePeriodSeconds()
		if grace > 0 && (prev == nil || grace < *prev) {
			// Graceful deletion: the node's agent stops the containers and
			// then deletes the pod with a zero grace period.
			deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			if m.GetDeletionTimestamp() != nil && m.GetDeletionTimestamp().Before(&deadline) {
				deadline = *m.GetDeletionTimestamp()
			}
			m.SetDeletionTimestamp(&deadline)
			m.SetDeletionGracePeriodSeconds(&grace)
			return next, http.StatusOK, true
		}
		if grace > 0 && prev != nil {
			return next, http.StatusOK, true // already terminating with a shorter grace
		}
	}
	finalizers := m.GetFinalizers()
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan:
			finalizers = addFinalizer(finalizers, finalizerOrphan)
		case metav1.DeletePropagationForeground:
			finalizers = addFinalizer(finalizers, finalizerForeground)
		}
	}
	if ns, ok := next.(*corev1.Namespace); ok {
		// A namespace goes Terminating; the namespace controller empties it
		// and removes its spec finalizer.
		ns.Status.Phase = corev1.NamespaceTerminating
		if len(ns.Spec.Finalizers) > 0 || len(finalizers) > 0 {
			if m.GetDeletionTimestamp() == nil {
				m.SetDeletionTimestamp(&now)
			}
			zero := int64(0)
			m.SetDeletionGracePeriodSeconds(&zero)
			m.SetFinalizers(finalizers)
			return next, http.StatusOK, true
		}
	}
	if len(finalizers) > 0 {
		if m.GetDeletionTimestamp() == nil {
			m.SetDeletionTimestamp(&now)
			zero := int64(0)
			m.SetDeletionGracePeriodSeconds(&zero)
		}
		m.SetFinalizers(finalizers)
		return next, http.StatusAccepted, true
	}
	return next, http.StatusOK, false
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func addFinalizer(list []string, f string) []string {
	for _, x := range list {
		if x == f {
			return list
		}
	}
	return append(list, f)
}

func (s *Server) deleteCollection(q *request) error {
	opts, err := s.parseDeleteOptions(q)
	if err != nil {
		return err
	}
	p, err := parseListParams(q.res, q.r)
	if err != nil {
		return err
	}
	p.limit = 0
	items, _, _, err := s.listObjects(q.r.Context(), q.res, q.namespace, p)
	if err != nil {
		return err
	}
	var done []runtime.Object
	for _, it := range items {
		m := accessor(it)
		out, _, err := s.deleteObject(q.r.Context(), q.res, m.GetNamespace(), m.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		done = append(done, out)
	}
	list := q.res.NewList()
	if err := meta.SetList(list, done); err != nil {
		return err
	}
	list.GetObjectKind().SetGroupVersionKind(q.res.GroupVersion.WithKind(q.res.Kind + "List"))
	writeJSON(q.w, http.StatusOK, list)
	return nil
}
