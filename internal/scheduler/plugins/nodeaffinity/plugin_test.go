package nodeaffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	helper "k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

func node(name string, labels map[string]string) *framework.NodeInfo {
	return framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// exprs is a term with matchExpressions.
func exprs(rs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: rs}
}

// fields is a term with matchFields.
func fields(rs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchFields: rs}
}

// podWith returns a pod with nodeSelector sel (nil for none) and required
// node affinity terms (none when required is nil).
func podWith(sel map[string]string, required []corev1.NodeSelectorTerm) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	p.Spec.NodeSelector = sel
	if required != nil {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: required},
		}}
	}
	return p
}

func terms(ts ...corev1.NodeSelectorTerm) []corev1.NodeSelectorTerm {
	if ts == nil {
		return []corev1.NodeSelectorTerm{}
	}
	return ts
}

func TestFilter(t *testing.T) {
	zoneA := map[string]string{"zone": "a", "disk": "ssd", "cores": "8"}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		node  *framework.NodeInfo
		match bool
	}{
		{"selector matches", podWith(map[string]string{"zone": "a"}, nil), node("n1", zoneA), true},
		{"selector needs every label", podWith(map[string]string{"zone": "a", "gpu": "yes"}, nil), node("n1", zoneA), false},
		{"selector value differs", podWith(map[string]string{"zone": "b"}, nil), node("n1", zoneA), false},
		{"selector empty value needs the label", podWith(map[string]string{"gpu": ""}, nil), node("n1", zoneA), false},
		{"selector empty value matches empty label", podWith(map[string]string{"gpu": ""}, nil), node("n1", map[string]string{"gpu": ""}), true},
		{"node without labels", podWith(map[string]string{"zone": "a"}, nil), node("n1", nil), false},

		{"In matches", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b", "a")))), node("n1", zoneA), true},
		{"In other value", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b", "c")))), node("n1", zoneA), false},
		{"In missing label", podWith(nil, terms(exprs(req("rack", corev1.NodeSelectorOpIn, "r1")))), node("n1", zoneA), false},
		{"In many values (set)", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b", "c", "d", "e", "f", "g", "h", "i", "j", "a")))), node("n1", zoneA), true},
		{"In many values (set), no match", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")))), node("n1", zoneA), false},
		{"NotIn other value", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpNotIn, "b")))), node("n1", zoneA), true},
		{"NotIn listed value", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpNotIn, "b", "a")))), node("n1", zoneA), false},
		{"NotIn missing label", podWith(nil, terms(exprs(req("rack", corev1.NodeSelectorOpNotIn, "r1")))), node("n1", zoneA), true},
		{"Exists", podWith(nil, terms(exprs(req("disk", corev1.NodeSelectorOpExists)))), node("n1", zoneA), true},
		{"Exists missing label", podWith(nil, terms(exprs(req("gpu", corev1.NodeSelectorOpExists)))), node("n1", zoneA), false},
		{"DoesNotExist", podWith(nil, terms(exprs(req("gpu", corev1.NodeSelectorOpDoesNotExist)))), node("n1", zoneA), true},
		{"DoesNotExist with label", podWith(nil, terms(exprs(req("disk", corev1.NodeSelectorOpDoesNotExist)))), node("n1", zoneA), false},
		{"Gt greater", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpGt, "4")))), node("n1", zoneA), true},
		{"Gt equal", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpGt, "8")))), node("n1", zoneA), false},
		{"Gt missing label", podWith(nil, terms(exprs(req("mem", corev1.NodeSelectorOpGt, "4")))), node("n1", zoneA), false},
		{"Gt label not an integer", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpGt, "4")))), node("n1", zoneA), false},
		// "-1" is no valid label value, so Kubernetes rejects the requirement.
		{"Gt negative value is invalid", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpGt, "-1")))), node("n1", zoneA), false},
		{"Lt smaller", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpLt, "16")))), node("n1", zoneA), true},
		{"Lt equal", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpLt, "8")))), node("n1", zoneA), false},

		{"expressions are ANDed", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "a"), req("disk", corev1.NodeSelectorOpIn, "hdd")))), node("n1", zoneA), false},
		{"expressions all hold", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "a"), req("disk", corev1.NodeSelectorOpIn, "ssd")))), node("n1", zoneA), true},
		{"terms are ORed", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b")), exprs(req("disk", corev1.NodeSelectorOpIn, "ssd")))), node("n1", zoneA), true},
		{"no term matches", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "b")), exprs(req("disk", corev1.NodeSelectorOpIn, "hdd")))), node("n1", zoneA), false},

		{"selector and affinity both hold", podWith(map[string]string{"zone": "a"}, terms(exprs(req("disk", corev1.NodeSelectorOpIn, "ssd")))), node("n1", zoneA), true},
		{"selector holds, affinity not", podWith(map[string]string{"zone": "a"}, terms(exprs(req("disk", corev1.NodeSelectorOpIn, "hdd")))), node("n1", zoneA), false},
		{"affinity holds, selector not", podWith(map[string]string{"zone": "b"}, terms(exprs(req("disk", corev1.NodeSelectorOpIn, "ssd")))), node("n1", zoneA), false},

		{"matchFields name In", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n1")))), node("n1", nil), true},
		{"matchFields name In other node", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n2")))), node("n1", nil), false},
		{"matchFields name NotIn", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpNotIn, "n2")))), node("n1", nil), true},
		{"matchFields name NotIn this node", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpNotIn, "n1")))), node("n1", nil), false},
		{"matchFields In needs one value", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n1", "n2")))), node("n1", nil), false},
		{"matchFields Exists is invalid", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpExists)))), node("n1", nil), false},
		{"matchFields unknown field is empty", podWith(nil, terms(fields(req("spec.foo", corev1.NodeSelectorOpNotIn, "x")))), node("n1", nil), true},
		{"matchFields and expressions ANDed", podWith(nil, terms(corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "b")},
			MatchFields:      []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")},
		})), node("n1", zoneA), false},
		{"daemonset-style affinity", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n7")))), node("n7", zoneA), true},

		{"empty term matches nothing", podWith(nil, terms(corev1.NodeSelectorTerm{})), node("n1", zoneA), false},
		{"no terms match nothing", podWith(nil, terms()), node("n1", zoneA), false},
		{"invalid operator ignores the term", podWith(nil, terms(exprs(req("zone", "Like", "a")))), node("n1", zoneA), false},
		{"NotIn without values is invalid", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpNotIn)))), node("n1", zoneA), false},
		{"Exists with values is invalid", podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpExists, "a")))), node("n1", zoneA), false},
		{"Gt value not an integer is invalid", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpGt, "x")))), node("n1", zoneA), false},
		{"Lt two values is invalid", podWith(nil, terms(exprs(req("cores", corev1.NodeSelectorOpLt, "9", "10")))), node("n1", zoneA), false},
		{"malformed key is invalid", podWith(nil, terms(exprs(req("bad key!", corev1.NodeSelectorOpDoesNotExist)))), node("n1", zoneA), false},
		{"invalid term, valid term matches", podWith(nil, terms(exprs(req("zone", "Like", "a")), exprs(req("zone", corev1.NodeSelectorOpIn, "a")))), node("n1", zoneA), true},
		{"preferred only: no filter", &corev1.Pod{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: exprs(req("zone", corev1.NodeSelectorOpIn, "b"))}},
		}}}}, node("n1", zoneA), true},
	}
	ctx := context.Background()
	pl := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Kubernetes' own matcher must agree (parse errors count as no match).
			if want, _ := helper.GetRequiredNodeAffinity(tc.pod).Match(tc.node.Node); want != tc.match {
				t.Fatalf("test case disagrees with component-helpers: it matches %v", want)
			}
			state := framework.NewCycleState()
			pst := pl.PreFilter(ctx, state, tc.pod, []*framework.NodeInfo{tc.node})
			if pst.IsSkip() {
				if !tc.match {
					t.Fatalf("PreFilter skipped a pod that must be rejected")
				}
				return
			}
			if !pst.IsSuccess() {
				t.Fatalf("PreFilter: %v", pst.AsError())
			}
			for _, st := range []*framework.Status{
				pl.Filter(ctx, state, tc.pod, tc.node),
				pl.Filter(ctx, framework.NewCycleState(), tc.pod, tc.node), // without PreFilter
			} {
				if tc.match {
					if !st.IsSuccess() {
						t.Fatalf("Filter = %v %q, want success", st.Code(), st.Message())
					}
					continue
				}
				if st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != "node(s) didn't match Pod's node affinity/selector" {
					t.Fatalf("Filter = %v %q, want UnschedulableAndUnresolvable %q", st.Code(), st.Message(), ErrReasonPod)
				}
			}
		})
	}
}

func TestPreFilterSkip(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		skip bool
	}{
		{"bare pod", &corev1.Pod{}, true},
		{"empty nodeSelector", podWith(map[string]string{}, nil), true},
		{"affinity without node affinity", &corev1.Pod{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{}}}, true},
		{"preferred only", &corev1.Pod{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: exprs(req("a", corev1.NodeSelectorOpExists))}},
		}}}}, true},
		{"nodeSelector", podWith(map[string]string{"a": "b"}, nil), false},
		{"required affinity", podWith(nil, terms(exprs(req("a", corev1.NodeSelectorOpExists)))), false},
		{"required affinity without terms", podWith(nil, terms()), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			st := New().PreFilter(context.Background(), state, tc.pod, nil)
			if st.IsSkip() != tc.skip {
				t.Fatalf("PreFilter = %v, want skip %v", st.Code(), tc.skip)
			}
			if _, ok := state.Read(preFilterStateKey); ok == tc.skip {
				t.Fatalf("state written = %v, want %v", ok, !tc.skip)
			}
			if !tc.skip && !st.IsSuccess() {
				t.Fatalf("PreFilter = %v", st.Code())
			}
		})
	}
}

// TestStateClone checks that the state survives CycleState.Clone.
func TestStateClone(t *testing.T) {
	pod := podWith(map[string]string{"zone": "a"}, nil)
	state := framework.NewCycleState()
	if st := New().PreFilter(context.Background(), state, pod, nil); !st.IsSuccess() {
		t.Fatal(st.AsError())
	}
	c := state.Clone()
	if st := New().Filter(context.Background(), c, pod, node("n", map[string]string{"zone": "b"})); st.Code() != framework.UnschedulableAndUnresolvable {
		t.Fatalf("Filter on clone = %v", st.Code())
	}
}

func TestFilterNoAllocs(t *testing.T) {
	ctx := context.Background()
	n := node("n7", map[string]string{"zone": "a", "cores": "8"})
	pods := map[string]*corev1.Pod{
		"nodeSelector": podWith(map[string]string{"zone": "a"}, nil),
		"daemonset":    podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n7")))),
		"expressions":  podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "a", "b"), req("cores", corev1.NodeSelectorOpGt, "4")))),
	}
	for name, pod := range pods {
		state := framework.NewCycleState()
		if st := New().PreFilter(ctx, state, pod, nil); !st.IsSuccess() {
			t.Fatal(st.AsError())
		}
		allocs := testing.AllocsPerRun(100, func() {
			if st := New().Filter(ctx, state, pod, n); !st.IsSuccess() {
				t.Fatal(st.AsError())
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Filter allocates %v times per call", name, allocs)
		}
	}
}

func pref(weight int32, t corev1.NodeSelectorTerm) corev1.PreferredSchedulingTerm {
	return corev1.PreferredSchedulingTerm{Weight: weight, Preference: t}
}

func preferring(ts ...corev1.PreferredSchedulingTerm) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: ts,
	}}}}
}

func TestScore(t *testing.T) {
	nodes := []*framework.NodeInfo{
		node("a-ssd", map[string]string{"zone": "a", "disk": "ssd"}),
		node("a-hdd", map[string]string{"zone": "a", "disk": "hdd"}),
		node("b-ssd", map[string]string{"zone": "b", "disk": "ssd"}),
		node("c", map[string]string{"zone": "c"}),
	}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		skip       bool
		raw, final []int64
	}{
		{
			name: "weights add up, highest becomes 100",
			pod: preferring(
				pref(20, exprs(req("zone", corev1.NodeSelectorOpIn, "a"))),
				pref(10, exprs(req("disk", corev1.NodeSelectorOpIn, "ssd"))),
			),
			raw:   []int64{30, 20, 10, 0},
			final: []int64{100, 66, 33, 0},
		},
		{
			name: "matchFields and Gt/DoesNotExist terms",
			pod: preferring(
				pref(5, fields(req("metadata.name", corev1.NodeSelectorOpIn, "c"))),
				pref(3, exprs(req("disk", corev1.NodeSelectorOpDoesNotExist))),
			),
			raw:   []int64{0, 0, 0, 8},
			final: []int64{0, 0, 0, 100},
		},
		{
			name:  "no node matches: all 0",
			pod:   preferring(pref(50, exprs(req("zone", corev1.NodeSelectorOpIn, "z")))),
			raw:   []int64{0, 0, 0, 0},
			final: []int64{0, 0, 0, 0},
		},
		{
			name:  "every node matches: all 100",
			pod:   preferring(pref(7, exprs(req("zone", corev1.NodeSelectorOpExists)))),
			raw:   []int64{7, 7, 7, 7},
			final: []int64{100, 100, 100, 100},
		},
		{
			name: "weight 0, empty and invalid terms are ignored",
			pod: preferring(
				pref(0, exprs(req("zone", corev1.NodeSelectorOpIn, "a"))),
				pref(10, corev1.NodeSelectorTerm{}),
				pref(10, exprs(req("zone", "Like", "a"))),
				pref(4, exprs(req("zone", corev1.NodeSelectorOpNotIn, "a"))),
			),
			raw:   []int64{0, 0, 4, 4},
			final: []int64{0, 0, 100, 100},
		},
		{name: "no affinity: skip", pod: &corev1.Pod{}, skip: true},
		{name: "only weight-0 terms: skip", pod: preferring(pref(0, exprs(req("zone", corev1.NodeSelectorOpIn, "a")))), skip: true},
		{name: "required only: skip", pod: podWith(nil, terms(exprs(req("zone", corev1.NodeSelectorOpIn, "a")))), skip: true},
	}
	ctx := context.Background()
	pl := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			st := pl.PreScore(ctx, state, tc.pod, nodes)
			if st.IsSkip() != tc.skip {
				t.Fatalf("PreScore = %v, want skip %v", st.Code(), tc.skip)
			}
			if tc.skip {
				return
			}
			scores := make([]framework.NodeScore, len(nodes))
			for i, n := range nodes {
				s, st := pl.Score(ctx, state, tc.pod, n)
				if !st.IsSuccess() {
					t.Fatal(st.AsError())
				}
				if s != tc.raw[i] {
					t.Errorf("Score(%s) = %d, want %d", n.Name(), s, tc.raw[i])
				}
				// Without PreScore's state the score is the same.
				if s2, _ := pl.Score(ctx, framework.NewCycleState(), tc.pod, n); s2 != s {
					t.Errorf("Score(%s) without state = %d, want %d", n.Name(), s2, s)
				}
				scores[i] = framework.NodeScore{Name: n.Name(), Score: s}
			}
			if st := pl.NormalizeScore(ctx, state, tc.pod, scores); !st.IsSuccess() {
				t.Fatal(st.AsError())
			}
			for i := range scores {
				if scores[i].Score != tc.final[i] {
					t.Errorf("normalized %s = %d, want %d", scores[i].Name, scores[i].Score, tc.final[i])
				}
			}
		})
	}
}

// TestScoreMatchesKubernetes compares raw scores with component-helpers on
// valid terms.
func TestScoreMatchesKubernetes(t *testing.T) {
	pod := preferring(
		pref(1, exprs(req("zone", corev1.NodeSelectorOpIn, "a", "b"))),
		pref(2, exprs(req("cores", corev1.NodeSelectorOpGt, "4"), req("disk", corev1.NodeSelectorOpExists))),
		pref(4, exprs(req("cores", corev1.NodeSelectorOpLt, "4"))),
		pref(8, fields(req("metadata.name", corev1.NodeSelectorOpNotIn, "n1"))),
		pref(16, exprs(req("gpu", corev1.NodeSelectorOpDoesNotExist))),
	)
	want, err := helper.NewPreferredSchedulingTerms(pod.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		t.Fatal(err)
	}
	m := newPreferredMatcher(pod)
	for i, labels := range []map[string]string{
		nil,
		{"zone": "a", "cores": "8", "disk": "ssd"},
		{"zone": "c", "cores": "2", "gpu": "x"},
		{"zone": "b", "cores": "x", "disk": "hdd"},
	} {
		for _, name := range []string{"n1", "n2"} {
			n := node(name, labels).Node
			if got, w := m.score(n), want.Score(n); got != w {
				t.Errorf("labels #%d node %s: score %d, Kubernetes %d", i, name, got, w)
			}
		}
	}
}

func TestScoreNoAllocs(t *testing.T) {
	ctx := context.Background()
	pod := preferring(pref(20, exprs(req("zone", corev1.NodeSelectorOpIn, "a"))), pref(10, exprs(req("disk", corev1.NodeSelectorOpExists))))
	n := node("n", map[string]string{"zone": "a", "disk": "ssd"})
	state := framework.NewCycleState()
	if st := New().PreScore(ctx, state, pod, nil); !st.IsSuccess() {
		t.Fatal(st.AsError())
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = New().Score(ctx, state, pod, n) }); allocs != 0 {
		t.Errorf("Score allocates %v times per call", allocs)
	}
}

func TestNilNode(t *testing.T) {
	pod := podWith(map[string]string{"a": "b"}, nil)
	if st := New().Filter(context.Background(), framework.NewCycleState(), pod, &framework.NodeInfo{}); st.Code() != framework.Error {
		t.Fatalf("Filter on a NodeInfo without node = %v, want Error", st.Code())
	}
}

func BenchmarkFilter(b *testing.B) {
	ctx := context.Background()
	n := node("n7", map[string]string{"zone": "a", "kubernetes.io/hostname": "n7"})
	for _, bc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"nodeSelector", podWith(map[string]string{"zone": "a"}, nil)},
		{"daemonset", podWith(nil, terms(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n7"))))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pl := New()
			state := framework.NewCycleState()
			pl.PreFilter(ctx, state, bc.pod, nil)
			b.ReportAllocs()
			for b.Loop() {
				if st := pl.Filter(ctx, state, bc.pod, n); !st.IsSuccess() {
					b.Fatal(st.AsError())
				}
			}
		})
	}
}
