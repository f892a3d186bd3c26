package registry

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Options tune the strategies of the served resources.
type Options struct {
	// NotReadyTolerationSeconds and UnreachableTolerationSeconds are the
	// tolerationSeconds of the NoExecute tolerations of the
	// node.kubernetes.io/not-ready and node.kubernetes.io/unreachable
	// taints that every pod without such a toleration gets (as
	// kube-apiserver's --default-not-ready-toleration-seconds and
	// --default-unreachable-toleration-seconds); 0 evicts at once.
	NotReadyTolerationSeconds, UnreachableTolerationSeconds int64
}

// DefaultOptions are the options of All: 300 s tolerations, as in
// Kubernetes.
func DefaultOptions() Options {
	return Options{NotReadyTolerationSeconds: DefaultTolerationSeconds, UnreachableTolerationSeconds: DefaultTolerationSeconds}
}

// All returns every resource Berth serves, in a stable order: the core group
// first, then the named groups, with DefaultOptions.
func All() []*Resource { return AllWith(DefaultOptions()) }

// AllWith is All with the given options.
func AllWith(opts Options) []*Resource {
	return []*Resource{
		namespaceResource(),
		nodeResource(),
		podResource(opts),
		serviceResource(),
		endpointsResource(),
		eventResource(),
		configMapResource(),
		secretResource(),
		deploymentResource(),
		replicaSetResource(),
		jobResource(),
		hpaV2Resource(),
		hpaV1Resource(),
		leaseResource(),
		endpointSliceResource(),
		priorityClassResource(),
	}
}

// Group versions of the served resources.
var (
	coreV1        = schema.GroupVersion{Version: "v1"}
	appsV1        = schema.GroupVersion{Group: "apps", Version: "v1"}
	batchV1       = schema.GroupVersion{Group: "batch", Version: "v1"}
	autoscalingV1 = schema.GroupVersion{Group: "autoscaling", Version: "v1"}
	autoscalingV2 = schema.GroupVersion{Group: "autoscaling", Version: "v2"}
	coordinationV = schema.GroupVersion{Group: "coordination.k8s.io", Version: "v1"}
	discoveryV1   = schema.GroupVersion{Group: "discovery.k8s.io", Version: "v1"}
	schedulingV1  = schema.GroupVersion{Group: "scheduling.k8s.io", Version: "v1"}
)

var (
	metaPath   = field.NewPath("metadata")
	specPath   = field.NewPath("spec")
	statusPath = field.NewPath("status")
)

// validateMeta validates the metadata of a new object with the given name rule.
func validateMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(m, namespaced, nameFn, metaPath)
	return append(errs, validateBerthAnnotations(m.Annotations, metaPath.Child("annotations"))...)
}

// validateMetaUpdate validates the metadata of an updated object. The
// resourceVersion belongs to the handler, so a missing one is not reported.
func validateMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta) field.ErrorList {
	if newMeta.ResourceVersion == "" {
		m := *newMeta
		m.ResourceVersion = oldMeta.ResourceVersion
		if m.ResourceVersion == "" {
			m.ResourceVersion = "0"
		}
		newMeta = &m
	}
	errs := apivalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, metaPath)
	return append(errs, validateBerthAnnotations(newMeta.Annotations, metaPath.Child("annotations"))...)
}

// immutable reports newVal as "field is immutable" when it differs from oldVal.
func immutable(newVal, oldVal interface{}, p *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, p)
}

// semanticEqual compares API values the way Kubernetes does (quantities by
// value, nil and empty collections alike).
func semanticEqual(a, b interface{}) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}

// nonNegative reports a negative value.
func nonNegative(v int64, p *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than or equal to 0")}
	}
	return nil
}

// positive reports a value that is not greater than 0.
func positive(v int64, p *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than 0")}
	}
	return nil
}

// msgs turns validation messages about value into Invalid errors at p.
func msgs(p *field.Path, value interface{}, messages []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range messages {
		errs = append(errs, field.Invalid(p, value, m))
	}
	return errs
}

// ptrTo returns a pointer to v.
func ptrTo[T any](v T) *T { return &v }

// setIfNil sets *p to v when it is nil.
func setIfNil[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}
