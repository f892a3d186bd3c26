package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxGeneratedNameLength is how much of generateName is kept before the
// random suffix, so generated names stay within 63 characters.
const maxGeneratedNameLength = 58

// dryRun reports whether the request asks for dryRun=All; other values are
// rejected.
func dryRun(r *http.Request) (bool, error) {
	for _, v := range r.URL.Query()["dryRun"] {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q (supported: All)", v))
		}
		return true, nil
	}
	return false, nil
}

func invalid(res *registry.Resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: res.GroupVersion.Group, Kind: res.Kind}, name, errs)
}

// checkNamespace makes the object's namespace agree with the path.
func checkNamespace(q *request, m metav1.Object) error {
	if !q.res.Namespaced {
		m.SetNamespace("")
		return nil
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(q.namespace)
	} else if m.GetNamespace() != q.namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", m.GetNamespace(), q.namespace))
	}
	return nil
}

func (s *Server) create(q *request) error {
	if q.res.Namespaced && q.namespace == "" {
		return apierrors.NewMethodNotSupported(q.gr(), "create without a namespace in the path")
	}
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
	out, err := s.createObject(q.r.Context(), q.res, q.namespace, obj, dry)
	if err != nil {
		return err
	}
	writeObject(q.w, q.r, http.StatusCreated, out)
	return nil
}

// createObject runs the create path (system fields, strategy, allocation,
// storage) for an already decoded object.
func (s *Server) createObject(ctx context.Context, res *registry.Resource, ns string, obj runtime.Object, dry bool) (runtime.Object, error) {
	m := accessor(obj)
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(ns)
		} else if ns != "" && m.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", m.GetNamespace(), ns))
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		base := m.GetGenerateName()
		if len(base) > maxGeneratedNameLength {
			base = base[:maxGeneratedNameLength] // as Kubernetes: room for the suffix
		}
		m.SetName(base + utilrand.String(5))
	}
	if m.GetName() == "" {
		return nil, invalid(res, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	if m.GetResourceVersion() != "" {
		m.SetResourceVersion("")
	}
	if res.Namespaced {
		if err := s.checkNamespaceActive(ctx, m.GetNamespace()); err != nil {
			return nil, err
		}
	}
	m.SetUID(types.UID(uuid.NewUUID()))
	m.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetGeneration(0)
	if res.TrackGeneration {
		m.SetGeneration(1)
	}
	st := res.Strategy
	if st.PrepareForCreate != nil {
		st.PrepareForCreate(obj)
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		if err := s.admitPriority(ctx, pod); err != nil {
			return nil, err
		}
	}
	if st.Default != nil {
		st.Default(obj)
	}
	if st.Validate != nil {
		if errs := st.Validate(obj); len(errs) > 0 {
			return nil, invalid(res, m.GetName(), errs)
		}
	}
	var reserve []string
	if svc, ok := obj.(*corev1.Service); ok {
		keys, err := s.alloc.allocate(ctx, svc, nil)
		if err != nil {
			return nil, err
		}
		reserve = keys.reserve
	}
	if dry {
		return obj, nil
	}
	data, err := s.encodeForStorage(res, obj)
	if err != nil {
		return nil, err
	}
	key := objectKey(res, m.GetNamespace(), m.GetName())
	rev, err := s.store.CreateTTL(ctx, key, data, s.ttlOf(res), reserve...)
	if err != nil {
		return nil, storeError(err, grOf(res), m.GetName())
	}
	s.decodedObjs.add(decodedKey{res: res, key: key, rev: rev}, data)
	setRV(obj, rev)
	return obj, nil
}

// checkNamespaceActive fails when ns does not exist or is terminating.
func (s *Server) checkNamespaceActive(ctx context.Context, ns string) error {
	if s.namespaces.isActive(ns) {
		return nil
	}
	nsRes := s.byPath[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}]
	obj, _, err := s.getForUpdate(ctx, nsRes, "", ns)
	if err != nil {
		return err
	}
	if n, ok := obj.(*corev1.Namespace); ok && (n.Status.Phase == corev1.NamespaceTerminating || n.DeletionTimestamp != nil) {
		e := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
		e.ErrStatus.Details.Causes = append(e.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", ns), Field: "metadata.namespace",
		})
		return e
	}
	s.namespaces.markActive(ns)
	return nil
}

func (s *Server) ensureNamespace(ctx context.Context, name string) error {
	nsRes := s.byPath[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}]
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := s.createObject(ctx, nsRes, "", ns, false)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
