package namespace

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// finalizerKubernetes is the spec finalizer this controller owns.
const finalizerKubernetes = corev1.FinalizerKubernetes

// Poll delays while a namespace still has content: short while objects
// are on their way out (graceful pods), longer when only objects held by
// finalizers remain (they wait for other controllers).
const (
	pollTerminating = time.Second
	pollFinalizers  = 5 * time.Second
)

// immortal are the namespaces a cluster cannot work without; they are never
// emptied (Kubernetes refuses to delete them).
var immortal = map[string]bool{
	metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true,
}

// action is what a reconcile does with a namespace.
type action int

const (
	// actionNone: not being deleted, or only others' finalizers remain.
	actionNone action = iota
	// actionProtected: an immortal namespace marked for deletion.
	actionProtected
	// actionEmpty: delete the content, then remove the spec finalizer.
	actionEmpty
	// actionDelete: no finalizer is left; delete the namespace object.
	actionDelete
)

// decide tells what to do with ns.
func decide(ns *corev1.Namespace) action {
	switch {
	case ns.DeletionTimestamp == nil:
		return actionNone
	case immortal[ns.Name]:
		return actionProtected
	case hasFinalizer(ns.Spec.Finalizers, finalizerKubernetes):
		return actionEmpty
	case len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0:
		return actionDelete
	}
	return actionNone
}

func hasFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

// withoutFinalizer returns list without f (a new slice).
func withoutFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) []corev1.FinalizerName {
	var out []corev1.FinalizerName
	for _, x := range list {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}

// target is a namespaced resource whose objects are deleted.
type target struct {
	gv               schema.GroupVersion
	resource         string
	deleteCollection bool // else one DELETE per object
}

// String is resource.group (resource for the core group).
func (t target) String() string {
	if t.gv.Group == "" {
		return t.resource
	}
	return t.resource + "." + t.gv.Group
}

// path is the collection's URL path in namespace ns.
func (t target) path(ns string) string {
	if t.gv.Group == "" {
		return path.Join("/api", t.gv.Version, "namespaces", ns, t.resource)
	}
	return path.Join("/apis", t.gv.Group, t.gv.Version, "namespaces", ns, t.resource)
}

// targets picks, from discovered resource lists, the namespaced resources
// whose objects can be listed and deleted (subresources skipped), each
// group/resource once, sorted by name.
func targets(lists []*metav1.APIResourceList) []target {
	seen := map[string]bool{}
	var out []target
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			verbs := map[string]bool{}
			for _, v := range r.Verbs {
				verbs[v] = true
			}
			if !verbs["list"] || !(verbs["delete"] || verbs["deletecollection"]) {
				continue
			}
			t := target{gv: gv, resource: r.Name, deleteCollection: verbs["deletecollection"]}
			if seen[t.String()] {
				continue
			}
			seen[t.String()] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// leftover is what is still in the namespace for one resource.
type leftover struct {
	resource  string
	count     int // objects still listed
	finalized int // of them, marked for deletion and held by finalizers
	// finalizers counts the objects holding each finalizer.
	finalizers map[string]int
}

// String renders "pods: 2 (1 held by finalizers)" for logs.
func (l leftover) String() string {
	return fmt.Sprintf("%s: %d (%d held by finalizers)", l.resource, l.count, l.finalized)
}

// pollDelay is how long to wait before looking again (0: the namespace is
// empty).
func pollDelay(left []leftover) time.Duration {
	d := time.Duration(0)
	for _, l := range left {
		switch {
		case l.count == 0:
		case l.count > l.finalized:
			return pollTerminating
		default:
			d = pollFinalizers
		}
	}
	return d
}
