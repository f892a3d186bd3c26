package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// scaleOf returns the autoscaling/v1 Scale view of a scalable object.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var spec, status int32
	var sel *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec, status, sel = deref(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector
	case *appsv1.ReplicaSet:
		spec, status, sel = deref(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector
	default:
		return nil, fmt.Errorf("apiserver: %T has no scale subresource", obj)
	}
	m := accessor(obj)
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status},
	}
	if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
		sc.Status.Selector = s.String()
	}
	return sc, nil
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func (s *Server) serveScale(q *request) error {
	switch q.verb {
	case "get":
		obj, _, err := s.getObject(q.r.Context(), q.res, q.namespace, q.name)
		if err != nil {
			return err
		}
		sc, err := scaleOf(obj)
		if err != nil {
			return err
		}
		writeJSON(q.w, http.StatusOK, sc)
		return nil
	case "update", "patch":
	default:
		return apierrors.NewMethodNotSupported(q.gr(), q.r.Method)
	}
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
	mutate := func(cur runtime.Object) (runtime.Object, error) {
		old, err := scaleOf(cur)
		if err != nil {
			return nil, err
		}
		data := body
		if q.verb == "patch" {
			oldJSON, _ := json.Marshal(old)
			if data, err = applyPatch(ct, oldJSON, body, &autoscalingv1.Scale{}); err != nil {
				return nil, err
			}
		} else if data, err = toJSON(q.r, body); err != nil {
			return nil, err
		}
		var sc autoscalingv1.Scale
		if err := decodeInto(q.w, data, &sc, validation); err != nil {
			return nil, err
		}
		if sc.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), q.name,
				field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0")})
		}
		setReplicas(cur, sc.Spec.Replicas)
		rv := sc.ResourceVersion
		if q.verb == "patch" && !patchSetsResourceVersion(body) {
			rv = ""
		}
		accessor(cur).SetResourceVersion(rv)
		return cur, nil
	}
	sub := q.sub
	q.sub = "" // the write goes through the main resource's update path
	obj, err := s.updateObject(q.r.Context(), q, mutate, dry, 0)
	q.sub = sub
	if err != nil {
		return err
	}
	sc, err := scaleOf(obj)
	if err != nil {
		return err
	}
	writeJSON(q.w, http.StatusOK, sc)
	return nil
}
