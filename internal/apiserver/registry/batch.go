package registry

import (
	"fmt"
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Legacy labels a Job's generated selector also puts on its pod template.
const (
	legacyJobControllerUIDLabel = "controller-uid"
	legacyJobNameLabel          = "job-name"
)

// defaultJobBackoffLimit is the number of retries before a Job fails.
const defaultJobBackoffLimit int32 = 6

func jobResource() *Resource {
	return &Resource{
		GroupVersion: batchV1, Resource: "jobs", Singular: "job", Kind: "Job", Namespaced: true,
		Categories: []string{"all"}, Subresources: []string{"status"},
		New:             func() runtime.Object { return &batchv1.Job{} },
		NewList:         func() runtime.Object { return &batchv1.JobList{} },
		TrackGeneration: true,
		Strategy: Strategy{
			Default:          func(obj runtime.Object) { defaultJob(obj.(*batchv1.Job)) },
			PrepareForCreate: func(obj runtime.Object) { obj.(*batchv1.Job).Status = batchv1.JobStatus{} },
			PrepareForUpdate: func(obj, old runtime.Object) {
				obj.(*batchv1.Job).Status = *old.(*batchv1.Job).Status.DeepCopy()
			},
			PrepareForStatusUpdate: func(obj, old runtime.Object) {
				obj.(*batchv1.Job).Spec = *old.(*batchv1.Job).Spec.DeepCopy()
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				j := obj.(*batchv1.Job)
				errs := validateMeta(&j.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateJobSpec(j)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
			},
			SpecEqual: func(a, b runtime.Object) bool {
				return semanticEqual(a.(*batchv1.Job).Spec, b.(*batchv1.Job).Spec)
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
			},
			Table: jobTable(),
		},
	}
}

// defaultJob sets the Job defaults and, unless manualSelector is true,
// generates the selector from metadata.uid (set by the handler before
// Default runs on create).
func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptrTo(int32(1))
	}
	setIfNil(&s.Parallelism, 1)
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptrTo(int32(math.MaxInt32))
		} else {
			s.BackoffLimit = ptrTo(defaultJobBackoffLimit)
		}
	}
	setIfNil(&s.CompletionMode, batchv1.NonIndexedCompletion)
	setIfNil(&s.Suspend, false)
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptrTo(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptrTo(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil || !*s.ManualSelector {
		generateJobSelector(j)
	}
	setIfNil(&s.ManualSelector, false)
	defaultPodTemplate(&s.Template, false)
}

// generateJobSelector labels the template with the job's uid and name and
// selects on the uid.
func generateJobSelector(j *batchv1.Job) {
	uid := string(j.UID)
	if uid == "" {
		return
	}
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	setLabel := func(m map[string]string, k, v string) {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	setLabel(t.Labels, batchv1.ControllerUidLabel, uid)
	setLabel(t.Labels, legacyJobControllerUIDLabel, uid)
	if len(validation.IsValidLabelValue(j.Name)) == 0 {
		setLabel(t.Labels, batchv1.JobNameLabel, j.Name)
		setLabel(t.Labels, legacyJobNameLabel, j.Name)
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	setLabel(j.Spec.Selector.MatchLabels, batchv1.ControllerUidLabel, uid)
}

// validateJobSpec validates a Job spec, including its generated selector.
func validateJobSpec(j *batchv1.Job) field.ErrorList {
	s := &j.Spec
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{{"parallelism", s.Parallelism}, {"completions", s.Completions}, {"backoffLimit", s.BackoffLimit},
		{"backoffLimitPerIndex", s.BackoffLimitPerIndex}, {"maxFailedIndexes", s.MaxFailedIndexes},
		{"ttlSecondsAfterFinished", s.TTLSecondsAfterFinished}} {
		if f.v != nil {
			errs = append(errs, nonNegative(int64(*f.v), specPath.Child(f.name))...)
		}
	}
	if v := s.ActiveDeadlineSeconds; v != nil {
		errs = append(errs, positive(*v, specPath.Child("activeDeadlineSeconds"))...)
	}
	if m := s.CompletionMode; m != nil {
		errs = append(errs, validateEnum(specPath.Child("completionMode"), *m, true, batchv1.NonIndexedCompletion, batchv1.IndexedCompletion)...)
		if *m == batchv1.IndexedCompletion && s.Completions == nil {
			errs = append(errs, field.Required(specPath.Child("completions"), "when completion mode is Indexed"))
		}
	}
	if s.BackoffLimitPerIndex != nil && (s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion) {
		errs = append(errs, field.Forbidden(specPath.Child("backoffLimitPerIndex"), "requires indexed completion mode"))
	}
	if p := s.PodReplacementPolicy; p != nil {
		errs = append(errs, validateEnum(specPath.Child("podReplacementPolicy"), *p, true, batchv1.TerminatingOrFailed, batchv1.Failed)...)
		if s.PodFailurePolicy != nil && *p != batchv1.Failed {
			errs = append(errs, field.NotSupported(specPath.Child("podReplacementPolicy"), *p, []string{string(batchv1.Failed)}))
		}
	}
	errs = append(errs, validateJobSelector(j)...)
	errs = append(errs, validatePodTemplate(&s.Template, specPath.Child("template"), corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	return errs
}

// validateJobSelector requires a selector matching the template and, when
// it was generated, one that selects on the job's uid.
func validateJobSelector(j *batchv1.Job) field.ErrorList {
	s := &j.Spec
	if s.Selector == nil {
		return field.ErrorList{field.Required(specPath.Child("selector"), "")}
	}
	errs := validateWorkloadSelector(s.Selector, &s.Template, "job")
	if (s.ManualSelector == nil || !*s.ManualSelector) && j.UID != "" {
		uid := string(j.UID)
		if s.Selector.MatchLabels[batchv1.ControllerUidLabel] != uid || s.Template.Labels[batchv1.ControllerUidLabel] != uid {
			errs = append(errs, field.Invalid(specPath.Child("selector"), s.Selector, "`selector` not auto-generated"))
		}
	}
	return errs
}

// validateJobUpdate validates the new Job; selector, template, completions
// and completionMode are immutable.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := validateMetaUpdate(&j.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateJobSpec(j)...)
	errs = append(errs, immutable(j.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	errs = append(errs, immutable(j.Spec.Template, old.Spec.Template, specPath.Child("template"))...)
	errs = append(errs, immutable(j.Spec.Completions, old.Spec.Completions, specPath.Child("completions"))...)
	errs = append(errs, immutable(j.Spec.CompletionMode, old.Spec.CompletionMode, specPath.Child("completionMode"))...)
	return errs
}

func jobTable() *TableConvertor {
	cols := []metav1.TableColumnDefinition{
		nameColumn(""),
		column("Status", "string", "Status of the job.", 0),
		column("Completions", "string", "The completion status of the job: succeeded out of desired completions.", 0),
		column("Duration", "string", "Time required to complete the job.", 0),
		ageColumn(),
	}
	return &TableConvertor{
		Columns: append(cols, workloadWideColumns()...),
		Row: func(obj runtime.Object) []interface{} {
			j := obj.(*batchv1.Job)
			row := []interface{}{j.Name, jobStatus(j), jobCompletions(j), jobDuration(j), since(j.CreationTimestamp)}
			return append(row, workloadWideCells(&j.Spec.Template.Spec, j.Spec.Selector)...)
		},
	}
}

// jobCondition reports whether the job has condition t with status True.
func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// jobStatus renders Complete, Failed, Terminating, Suspended,
// FailureTarget, SuccessCriteriaMet or Running.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(j, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

// jobCompletions renders "1/3", or "0/1 of 4" for work-queue jobs.
func jobCompletions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if p := deref(j.Spec.Parallelism); p > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

// jobDuration renders how long the job ran (or has been running).
func jobDuration(j *batchv1.Job) string {
	start := j.Status.StartTime
	switch {
	case start == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(time.Since(start.Time))
	}
	return duration.HumanDuration(j.Status.CompletionTime.Sub(start.Time))
}
