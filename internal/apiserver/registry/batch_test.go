package registry

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func newJob(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: simplePodSpec()}}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if mutate != nil {
		mutate(j)
	}
	return j
}

func TestJobDefaults(t *testing.T) {
	s := byName(t, "batch/v1", "jobs").Strategy
	j := newJob(nil)
	s.PrepareForCreate(j)
	s.Default(j)
	wantNoErrs(t, s.Validate(j))
	sp := j.Spec
	if *sp.Parallelism != 1 || *sp.Completions != 1 || *sp.BackoffLimit != 6 || *sp.CompletionMode != batchv1.NonIndexedCompletion ||
		*sp.Suspend || *sp.ManualSelector || *sp.PodReplacementPolicy != batchv1.TerminatingOrFailed {
		t.Errorf("job defaults wrong: %+v", sp)
	}
	if sp.Selector.MatchLabels[batchv1.ControllerUidLabel] != "uid-1" {
		t.Errorf("selector not generated: %+v", sp.Selector)
	}
	l := sp.Template.Labels
	if l[batchv1.ControllerUidLabel] != "uid-1" || l["controller-uid"] != "uid-1" || l[batchv1.JobNameLabel] != "pi" || l["job-name"] != "pi" {
		t.Errorf("template labels wrong: %v", l)
	}
	if sp.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || sp.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("template defaults wrong: %+v", sp.Template.Spec)
	}

	queue := newJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptrTo(int32(3)) })
	s.Default(queue)
	if queue.Spec.Completions != nil {
		t.Errorf("work-queue job got completions %d", *queue.Spec.Completions)
	}

	manual := newJob(func(j *batchv1.Job) {
		j.Spec.ManualSelector = ptrTo(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
	})
	s.Default(manual)
	wantNoErrs(t, s.Validate(manual))
	if len(manual.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("manual selector was changed: %v", manual.Spec.Selector)
	}
}

func TestJobValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		path   string
		typ    field.ErrorType
		detail string
	}{
		{"no restart policy", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			"spec.template.spec.restartPolicy", field.ErrorTypeRequired, `"OnFailure", "Never"`},
		{"restart always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported, ""},
		{"parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptrTo(int32(-1)) }, "spec.parallelism", field.ErrorTypeInvalid, ""},
		{"completions", func(j *batchv1.Job) { j.Spec.Completions = ptrTo(int32(-1)) }, "spec.completions", field.ErrorTypeInvalid, ""},
		{"backoff", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptrTo(int32(-1)) }, "spec.backoffLimit", field.ErrorTypeInvalid, ""},
		{"deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptrTo(int64(0)) }, "spec.activeDeadlineSeconds", field.ErrorTypeInvalid, ""},
		{"missing image", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "" },
			"spec.template.spec.containers[0].image", field.ErrorTypeRequired, ""},
		{"manual selector mismatch", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptrTo(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, "spec.template.metadata.labels", field.ErrorTypeInvalid, "does not match"},
		{"indexed needs completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptrTo(int32(2))
		}, "spec.completions", field.ErrorTypeRequired, "Indexed"},
	}
	s := byName(t, "batch/v1", "jobs").Strategy
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(tc.mutate)
			s.Default(j)
			wantErr(t, s.Validate(j), tc.path, tc.typ, tc.detail)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	s := byName(t, "batch/v1", "jobs").Strategy
	old := newJob(nil)
	s.Default(old)

	j := old.DeepCopy()
	j.Spec.Suspend = ptrTo(true)
	s.PrepareForUpdate(j, old)
	s.Default(j)
	wantNoErrs(t, s.ValidateUpdate(j, old))

	// Resending the original manifest regenerates the same selector.
	j = newJob(nil)
	s.PrepareForUpdate(j, old)
	s.Default(j)
	wantNoErrs(t, s.ValidateUpdate(j, old))

	j = old.DeepCopy()
	j.Spec.Template.Spec.Containers[0].Image = "perl:5"
	wantErr(t, s.ValidateUpdate(j, old), "spec.template", field.ErrorTypeInvalid, "field is immutable")
	j = old.DeepCopy()
	j.Spec.Completions = ptrTo(int32(5))
	wantErr(t, s.ValidateUpdate(j, old), "spec.completions", field.ErrorTypeInvalid, "field is immutable")
	j = old.DeepCopy()
	j.Spec.Selector.MatchLabels["x"] = "y"
	wantErr(t, s.ValidateUpdate(j, old), "spec.selector", field.ErrorTypeInvalid, "field is immutable")
}

func TestJobTable(t *testing.T) {
	start := metav1.NewTime(time.Now().Add(-10 * time.Minute))
	done := metav1.NewTime(start.Add(90 * time.Second))
	complete := []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	tests := []struct {
		name                             string
		job                              *batchv1.Job
		status, completions, durationStr string
	}{
		{"running", newJob(func(j *batchv1.Job) {
			j.Spec.Completions = ptrTo(int32(3))
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start}
		}), "Running", "1/3", "10m"},
		{"complete", newJob(func(j *batchv1.Job) {
			j.Spec.Completions = ptrTo(int32(1))
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &done, Conditions: complete}
		}), "Complete", "1/1", "90s"},
		{"work queue", newJob(func(j *batchv1.Job) {
			j.Spec.Parallelism = ptrTo(int32(4))
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}), "Failed", "0/1 of 4", ""},
		{"suspended", newJob(func(j *batchv1.Job) {
			j.Spec.Completions = ptrTo(int32(2))
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
		}), "Suspended", "0/2", ""},
	}
	table := byName(t, "batch/v1", "jobs").Strategy.Table
	for _, tc := range tests {
		row := table.Row(tc.job)
		for i, w := range []interface{}{"pi", tc.status, tc.completions, tc.durationStr} {
			if row[i] != w {
				t.Errorf("%s: cell %s = %#v, want %#v", tc.name, table.Columns[i].Name, row[i], w)
			}
		}
	}
}
