package deployment

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// testTemplate is a pod template running image.
func testTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

// rollingDeployment is deployment ns/web with the given size and fenceposts,
// running image "v2".
func rollingDeployment(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: testTemplate("v2"),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
}

// recreateDeployment is like rollingDeployment with the Recreate strategy.
func recreateDeployment(replicas int32) *appsv1.Deployment {
	d := rollingDeployment(replicas, intstr.FromInt32(0), intstr.FromInt32(1))
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	return d
}

// testRS is a ReplicaSet of d running image, spec replicas with avail
// available, created age seconds after t0, at revision rev (0: none).
func testRS(d *appsv1.Deployment, image string, spec, avail int32, age, rev int) *appsv1.ReplicaSet {
	tmpl := testTemplate(image)
	hash := ComputeHash(&tmpl, nil)
	tmpl.Labels[HashLabel] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: types.UID("rs-" + image),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second)),
			Labels:            map[string]string{"app": "web", HashLabel: hash},
			Annotations:       map[string]string{DesiredReplicasAnnotation: strconv.Itoa(int(desired(d)))},
			OwnerReferences:   []metav1.OwnerReference{*ownerRef(d)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr(spec), Template: tmpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", HashLabel: hash}}},
		Status: appsv1.ReplicaSetStatus{Replicas: spec, ReadyReplicas: avail, AvailableReplicas: avail},
	}
	if rev > 0 {
		rs.Annotations[RevisionAnnotation] = strconv.Itoa(rev)
	}
	return rs
}
