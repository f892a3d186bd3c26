package interpodantiaffinity

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// Name is the plugin's name.
const Name = "InterPodAntiAffinity"

// Filter's rejection reasons (code Unschedulable: preempting the pods
// concerned can help).
const (
	// ErrReasonAntiAffinityRulesNotMatch: the node's domain holds a pod the
	// incoming pod's anti-affinity forbids.
	ErrReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules"
	// ErrReasonExistingAntiAffinityRulesNotMatch: a pod in the node's
	// domain has anti-affinity the incoming pod matches.
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// stateKey is where PreFilter stores the forbidden domains.
const stateKey framework.StateKey = "PreFilter" + Name

// Plugin is the InterPodAntiAffinity filter. It is stateless and safe for
// concurrent use.
type Plugin struct{}

var (
	_ framework.PreFilterPlugin = (*Plugin)(nil)
	_ framework.FilterPlugin    = (*Plugin)(nil)
)

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name returns Name.
func (*Plugin) Name() string { return Name }

// domains is a set of values of one topology key.
type domains struct {
	key    string
	values map[string]struct{}
}

// domainSet is a set of topology domains, grouped by key (there are few
// keys: usually one).
type domainSet []domains

// has reports whether (key, value) is in the set.
func (s domainSet) has(key, value string) bool {
	for i := range s {
		if s[i].key == key {
			_, ok := s[i].values[value]
			return ok
		}
	}
	return false
}

// add returns the set with (key, value) added.
func (s domainSet) add(key, value string) domainSet {
	for i := range s {
		if s[i].key == key {
			s[i].values[value] = struct{}{}
			return s
		}
	}
	return append(s, domains{key: key, values: map[string]struct{}{value: {}}})
}

// holds reports whether a node with labels lies in one of the domains.
func (s domainSet) holds(labels map[string]string) bool {
	for i := range s {
		if v, ok := labels[s[i].key]; ok {
			if _, hit := s[i].values[v]; hit {
				return true
			}
		}
	}
	return false
}

// preFilterState holds the domains the incoming pod may not land in. It
// is immutable once stored.
type preFilterState struct {
	// incoming: domains with a pod matching the incoming pod's terms.
	incoming domainSet
	// existing: domains where an existing pod's term matches the incoming pod.
	existing domainSet
}

// Clone returns s: the state is immutable (PreFilter stores a new one).
func (s *preFilterState) Clone() framework.StateData { return s }

// requiredTerms returns pod's required anti-affinity terms.
func requiredTerms(pod *corev1.Pod) []corev1.PodAffinityTerm {
	if a := pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		return a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// PreFilter computes, over nodes (all nodes of the snapshot), the domains
// the pod's required anti-affinity terms forbid and the domains existing
// pods' terms forbid it, and stores them. It returns Skip when the pod has
// no required anti-affinity and no node holds a pod with some
// (NodeInfo.PodsWithAntiAffinity), and UnschedulableAndUnresolvable when
// one of the pod's terms has an invalid selector.
func (*Plugin) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	terms := requiredTerms(pod)
	for i := range terms {
		if err := validateTerm(&terms[i]); err != nil {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable,
				fmt.Sprintf("invalid required pod anti-affinity term %d: %v", i, err))
		}
	}
	s := &preFilterState{}
	withAnti := false
	for _, n := range nodes {
		if n.Node == nil {
			continue
		}
		if len(terms) > 0 {
			s.incoming = addIncoming(s.incoming, pod, terms, n)
		}
		if n.PodsWithAntiAffinity > 0 {
			withAnti = true
			s.existing = addExisting(s.existing, pod, n)
		}
	}
	if len(terms) == 0 && !withAnti {
		if _, ok := state.Read(stateKey); ok {
			// A rerun (preemption) on a clone of a state where this plugin
			// did not skip: its filter must keep running on the original,
			// and CycleState.Clone shares the set of skipped filters with
			// it, so store "nothing forbidden" instead of skipping.
			state.Write(stateKey, &preFilterState{})
			return nil
		}
		return framework.NewStatus(framework.Skip)
	}
	state.Write(stateKey, s)
	return nil
}

// addIncoming adds the domains of node n that hold a pod matching one of
// the incoming pod's terms.
func addIncoming(set domainSet, pod *corev1.Pod, terms []corev1.PodAffinityTerm, n *framework.NodeInfo) domainSet {
	for i := range terms {
		t := &terms[i]
		v, ok := n.Node.Labels[t.TopologyKey]
		if !ok || set.has(t.TopologyKey, v) {
			continue
		}
		for _, pi := range n.Pods {
			if termMatches(t, pod, pi.Pod) {
				set = set.add(t.TopologyKey, v)
				break
			}
		}
	}
	return set
}

// addExisting adds the domains of node n where a pod on n has a term the
// incoming pod matches.
func addExisting(set domainSet, pod *corev1.Pod, n *framework.NodeInfo) domainSet {
	left := n.PodsWithAntiAffinity
	for _, pi := range n.Pods {
		if left == 0 {
			break // the rest of the pods have no anti-affinity
		}
		terms := requiredTerms(pi.Pod)
		if len(terms) == 0 {
			continue
		}
		left--
		for i := range terms {
			t := &terms[i]
			v, ok := n.Node.Labels[t.TopologyKey]
			if !ok || set.has(t.TopologyKey, v) {
				continue
			}
			if termMatches(t, pi.Pod, pod) {
				set = set.add(t.TopologyKey, v)
			}
		}
	}
	return set
}

// Filter rejects (Unschedulable) a node in a domain the pod's required
// anti-affinity forbids (ErrReasonAntiAffinityRulesNotMatch) or in which
// an existing pod's required anti-affinity forbids the pod
// (ErrReasonExistingAntiAffinityRulesNotMatch). It needs PreFilter's state.
func (*Plugin) Filter(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	d, ok := state.Read(stateKey)
	if !ok {
		return framework.NewStatus(framework.Error, Name+": no pre-filter state (PreFilter was not run)")
	}
	s, ok := d.(*preFilterState)
	if !ok {
		return framework.NewStatus(framework.Error, Name+": pre-filter state has the wrong type")
	}
	if len(s.incoming) == 0 && len(s.existing) == 0 {
		return nil
	}
	if node.Node == nil {
		return framework.NewStatus(framework.Error, Name+": node not found")
	}
	if s.incoming.holds(node.Node.Labels) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch)
	}
	if s.existing.holds(node.Node.Labels) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch)
	}
	return nil
}

// validateTerm checks the selectors of one of the incoming pod's terms, as
// Kubernetes does when it parses them.
func validateTerm(t *corev1.PodAffinityTerm) error {
	if _, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err != nil {
		return fmt.Errorf("labelSelector: %w", err)
	}
	if _, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
		return fmt.Errorf("namespaceSelector: %w", err)
	}
	return nil
}

// termMatches reports whether target is selected by term t, declared by
// pod owner.
func termMatches(t *corev1.PodAffinityTerm, owner, target *corev1.Pod) bool {
	return namespaceMatches(t, owner.Namespace, target.Namespace) &&
		selectorMatches(t.LabelSelector, target.Labels) &&
		labelKeysMatch(t, owner.Labels, target.Labels)
}

// namespaceMatches reports whether term t, declared by a pod in namespace
// ownerNS, applies to pods in namespace ns: ns is in t.Namespaces, or
// t.NamespaceSelector is empty (all namespaces), or, with neither
// namespaces nor namespaceSelector, ns is ownerNS.
//
// A non-empty namespaceSelector would select namespaces by their labels;
// without a namespace lister the scheduler cannot evaluate it, so it
// selects no namespace (only t.Namespaces then apply). This errs towards
// placing pods rather than leaving them pending.
func namespaceMatches(t *corev1.PodAffinityTerm, ownerNS, ns string) bool {
	if sel := t.NamespaceSelector; sel == nil {
		if len(t.Namespaces) == 0 {
			return ns == ownerNS
		}
	} else if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return true
	}
	for _, n := range t.Namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// selectorMatches evaluates sel against labels without allocating, as
// metav1.LabelSelectorAsSelector(sel).Matches would: nil selects nothing,
// an empty selector everything. An invalid requirement (unknown operator,
// values where none belong or none where some must be) selects nothing.
func selectorMatches(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(labels) < len(sel.MatchLabels) {
		return false
	}
	for k, v := range sel.MatchLabels {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	for i := range sel.MatchExpressions {
		e := &sel.MatchExpressions[i]
		lv, ok := labels[e.Key]
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			if len(e.Values) == 0 || !ok || !contains(e.Values, lv) {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 || (ok && contains(e.Values, lv)) {
				return false
			}
		case metav1.LabelSelectorOpExists:
			if len(e.Values) != 0 || !ok {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) != 0 || ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// labelKeysMatch applies t.MatchLabelKeys (the target must have the same
// value as the declaring pod) and t.MismatchLabelKeys (it must not); keys
// the declaring pod lacks are ignored.
func labelKeysMatch(t *corev1.PodAffinityTerm, ownerLabels, labels map[string]string) bool {
	for _, k := range t.MatchLabelKeys {
		if ov, ok := ownerLabels[k]; ok {
			if v, ok := labels[k]; !ok || v != ov {
				return false
			}
		}
	}
	for _, k := range t.MismatchLabelKeys {
		if ov, ok := ownerLabels[k]; ok {
			if v, ok := labels[k]; ok && v == ov {
				return false
			}
		}
	}
	return true
}

// contains reports whether v is in values.
func contains(values []string, v string) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}
