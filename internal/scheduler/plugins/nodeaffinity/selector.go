package nodeaffinity

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// fieldMetadataName is the only node field matchFields can select on.
const fieldMetadataName = "metadata.name"

// setThreshold is the number of values above which an In or NotIn
// requirement looks values up in a map rather than a slice.
const setThreshold = 8

// labelRequirement is one parsed matchExpressions entry.
type labelRequirement struct {
	key string
	op  corev1.NodeSelectorOperator
	// values are the values of In and NotIn; set holds them too when there
	// are more than setThreshold.
	values []string
	set    map[string]struct{}
	// num is the value of Gt and Lt.
	num int64
}

// has reports whether v is one of the requirement's values.
func (r *labelRequirement) has(v string) bool {
	if r.set != nil {
		_, ok := r.set[v]
		return ok
	}
	for _, x := range r.values {
		if x == v {
			return true
		}
	}
	return false
}

// matches evaluates the requirement against a node's labels, as
// labels.Requirement.Matches does.
func (r *labelRequirement) matches(nodeLabels map[string]string) bool {
	v, ok := nodeLabels[r.key]
	switch r.op {
	case corev1.NodeSelectorOpIn:
		return ok && r.has(v)
	case corev1.NodeSelectorOpNotIn:
		return !ok || !r.has(v)
	case corev1.NodeSelectorOpExists:
		return ok
	case corev1.NodeSelectorOpDoesNotExist:
		return !ok
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false // a label that is not an integer satisfies neither
		}
		if r.op == corev1.NodeSelectorOpGt {
			return n > r.num
		}
		return n < r.num
	}
	return false
}

// fieldRequirement is one parsed matchFields entry: key In [value], or
// key NotIn [value] when notIn is set.
type fieldRequirement struct {
	key, value string
	notIn      bool
}

// matches evaluates the requirement against a node's fields; a field other
// than metadata.name has the empty value, as in Kubernetes.
func (r *fieldRequirement) matches(node *corev1.Node) bool {
	var v string
	if r.key == fieldMetadataName {
		v = node.Name
	}
	return (v == r.value) != r.notIn
}

// term is a parsed NodeSelectorTerm: its requirements are ANDed.
type term struct {
	labels []labelRequirement
	fields []fieldRequirement
}

// matches reports whether node satisfies every requirement of the term.
// As in Kubernetes, matchFields are not evaluated for a node without a
// name.
func (t *term) matches(node *corev1.Node) bool {
	for i := range t.labels {
		if !t.labels[i].matches(node.Labels) {
			return false
		}
	}
	if node.Name == "" {
		return true
	}
	for i := range t.fields {
		if !t.fields[i].matches(node) {
			return false
		}
	}
	return true
}

// labelOperators maps node selector operators to label selector operators
// (used to validate expressions as labels.NewRequirement does).
var labelOperators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

// parseTerm parses t. It returns false for a term that matches no node:
// one without expressions and fields, or with an invalid expression or
// field (unknown operator, wrong number of values, a Gt/Lt value that is
// not an integer, a malformed label key or value). Kubernetes ignores such
// terms the same way (LazyErrorNodeSelector).
func parseTerm(t *corev1.NodeSelectorTerm) (term, bool) {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return term{}, false
	}
	var out term
	if len(t.MatchExpressions) > 0 {
		out.labels = make([]labelRequirement, 0, len(t.MatchExpressions))
	}
	for i := range t.MatchExpressions {
		e := &t.MatchExpressions[i]
		op, ok := labelOperators[e.Operator]
		if !ok {
			return term{}, false
		}
		if _, err := labels.NewRequirement(e.Key, op, e.Values); err != nil {
			return term{}, false
		}
		r := labelRequirement{key: e.Key, op: e.Operator}
		switch e.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			r.values = e.Values
			if len(e.Values) > setThreshold {
				r.set = make(map[string]struct{}, len(e.Values))
				for _, v := range e.Values {
					r.set[v] = struct{}{}
				}
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			r.num, _ = strconv.ParseInt(e.Values[0], 10, 64) // validated above
		}
		out.labels = append(out.labels, r)
	}
	if len(t.MatchFields) > 0 {
		out.fields = make([]fieldRequirement, 0, len(t.MatchFields))
	}
	for i := range t.MatchFields {
		f := &t.MatchFields[i]
		if len(f.Values) != 1 {
			return term{}, false
		}
		switch f.Operator {
		case corev1.NodeSelectorOpIn:
			out.fields = append(out.fields, fieldRequirement{key: f.Key, value: f.Values[0]})
		case corev1.NodeSelectorOpNotIn:
			out.fields = append(out.fields, fieldRequirement{key: f.Key, value: f.Values[0], notIn: true})
		default:
			return term{}, false
		}
	}
	return out, true
}

// labelPair is one nodeSelector entry.
type labelPair struct{ key, value string }

// requiredMatcher is a pod's spec.nodeSelector and required node affinity,
// parsed. It is immutable once built.
type requiredMatcher struct {
	nodeSelector []labelPair
	// hasAffinity is set when the pod has required node affinity: then the
	// node must match one of terms (none when all are empty or invalid).
	hasAffinity bool
	terms       []term
}

// Clone returns m: the matcher is immutable.
func (m *requiredMatcher) Clone() framework.StateData { return m }

// newRequiredMatcher parses the pod's nodeSelector and required node
// affinity; it returns nil when the pod has neither.
func newRequiredMatcher(pod *corev1.Pod) *requiredMatcher {
	var required *corev1.NodeSelector
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		required = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	if len(pod.Spec.NodeSelector) == 0 && required == nil {
		return nil
	}
	m := &requiredMatcher{}
	if len(pod.Spec.NodeSelector) > 0 {
		m.nodeSelector = make([]labelPair, 0, len(pod.Spec.NodeSelector))
		for k, v := range pod.Spec.NodeSelector {
			m.nodeSelector = append(m.nodeSelector, labelPair{k, v})
		}
	}
	if required != nil {
		m.hasAffinity = true
		m.terms = make([]term, 0, len(required.NodeSelectorTerms))
		for i := range required.NodeSelectorTerms {
			if t, ok := parseTerm(&required.NodeSelectorTerms[i]); ok {
				m.terms = append(m.terms, t)
			}
		}
	}
	return m
}

// matches reports whether node has every nodeSelector label and matches
// one of the required terms.
func (m *requiredMatcher) matches(node *corev1.Node) bool {
	for _, p := range m.nodeSelector {
		if v, ok := node.Labels[p.key]; !ok || v != p.value {
			return false
		}
	}
	if !m.hasAffinity {
		return true
	}
	for i := range m.terms {
		if m.terms[i].matches(node) {
			return true
		}
	}
	return false
}

// weightedTerm is a parsed preferred scheduling term.
type weightedTerm struct {
	term
	weight int64
}

// preferredMatcher is a pod's preferred node affinity, parsed. It is
// immutable once built.
type preferredMatcher struct {
	terms []weightedTerm
}

// Clone returns m: the matcher is immutable.
func (m *preferredMatcher) Clone() framework.StateData { return m }

// newPreferredMatcher parses the pod's preferred node affinity terms; it
// returns nil when none can contribute to a score. Terms with a weight of
// 0 (or, though the API forbids it, a negative one), empty terms and
// invalid terms are left out: Kubernetes skips the first two and fails the
// attempt on the third, which API validation normally prevents.
func newPreferredMatcher(pod *corev1.Pod) *preferredMatcher {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return nil
	}
	pref := a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	var m preferredMatcher
	for i := range pref {
		if pref[i].Weight <= 0 {
			continue
		}
		if t, ok := parseTerm(&pref[i].Preference); ok {
			m.terms = append(m.terms, weightedTerm{term: t, weight: int64(pref[i].Weight)})
		}
	}
	if len(m.terms) == 0 {
		return nil
	}
	return &m
}

// score is the sum of the weights of the terms node matches.
func (m *preferredMatcher) score(node *corev1.Node) int64 {
	var s int64
	for i := range m.terms {
		if m.terms[i].matches(node) {
			s += m.terms[i].weight
		}
	}
	return s
}
