package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxUpdateAttempts bounds the internal retries of an update whose client
// gave no resourceVersion precondition.
const maxUpdateAttempts = 8

// mutateFunc computes the new object from a copy of the current one.
type mutateFunc func(cur runtime.Object) (runtime.Object, error)

func (s *Server) update(q *request) error {
	dry, err := dryRun(q.r)
	if err != nil {
		return err
	}
	body, err := s.readBody(q.r)
	if err != nil {
		return err
	}
	obj, err := s.decodeObject(q, body)
	if err != nil {
		return err
	}
	m := accessor(obj)
	if m.GetName() == "" {
		m.SetName(q.name)
	} else if m.GetName() != q.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), q.name))
	}
	if err := checkNamespace(q, m); err != nil {
		return err
	}
	expectRev, _ := parseRV(m.GetResourceVersion()) // an invalid one fails below as a conflict
	out, err := s.updateObject(q.r.Context(), q, func(runtime.Object) (runtime.Object, error) { return obj.DeepCopyObject(), nil }, dry, expectRev)
	if err != nil {
		return err
	}
	writeObject(q.w, q.r, http.StatusOK, out)
	return nil
}

func (s *Server) patch(q *request) error {
	dry, err := dryRun(q.r)
	if err != nil {
		return err
	}
	validation, err := fieldValidation(q.r)
	if err != nil {
		return err
	}
	body, err := s.readBody(q.r)
	if err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor" {
		return statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			"server-side apply is not supported by Berth yet; use client-side kubectl apply (the default)")
	}
	mutate := func(cur runtime.Object) (runtime.Object, error) {
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(ct, curJSON, body, q.res.New())
		if err != nil {
			return nil, err
		}
		obj := q.res.New()
		if err := decodeInto(q.w, patched, obj, validation); err != nil {
			return nil, err
		}
		if err := checkKind(q.res, obj); err != nil {
			return nil, err
		}
		if !patchSetsResourceVersion(body) {
			// The patched object inherits the current resourceVersion; only a
			// patch that names one makes it a precondition.
			accessor(obj).SetResourceVersion("")
		}
		return obj, nil
	}
	out, err := s.updateObject(q.r.Context(), q, mutate, dry, 0)
	if err != nil {
		return err
	}
	writeObject(q.w, q.r, http.StatusOK, out)
	return nil
}

// isCurrent reports whether the object's stored revision is still rev,
// with a linearizable read.
func (s *Server) isCurrent(ctx context.Context, res *registry.Resource, ns, name string, rev int64) (bool, error) {
	kv, err := s.store.Get(ctx, objectKey(res, ns, name))
	if err != nil {
		return false, storeError(err, grOf(res), name)
	}
	return kv.ModRevision == rev, nil
}

// patchSetsResourceVersion reports whether a patch body mentions
// metadata.resourceVersion (then it is an optimistic-concurrency
// precondition, and a conflict is the client's to handle).
func patchSetsResourceVersion(patch []byte) bool {
	return bytes.Contains(patch, []byte("resourceVersion"))
}

// applyPatch applies a JSON, merge or strategic-merge patch to doc. The
// patch libraries can panic on some malformed patches (found by fuzzing);
// that is the client's bad input, so it becomes a 400.
func applyPatch(contentType string, doc, patch []byte, schemaObj runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: malformed patch (%v)", r))
		}
	}()
	switch contentType {
	case "application/json-patch+json":
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(patch); err == nil {
			out, err = p.Apply(doc)
		}
	case "application/merge-patch+json":
		out, err = jsonpatch.MergePatch(doc, patch)
	case "application/strategic-merge-patch+json":
		out, err = strategicpatch.StrategicMergePatch(doc, patch, schemaObj)
	default:
		return nil, statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, "unsupported patch type "+contentType+" (supported: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json)")
	}
	if err != nil {
		return nil, apierrors.NewBadRequest("the patch could not be applied: " + err.Error())
	}
	return out, nil
}

// updateObject reads the current object, lets mutate compute the new one and
// writes it with a revision precondition. Without a client precondition it
// retries on conflicts. expectRev is the resourceVersion the client sent (0
// when unknown): when the decoded cache holds the object at that revision,
// the first attempt starts from it instead of reading.
func (s *Server) updateObject(ctx context.Context, q *request, mutate mutateFunc, dry bool, expectRev int64) (runtime.Object, error) {
	res := q.res
	key := objectKey(res, q.namespace, q.name)
	for attempt := 0; ; attempt++ {
		hint := expectRev
		if attempt > 0 {
			hint = 0 // a retry reads what is current
		}
		cur, curRev, stored, cached, err := s.currentForUpdate(ctx, res, key, q.name, hint)
		if err != nil {
			return nil, err
		}
		if res.Kind == "Namespace" {
			s.namespaces.forget(q.name)
		}
		obj, err := mutate(cur.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		m, om := accessor(obj), accessor(cur)
		clientRV := m.GetResourceVersion()
		if clientRV != "" && clientRV != strconv.FormatInt(curRev, 10) {
			return nil, apierrors.NewConflict(q.gr(), q.name, errors.New(conflictMessage))
		}
		if m.GetUID() != "" && m.GetUID() != om.GetUID() {
			return nil, apierrors.NewConflict(q.gr(), q.name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", m.GetUID(), om.GetUID()))
		}
		if m.GetName() != om.GetName() {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), om.GetName()))
		}
		m.SetNamespace(om.GetNamespace())
		m.SetUID(om.GetUID())
		m.SetCreationTimestamp(om.GetCreationTimestamp())
		m.SetDeletionTimestamp(om.GetDeletionTimestamp())
		m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
		m.SetGeneration(om.GetGeneration())
		m.SetManagedFields(nil)
		m.SetResourceVersion(om.GetResourceVersion())
		st := res.Strategy
		if q.sub == "binding" {
			st = bindingStrategy // a system write: the strategy would forbid it
		}
		if q.sub == "status" {
			if st.PrepareForStatusUpdate != nil {
				st.PrepareForStatusUpdate(obj, cur)
			}
		} else if st.PrepareForUpdate != nil {
			st.PrepareForUpdate(obj, cur)
		}
		if st.Default != nil {
			st.Default(obj)
		}
		var errs field.ErrorList
		if st.ValidateUpdate != nil {
			errs = st.ValidateUpdate(obj, cur) // metadata included (registry.TestValidateUpdateChecksMetadata)
		} else {
			errs = apivalidation.ValidateObjectMetaAccessorUpdate(m, om, field.NewPath("metadata"))
		}
		if om.GetDeletionTimestamp() != nil {
			errs = append(errs, apivalidation.ValidateNoNewFinalizers(m.GetFinalizers(), om.GetFinalizers(), field.NewPath("metadata", "finalizers"))...)
		}
		if len(errs) > 0 {
			return nil, invalid(res, q.name, dedupe(errs))
		}
		if res.TrackGeneration && q.sub != "status" && st.SpecEqual != nil && !st.SpecEqual(obj, cur) {
			m.SetGeneration(om.GetGeneration() + 1)
		}
		var keys allocation
		if svc, ok := obj.(*corev1.Service); ok {
			if keys, err = s.alloc.allocate(ctx, svc, cur.(*corev1.Service)); err != nil {
				return nil, err
			}
		}
		m.SetResourceVersion(om.GetResourceVersion())
		data, err := s.encodeForStorage(res, obj)
		if err != nil {
			return nil, err
		}
		// Equal stored forms are equal objects (the encoding is
		// deterministic); values stored as JSON by earlier versions are
		// compared as objects.
		if bytes.Equal(data, stored) || !bytes.HasPrefix(stored, protobufMagic) && apiequality.Semantic.DeepEqual(obj, cur) {
			// No-op: nothing written, resourceVersion unchanged, provided
			// the (serializable or cached) read was current.
			if fresh, err := s.isCurrent(ctx, res, q.namespace, q.name, curRev); err != nil {
				return nil, err
			} else if !fresh && attempt < maxUpdateAttempts {
				continue
			}
			return cur, nil
		}
		if dry {
			return obj, nil
		}
		if m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && len(om.GetFinalizers()) > 0 && om.GetDeletionTimestamp() != nil && !namespaceHeld(obj) ||
			namespaceReleased(obj, cur) {
			// The last finalizer is gone: the object goes.
			_, err := s.store.Delete(ctx, key, curRev, append(keys.release, s.alloc.heldKeys(cur)...)...)
			if err == nil {
				return obj, nil
			}
			if errors.Is(err, store.ErrConflict) && (clientRV == "" || cached) && attempt < maxUpdateAttempts {
				continue // a cached start retries once with a real read
			}
			return nil, storeError(err, q.gr(), q.name)
		}
		rev, err := s.store.UpdateTTL(ctx, key, data, curRev, s.ttlOf(q.res), keys.reserve, keys.release)
		if err != nil {
			if errors.Is(err, store.ErrConflict) && (clientRV == "" || cached) && attempt < maxUpdateAttempts {
				continue // a cached start retries once with a real read
			}
			return nil, storeError(err, q.gr(), q.name)
		}
		s.decodedObjs.add(decodedKey{res: res, key: key, rev: rev}, data)
		setRV(obj, rev)
		return obj, nil
	}
}

// namespaceHeld reports whether obj is a namespace whose spec finalizers
// (the namespace controller's) still hold it.
func namespaceHeld(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// namespaceReleased reports whether an update removed the last spec
// finalizer of a terminating namespace (then the namespace goes).
func namespaceReleased(obj, old runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	oldNS, _ := old.(*corev1.Namespace)
	return ok && oldNS != nil && ns.DeletionTimestamp != nil && len(ns.Finalizers) == 0 &&
		len(ns.Spec.Finalizers) == 0 && len(oldNS.Spec.Finalizers) > 0
}

// bindingStrategy is the (empty) strategy of a binding's pod write.
var bindingStrategy registry.Strategy

// dedupe drops repeated errors (the strategy may re-check metadata).
func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	var out field.ErrorList
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
