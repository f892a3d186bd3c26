package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func newDeployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: simplePodSpec()},
	}}
	if mutate != nil {
		mutate(d)
	}
	return d
}

func TestDeploymentDefaults(t *testing.T) {
	s := byName(t, "apps/v1", "deployments").Strategy
	d := newDeployment(nil)
	d.Status.Replicas = 5
	s.PrepareForCreate(d)
	s.Default(d)
	wantNoErrs(t, s.Validate(d))
	sp := d.Spec
	ru := sp.Strategy.RollingUpdate
	if *sp.Replicas != 1 || sp.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		*ru.MaxSurge != intstr.FromString("25%") || *ru.MaxUnavailable != intstr.FromString("25%") ||
		*sp.RevisionHistoryLimit != 10 || *sp.ProgressDeadlineSeconds != 600 {
		t.Errorf("deployment defaults wrong: %+v", sp)
	}
	ps := sp.Template.Spec
	if ps.RestartPolicy != corev1.RestartPolicyAlways || ps.DNSPolicy != corev1.DNSClusterFirst ||
		ps.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent || ps.Priority != nil {
		t.Errorf("template defaults wrong: %+v", ps)
	}
	if d.Status.Replicas != 0 {
		t.Errorf("PrepareForCreate kept the status")
	}

	rc := newDeployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType })
	s.Default(rc)
	if rc.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rollingUpdate defaults")
	}
	wantNoErrs(t, s.Validate(rc))

	rs := &appsv1.ReplicaSet{ObjectMeta: meta("web-1"), Spec: appsv1.ReplicaSetSpec{Selector: d.Spec.Selector, Template: newDeployment(nil).Spec.Template}}
	rss := byName(t, "apps/v1", "replicasets").Strategy
	rss.Default(rs)
	wantNoErrs(t, rss.Validate(rs))
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.SchedulerName != "default-scheduler" {
		t.Errorf("replicaset defaults wrong: %+v", rs.Spec)
	}
}

func TestDeploymentValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		path   string
		typ    field.ErrorType
		detail string
	}{
		{"selector mismatch", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			"spec.template.metadata.labels", field.ErrorTypeInvalid, "`selector` does not match template `labels`"},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, "spec.selector", field.ErrorTypeRequired, ""},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, "spec.selector", field.ErrorTypeInvalid, "empty selector"},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptrTo(int32(-1)) }, "spec.replicas", field.ErrorTypeInvalid, "greater than or equal to 0"},
		{"missing image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			"spec.template.spec.containers[0].image", field.ErrorTypeRequired, ""},
		{"no containers", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = nil },
			"spec.template.spec.containers", field.ErrorTypeRequired, ""},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported, `"Always"`},
		{"strategy type", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, "spec.strategy.type", field.ErrorTypeNotSupported, ""},
		{"recreate with rollingUpdate", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}, "spec.strategy.rollingUpdate", field.ErrorTypeForbidden, ""},
		{"both zero", func(d *appsv1.Deployment) {
			zero := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &zero}
		}, "spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid, "may not be 0 when `maxSurge` is 0"},
		{"over 100%", func(d *appsv1.Deployment) {
			v := intstr.FromString("150%")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &v}
		}, "spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid, "100%"},
		{"bad percent", func(d *appsv1.Deployment) {
			v := intstr.FromString("lots")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &v}
		}, "spec.strategy.rollingUpdate.maxSurge", field.ErrorTypeInvalid, ""},
		{"history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptrTo(int32(-1)) }, "spec.revisionHistoryLimit", field.ErrorTypeInvalid, ""},
		{"progress deadline", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 700
		}, "spec.progressDeadlineSeconds", field.ErrorTypeInvalid, "must be greater than minReadySeconds"},
		{"template label", func(d *appsv1.Deployment) { d.Spec.Template.Labels["bad key!"] = "x" },
			"spec.template.metadata.labels", field.ErrorTypeInvalid, "name part"},
	}
	s := byName(t, "apps/v1", "deployments").Strategy
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(tc.mutate)
			s.Default(d)
			wantErr(t, s.Validate(d), tc.path, tc.typ, tc.detail)
		})
	}
}

func TestDeploymentUpdate(t *testing.T) {
	s := byName(t, "apps/v1", "deployments").Strategy
	old := newDeployment(nil)
	s.Default(old)
	old.Status.ReadyReplicas = 1

	d := old.DeepCopy()
	d.Spec.Replicas = ptrTo(int32(3))
	d.Status = appsv1.DeploymentStatus{}
	s.PrepareForUpdate(d, old)
	s.Default(d)
	wantNoErrs(t, s.ValidateUpdate(d, old))
	if d.Status.ReadyReplicas != 1 {
		t.Errorf("PrepareForUpdate lost the status")
	}
	if s.SpecEqual(d, old) {
		t.Errorf("SpecEqual ignores a replica change")
	}

	d = old.DeepCopy()
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	d.Spec.Template.Labels["v"] = "2"
	wantErr(t, s.ValidateUpdate(d, old), "spec.selector", field.ErrorTypeInvalid, "field is immutable")

	rss := byName(t, "apps/v1", "replicasets").Strategy
	oldRS := &appsv1.ReplicaSet{ObjectMeta: meta("web-1"), Spec: appsv1.ReplicaSetSpec{Selector: old.Spec.Selector, Template: old.Spec.Template}}
	rss.Default(oldRS)
	rs := oldRS.DeepCopy()
	rs.Spec.Selector = d.Spec.Selector
	rs.Spec.Template.Labels = d.Spec.Template.Labels
	wantErr(t, rss.ValidateUpdate(rs, oldRS), "spec.selector", field.ErrorTypeInvalid, "field is immutable")
}

func TestWorkloadTables(t *testing.T) {
	d := newDeployment(func(d *appsv1.Deployment) {
		d.Spec.Replicas = ptrTo(int32(3))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy:1"})
		d.Status = appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}
	})
	table := byName(t, "apps/v1", "deployments").Strategy.Table
	want := []interface{}{"web", "2/3", int64(3), int64(2), "<unknown>", "app,sidecar", "nginx:1.27,envoy:1", "app=web"}
	row := table.Row(d)
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("deployment cell %s = %#v, want %#v", table.Columns[i].Name, row[i], want[i])
		}
	}
	if table.Columns[5].Priority != 1 || table.Columns[1].Priority != 0 {
		t.Errorf("wide columns wrong: %+v", table.Columns)
	}

	rs := &appsv1.ReplicaSet{ObjectMeta: meta("web-1"), Spec: appsv1.ReplicaSetSpec{Replicas: ptrTo(int32(3)), Selector: d.Spec.Selector},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}}
	rsRow := byName(t, "apps/v1", "replicasets").Strategy.Table.Row(rs)
	for i, w := range []interface{}{"web-1", int64(3), int64(3), int64(1)} {
		if rsRow[i] != w {
			t.Errorf("replicaset cell %d = %#v, want %#v", i, rsRow[i], w)
		}
	}
}
