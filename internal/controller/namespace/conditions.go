package namespace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deletionConditions are the deletion conditions a Terminating namespace
// carries, as Kubernetes reports them: discovery, content deletion,
// remaining content and remaining finalizers. failures are the errors
// listing or deleting resources.
func deletionConditions(discoveryErr error, failures []error, left []leftover) []corev1.NamespaceCondition {
	cond := func(t corev1.NamespaceConditionType, bad bool, badReason, badMsg, okReason, okMsg string) corev1.NamespaceCondition {
		if bad {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: badMsg}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg}
	}
	var discoveryMsg string
	if discoveryErr != nil {
		discoveryMsg = "Discovery failed for some groups: " + discoveryErr.Error()
	}
	var failMsgs []string
	for _, err := range failures {
		failMsgs = append(failMsgs, err.Error())
	}
	var remaining, finalizerMsgs []string
	finalizers := map[string]int{}
	for _, l := range left {
		if l.count > 0 {
			remaining = append(remaining, fmt.Sprintf("%s has %d resource instances", l.resource, l.count))
		}
		for f, n := range l.finalizers {
			finalizers[f] += n
		}
	}
	for f, n := range finalizers {
		finalizerMsgs = append(finalizerMsgs, fmt.Sprintf("%s in %d resource instances", f, n))
	}
	sort.Strings(remaining)
	sort.Strings(finalizerMsgs)
	return []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, discoveryErr != nil,
			"DiscoveryFailed", discoveryMsg, "ResourcesDiscovered", "All resources successfully discovered"),
		cond(corev1.NamespaceDeletionGVParsingFailure, false,
			"", "", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
		cond(corev1.NamespaceDeletionContentFailure, len(failures) > 0,
			"ContentDeletionFailed", "Failed to delete all resource types, "+fmt.Sprint(len(failures))+" remaining: "+strings.Join(failMsgs, ", "),
			"ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
		cond(corev1.NamespaceContentRemaining, len(remaining) > 0,
			"SomeResourcesRemain", "Some resources are remaining: "+strings.Join(remaining, ", "),
			"ContentRemoved", "All content successfully removed"),
		cond(corev1.NamespaceFinalizersRemaining, len(finalizerMsgs) > 0,
			"SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "+strings.Join(finalizerMsgs, ", "),
			"ContentHasNoFinalizers", "All content-preserving finalizers finished"),
	}
}

// mergeConditions sets want into existing (in place of conditions of the
// same type), keeping the transition time of conditions whose status did
// not change; it reports whether anything changed.
func mergeConditions(existing, want []corev1.NamespaceCondition, now metav1.Time) ([]corev1.NamespaceCondition, bool) {
	out := append([]corev1.NamespaceCondition(nil), existing...)
	changed := false
	for _, w := range want {
		i := 0
		for i < len(out) && out[i].Type != w.Type {
			i++
		}
		if i == len(out) {
			w.LastTransitionTime = now
			out = append(out, w)
			changed = true
			continue
		}
		cur := out[i]
		if cur.Status == w.Status && cur.Reason == w.Reason && cur.Message == w.Message {
			continue
		}
		w.LastTransitionTime = cur.LastTransitionTime
		if cur.Status != w.Status {
			w.LastTransitionTime = now
		}
		out[i] = w
		changed = true
	}
	return out, changed
}
