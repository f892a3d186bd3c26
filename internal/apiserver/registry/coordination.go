package registry

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func leaseResource() *Resource {
	return &Resource{
		GroupVersion: coordinationV, Resource: "leases", Singular: "lease", Kind: "Lease", Namespaced: true,
		New:     func() runtime.Object { return &coordinationv1.Lease{} },
		NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		Strategy: Strategy{
			Validate: func(obj runtime.Object) field.ErrorList {
				l := obj.(*coordinationv1.Lease)
				errs := validateMeta(&l.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateLeaseSpec(&l.Spec)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				l := obj.(*coordinationv1.Lease)
				errs := validateMetaUpdate(&l.ObjectMeta, &old.(*coordinationv1.Lease).ObjectMeta)
				return append(errs, validateLeaseSpec(&l.Spec)...)
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Holder", "string", "The holder of the lease.", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					l := obj.(*coordinationv1.Lease)
					holder := ""
					if l.Spec.HolderIdentity != nil {
						holder = *l.Spec.HolderIdentity
					}
					return []interface{}{l.Name, holder, since(l.CreationTimestamp)}
				},
			},
		},
	}
}

// validateLeaseSpec checks the lease duration and transition count.
func validateLeaseSpec(s *coordinationv1.LeaseSpec) field.ErrorList {
	var errs field.ErrorList
	if v := s.LeaseDurationSeconds; v != nil {
		errs = append(errs, positive(int64(*v), specPath.Child("leaseDurationSeconds"))...)
	}
	if v := s.LeaseTransitions; v != nil {
		errs = append(errs, nonNegative(int64(*v), specPath.Child("leaseTransitions"))...)
	}
	if s.PreferredHolder != nil && *s.PreferredHolder != "" && s.Strategy == nil {
		errs = append(errs, field.Forbidden(specPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
