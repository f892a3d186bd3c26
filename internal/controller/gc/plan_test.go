package gc

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ref is an ownerReference to uid, blocking when block is true.
func ref(uid string, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "o-" + uid, UID: types.UID(uid)}
	if block {
		r.BlockOwnerDeletion = &block
	}
	return r
}

// dep is a dependent named name with the given references.
func dep(name string, refs ...metav1.OwnerReference) object {
	return object{namespace: "ns", name: name, uid: types.UID("uid-" + name), owners: refs}
}

// terminating marks o as being deleted with finalizers.
func terminating(o object, finalizers ...string) object {
	o.deleting, o.finalizers = true, finalizers
	return o
}

func TestPlanDependent(t *testing.T) {
	tests := []struct {
		name   string
		dep    object
		states map[types.UID]ownerState
		want   dependentAction
	}{
		{"sole owner gone: background delete", dep("a", ref("o", false)),
			map[types.UID]ownerState{"o": ownerGone},
			dependentAction{delete: true, policy: metav1.DeletePropagationBackground}},
		{"all owners gone", dep("a", ref("o", false), ref("p", false)),
			map[types.UID]ownerState{"o": ownerGone, "p": ownerGone},
			dependentAction{delete: true, policy: metav1.DeletePropagationBackground}},
		{"one live owner left: strip the gone one", dep("a", ref("o", false), ref("p", false)),
			map[types.UID]ownerState{"o": ownerGone, "p": ownerAlive},
			dependentAction{strip: []types.UID{"o"}}},
		{"unknown owner counts as alive", dep("a", ref("o", false), ref("p", false)),
			map[types.UID]ownerState{"o": ownerGone},
			dependentAction{strip: []types.UID{"o"}}},
		{"waiting owner: foreground delete", dep("a", ref("o", true)),
			map[types.UID]ownerState{"o": ownerWaiting},
			dependentAction{delete: true, policy: metav1.DeletePropagationForeground}},
		{"waiting and gone owners: foreground delete", dep("a", ref("o", true), ref("p", false)),
			map[types.UID]ownerState{"o": ownerWaiting, "p": ownerGone},
			dependentAction{delete: true, policy: metav1.DeletePropagationForeground}},
		{"waiting owner and live owner: strip the waiting one", dep("a", ref("o", true), ref("p", false), ref("q", false)),
			map[types.UID]ownerState{"o": ownerWaiting, "p": ownerAlive, "q": ownerGone},
			dependentAction{strip: []types.UID{"q", "o"}}},
		{"all alive: nothing", dep("a", ref("o", false)),
			map[types.UID]ownerState{"o": ownerAlive},
			dependentAction{}},
		{"already terminating: nothing", terminating(dep("a", ref("o", false)), "x/y"),
			map[types.UID]ownerState{"o": ownerGone},
			dependentAction{}},
		{"no owners: nothing", dep("a"), nil, dependentAction{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planDependent(tt.dep, tt.states); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// summary renders a plan compactly for comparison.
func summary(p plan) string {
	s := ""
	for _, x := range p.strips {
		s += fmt.Sprintf("strip %s %v; ", x.obj.name, x.uids)
	}
	for _, d := range p.deletes {
		s += fmt.Sprintf("delete %s %s; ", d.obj.name, d.policy)
	}
	if p.removeFinalizer != "" {
		s += "unfinalize " + p.removeFinalizer
	}
	return s
}

func TestPlanOwner(t *testing.T) {
	owner := func(finalizers ...string) *object {
		o := object{namespace: "ns", name: "o-o", uid: "o"}
		if len(finalizers) > 0 {
			o = terminating(o, finalizers...)
		}
		return &o
	}
	tests := []struct {
		name   string
		owner  *object
		deps   []object
		states map[types.UID]ownerState
		want   string
	}{
		{"owner alive: nothing", owner(), []object{dep("a", ref("o", false))}, nil, ""},
		{"owner terminating with another finalizer: nothing", owner("x/y"), []object{dep("a", ref("o", false))}, nil, ""},
		{"owner gone: cascade in the background", nil,
			[]object{dep("a", ref("o", false)), dep("b", ref("o", true))}, nil,
			"delete a Background; delete b Background; "},
		{"owner gone: a dependent with another live owner keeps it", nil,
			[]object{dep("a", ref("o", false), ref("p", false)), dep("b", ref("o", false), ref("q", false))},
			map[types.UID]ownerState{"p": ownerAlive, "q": ownerGone},
			"strip a [o]; delete b Background; "},
		{"owner gone: terminating dependent left alone", nil,
			[]object{terminating(dep("a", ref("o", false)), "x/y")}, nil, ""},
		{"orphan: strip every dependent, then unfinalize", owner(finalizerOrphan),
			[]object{dep("a", ref("o", true)), dep("b", ref("o", false), ref("p", false)), terminating(dep("c", ref("o", false)), "x/y")}, nil,
			"strip a [o]; strip b [o]; strip c [o]; unfinalize orphan"},
		{"orphan without dependents: unfinalize", owner(finalizerOrphan), nil, nil, "unfinalize orphan"},
		{"orphan wins over foreground", owner(finalizerForeground, finalizerOrphan),
			[]object{dep("a", ref("o", true))}, nil, "strip a [o]; unfinalize orphan"},
		{"foreground: delete dependents in the foreground, wait for the blocking one", owner(finalizerForeground),
			[]object{dep("a", ref("o", true)), dep("b", ref("o", false))}, nil,
			"delete a Foreground; delete b Foreground; "},
		{"foreground: only non-blocking dependents: delete and unfinalize", owner(finalizerForeground),
			[]object{dep("b", ref("o", false))}, nil,
			"delete b Foreground; unfinalize foregroundDeletion"},
		{"foreground: terminating blocking dependent still holds the owner", owner(finalizerForeground),
			[]object{terminating(dep("a", ref("o", true)), "x/y")}, nil, ""},
		{"foreground: dependent with a live owner only loses the reference", owner(finalizerForeground),
			[]object{dep("a", ref("o", true), ref("p", false))},
			map[types.UID]ownerState{"p": ownerAlive},
			"strip a [o]; "},
		{"foreground: no dependents left: unfinalize", owner(finalizerForeground), nil, nil, "unfinalize foregroundDeletion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summary(planOwner("o", tt.owner, tt.deps, tt.states)); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPlanOwnerDoesNotChangeStates(t *testing.T) {
	states := map[types.UID]ownerState{"p": ownerAlive}
	planOwner("o", nil, []object{dep("a", ref("o", false))}, states)
	if len(states) != 1 {
		t.Fatalf("states changed: %v", states)
	}
}

func TestRecentDeletes(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRecentDeletes(func() time.Time { return now })
	if r.has("a") {
		t.Fatal("empty set has a")
	}
	r.add("a")
	now = now.Add(recentTTL - time.Second)
	r.add("b")
	if !r.has("a") || !r.has("b") {
		t.Fatal("recent deletes forgotten too early")
	}
	now = now.Add(2 * time.Second)
	if r.has("a") || !r.has("b") {
		t.Fatal("a should have expired, b not")
	}
	r.add("c")
	if _, ok := r.at["a"]; ok {
		t.Fatal("expired entry not pruned")
	}
}
