// Package interpodantiaffinity is the InterPodAntiAffinity scheduler
// plugin: a filter that enforces required pod anti-affinity
// (spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution)
// in both directions, for any topology key:
//
//   - the incoming pod may not land in a topology domain (the nodes sharing
//     a value of the term's topologyKey label, e.g. one node for
//     kubernetes.io/hostname, one zone for topology.kubernetes.io/zone)
//     that holds a pod matching one of its terms;
//   - nor in a domain where an existing pod has a term the incoming pod
//     matches (symmetry).
//
// A node without the topology key label is in no domain and never
// conflicts. A term selects pods with its labelSelector (a nil selector
// selects none, an empty one all) in its namespaces: term.namespaces, all
// namespaces when namespaceSelector is empty ({}), and by default the
// namespace of the pod that declares the term. A non-empty
// namespaceSelector cannot be resolved (the scheduler has no namespace
// lister) and contributes no namespace. matchLabelKeys and
// mismatchLabelKeys are honoured (key in / notin the declaring pod's
// value), which Kubernetes does by rewriting the selector at admission.
// Pods being deleted still count, as in Kubernetes.
//
// Not supported: pod affinity (podAffinity) and preferred anti-affinity;
// they are ignored. Pods that ScheduleOptions.WithNominated adds to a node
// are not seen either: the forbidden domains are computed in PreFilter from
// the nodes it is given.
//
// PreFilter computes the forbidden domains over all nodes once per
// attempt and stores them, immutable, in the CycleState; Filter is then a
// few map lookups per node. Preemption, which removes pods from node copies,
// reruns PreFilter on them, so nothing is updated incrementally.
package interpodantiaffinity
