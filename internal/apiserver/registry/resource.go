package registry

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource describes one REST resource that the API server serves: its
// names, its Go types (from k8s.io/api) and the strategy functions that give
// it Kubernetes semantics. The generic handlers in package apiserver do all
// I/O; everything here is pure.
type Resource struct {
	// GroupVersion is the group and version the resource is served at.
	GroupVersion schema.GroupVersion
	// Resource is the plural lower-case name in URLs ("deployments").
	Resource string
	// Singular is the singular lower-case name ("deployment").
	Singular string
	// Kind is the object kind ("Deployment"); the list kind is Kind+"List".
	Kind string
	// Namespaced tells whether objects live in a namespace.
	Namespaced bool
	// ShortNames are kubectl abbreviations ("deploy").
	ShortNames []string
	// Categories groups resources for kubectl ("all").
	Categories []string
	// Subresources lists the served subresources ("status", "scale", "binding").
	Subresources []string
	// StorageResource names the resource whose etcd keys hold the objects when
	// this entry is another version's view of them (autoscaling/v1 HPAs are
	// stored as autoscaling/v2); empty means the resource itself.
	StorageResource string
	// New returns an empty object of the served type.
	New func() runtime.Object
	// NewList returns an empty list of the served type.
	NewList func() runtime.Object
	// Expiring objects are deleted by the store a while after their last
	// write (the API server's event TTL), as Kubernetes deletes events.
	Expiring bool
	// TrackGeneration makes the server bump metadata.generation whenever the
	// object's spec changes.
	TrackGeneration bool
	// Strategy gives the per-resource behaviour; nil fields mean "nothing to do".
	Strategy Strategy
	// ToStorage converts a served object to the stored type; nil means identity.
	ToStorage func(runtime.Object) runtime.Object
	// FromStorage converts a stored object to the served type; nil means identity.
	FromStorage func(runtime.Object) runtime.Object
}

// Fields returns every field-selector field of obj: metadata.name,
// metadata.namespace (for namespaced resources) and the resource's FieldSet.
func (r *Resource) Fields(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if m, ok := obj.(metav1.Object); ok {
		set["metadata.name"] = m.GetName()
		if r.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	if r.Strategy.FieldSet != nil {
		for k, v := range r.Strategy.FieldSet(obj) {
			set[k] = v
		}
	}
	return set
}

// KnownField reports whether name may be used in a field selector for this
// resource. The handler rejects other fields with
// `"name" is not a known field selector`.
func (r *Resource) KnownField(name string) bool {
	switch name {
	case "metadata.name":
		return true
	case "metadata.namespace":
		return r.Namespaced
	}
	if r.Strategy.FieldSet == nil || r.New == nil {
		return false
	}
	_, ok := r.Strategy.FieldSet(r.New())[name]
	return ok
}

// Strategy is the per-resource behaviour the generic handlers call. Every
// function is pure: it only looks at and changes the objects it is given.
type Strategy struct {
	// Default sets the defaults Kubernetes sets on create and update.
	Default func(obj runtime.Object)
	// PrepareForCreate clears what a client may not set on create (for
	// resources with a status subresource, the status).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate copies over what a main-resource update may not change
	// (the status, when there is a status subresource).
	PrepareForUpdate func(obj, old runtime.Object)
	// PrepareForStatusUpdate copies over everything but the status from old,
	// for updates through the status subresource.
	PrepareForStatusUpdate func(obj, old runtime.Object)
	// Validate checks a new object (after defaulting).
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update, including immutable fields.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// SpecEqual reports whether the specs of two objects are equal, for
	// generation tracking.
	SpecEqual func(a, b runtime.Object) bool
	// FieldSet returns the field-selector fields of an object beyond
	// metadata.name and metadata.namespace, which are always supported.
	FieldSet func(obj runtime.Object) fields.Set
	// Table describes the server-side table columns and rows.
	Table *TableConvertor
}

// TableConvertor turns objects into rows of a metav1.Table.
type TableConvertor struct {
	// Columns are the column definitions; the first is the name column with
	// Format "name". Columns with Priority > 0 appear only with -o wide.
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of one object, one per column.
	Row func(obj runtime.Object) []interface{}
}
