package apiserver

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// bind handles POST pods/<name>/binding: it assigns the pod to a node once.
func (s *Server) bind(q *request) error {
	body, err := s.readBody(q.r)
	if err != nil {
		return err
	}
	validation, err := fieldValidation(q.r)
	if err != nil {
		return err
	}
	data, err := toJSON(q.r, body)
	if err != nil {
		return err
	}
	var b corev1.Binding
	if err := decodeInto(q.w, data, &b, validation); err != nil {
		return err
	}
	if b.Name != "" && b.Name != q.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the binding's name (%s) does not match the pod (%s)", b.Name, q.name))
	}
	if b.Target.Name == "" {
		return apierrors.NewBadRequest("binding target.name (the node) is required")
	}
	mutate := func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(q.gr(), q.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", q.name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(q.gr(), q.name, fmt.Errorf("pod %s is already assigned to node %q", q.name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(q.gr(), q.name, fmt.Errorf("binding UID %s does not match pod UID %s", b.UID, pod.UID))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		return pod, nil
	}
	// Binding writes spec.nodeName, which a pod update may not change;
	// updateObject skips the update strategy for the binding subresource.
	if _, err := s.updateObject(q.r.Context(), q, mutate, false, 0); err != nil {
		return err
	}
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
	writeJSON(q.w, http.StatusCreated, &st)
	return nil
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}
