package interpodantiaffinity

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

const (
	hostname = "kubernetes.io/hostname"
	zone     = "topology.kubernetes.io/zone"
)

// mkNode returns a node labelled with its hostname (unless noHost) and
// zone (unless z is empty).
func mkNode(name, z string, noHost bool) *framework.NodeInfo {
	labels := map[string]string{}
	if !noHost {
		labels[hostname] = name
	}
	if z != "" {
		labels[zone] = z
	}
	return framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
}

// mkPod returns a pod with labels and required anti-affinity terms.
func mkPod(name, ns string, labels map[string]string, terms ...corev1.PodAffinityTerm) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(ns + "/" + name), Labels: labels}}
	if len(terms) > 0 {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	}
	return p
}

// term returns a term selecting labels sel (a nil map gives a nil selector).
func term(key string, sel map[string]string, namespaces ...string) corev1.PodAffinityTerm {
	t := corev1.PodAffinityTerm{TopologyKey: key, Namespaces: namespaces}
	if sel != nil {
		t.LabelSelector = &metav1.LabelSelector{MatchLabels: sel}
	}
	return t
}

func withNSSelector(t corev1.PodAffinityTerm, sel *metav1.LabelSelector) corev1.PodAffinityTerm {
	t.NamespaceSelector = sel
	return t
}

func exprTerm(key string, exprs ...metav1.LabelSelectorRequirement) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchExpressions: exprs}}
}

func deleting(p *corev1.Pod) *corev1.Pod {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

var web = map[string]string{"app": "web"}

// placed is a pod on a node of the test cluster.
type placed struct {
	node string
	pod  *corev1.Pod
}

// cluster builds n1, n2 (zone a), n3 (zone b), n4 (no zone) and n5 (no
// labels at all) with the pods placed on them.
func cluster(pods ...placed) []*framework.NodeInfo {
	nodes := []*framework.NodeInfo{mkNode("n1", "a", false), mkNode("n2", "a", false), mkNode("n3", "b", false), mkNode("n4", "", false), mkNode("n5", "", true)}
	for _, p := range pods {
		for _, n := range nodes {
			if n.Name() == p.node {
				n.AddPod(framework.NewPodInfo(p.pod))
			}
		}
	}
	return nodes
}

const (
	mine   = ErrReasonAntiAffinityRulesNotMatch
	theirs = ErrReasonExistingAntiAffinityRulesNotMatch
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name     string
		existing []placed
		pod      *corev1.Pod
		// rejected maps the rejected nodes to the reason; others must fit.
		rejected map[string]string
	}{
		{
			name:     "hostname: node with a matching pod",
			existing: []placed{{"n1", mkPod("w", "default", web)}, {"n3", mkPod("db", "default", map[string]string{"app": "db"})}},
			pod:      mkPod("p", "default", web, term(hostname, web)),
			rejected: map[string]string{"n1": mine},
		},
		{
			name:     "zone: every node of the zone",
			existing: []placed{{"n1", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", web, term(zone, web)),
			rejected: map[string]string{"n1": mine, "n2": mine},
		},
		{
			name:     "zone: pod on a node without zone label forbids nothing",
			existing: []placed{{"n4", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", web, term(zone, web)),
		},
		{
			name:     "terms with hostname and zone",
			existing: []placed{{"n1", mkPod("w", "default", web)}, {"n4", mkPod("c", "default", map[string]string{"app": "cache"})}},
			pod:      mkPod("p", "default", nil, term(zone, web), term(hostname, map[string]string{"app": "cache"})),
			rejected: map[string]string{"n1": mine, "n2": mine, "n4": mine},
		},
		{
			name:     "pod being deleted still counts",
			existing: []placed{{"n2", deleting(mkPod("w", "default", web))}},
			pod:      mkPod("p", "default", nil, term(hostname, web)),
			rejected: map[string]string{"n2": mine},
		},
		{
			name:     "namespace: default is the pod's own",
			existing: []placed{{"n1", mkPod("w", "other", web)}, {"n3", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, term(hostname, web)),
			rejected: map[string]string{"n3": mine},
		},
		{
			name:     "namespace: listed namespaces replace the pod's own",
			existing: []placed{{"n1", mkPod("w", "other", web)}, {"n3", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, term(hostname, web, "other", "third")),
			rejected: map[string]string{"n1": mine},
		},
		{
			name:     "namespace: empty namespaceSelector means all",
			existing: []placed{{"n1", mkPod("w", "other", web)}, {"n3", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, withNSSelector(term(hostname, web), &metav1.LabelSelector{})),
			rejected: map[string]string{"n1": mine, "n3": mine},
		},
		{
			name:     "namespace: non-empty namespaceSelector is ignored",
			existing: []placed{{"n1", mkPod("w", "other", web)}, {"n3", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, withNSSelector(term(hostname, web), &metav1.LabelSelector{MatchLabels: map[string]string{"team": "x"}})),
		},
		{
			name:     "namespace: non-empty namespaceSelector with namespaces",
			existing: []placed{{"n1", mkPod("w", "other", web)}, {"n3", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, withNSSelector(term(hostname, web, "other"), &metav1.LabelSelector{MatchLabels: map[string]string{"team": "x"}})),
			rejected: map[string]string{"n1": mine},
		},
		{
			name:     "nil labelSelector selects nothing",
			existing: []placed{{"n1", mkPod("w", "default", web)}},
			pod:      mkPod("p", "default", nil, term(hostname, nil)),
		},
		{
			name:     "empty labelSelector selects every pod of the namespace",
			existing: []placed{{"n1", mkPod("w", "default", web)}, {"n3", mkPod("x", "default", nil)}, {"n4", mkPod("y", "other", nil)}},
			pod:      mkPod("p", "default", nil, term(hostname, map[string]string{})),
			rejected: map[string]string{"n1": mine, "n3": mine},
		},
		{
			name: "matchExpressions In, NotIn, Exists, DoesNotExist",
			existing: []placed{
				{"n1", mkPod("a", "default", map[string]string{"app": "web", "tier": "fe"})},
				{"n2", mkPod("b", "default", map[string]string{"app": "web", "tier": "be"})},
				{"n3", mkPod("c", "default", map[string]string{"app": "web", "tier": "fe", "canary": "1"})},
				{"n4", mkPod("d", "default", map[string]string{"app": "api", "tier": "fe"})},
			},
			pod: mkPod("p", "default", nil, exprTerm(hostname,
				metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "x"}},
				metav1.LabelSelectorRequirement{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"be"}},
				metav1.LabelSelectorRequirement{Key: "tier", Operator: metav1.LabelSelectorOpExists},
				metav1.LabelSelectorRequirement{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
			)),
			rejected: map[string]string{"n1": mine},
		},
		{
			name: "matchLabelKeys and mismatchLabelKeys",
			existing: []placed{
				{"n1", mkPod("a", "default", map[string]string{"app": "web", "hash": "old", "tenant": "t1"})},
				{"n2", mkPod("b", "default", map[string]string{"app": "web", "hash": "new", "tenant": "t1"})},
				{"n3", mkPod("c", "default", map[string]string{"app": "web", "hash": "new", "tenant": "t2"})},
				{"n4", mkPod("d", "default", map[string]string{"app": "web", "hash": "new"})},
			},
			pod: mkPod("p", "default", map[string]string{"app": "web", "hash": "new", "tenant": "t1"}, corev1.PodAffinityTerm{
				TopologyKey: hostname, LabelSelector: &metav1.LabelSelector{MatchLabels: web},
				MatchLabelKeys: []string{"hash", "absent"}, MismatchLabelKeys: []string{"tenant"},
			}),
			rejected: map[string]string{"n3": mine, "n4": mine},
		},
		{
			name:     "symmetry: hostname",
			existing: []placed{{"n3", mkPod("e", "default", nil, term(hostname, web))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n3": theirs},
		},
		{
			name:     "symmetry: zone",
			existing: []placed{{"n2", mkPod("e", "default", nil, term(zone, web))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n1": theirs, "n2": theirs},
		},
		{
			name:     "symmetry: zone term on a node without zone forbids nothing",
			existing: []placed{{"n5", mkPod("e", "default", nil, term(zone, web), term(hostname, web))}},
			pod:      mkPod("p", "default", web),
		},
		{
			name:     "symmetry: pod not matching the term",
			existing: []placed{{"n3", mkPod("e", "default", nil, term(hostname, web))}},
			pod:      mkPod("p", "default", map[string]string{"app": "db"}),
		},
		{
			name:     "symmetry: the existing pod's namespace is the default",
			existing: []placed{{"n1", mkPod("e", "other", nil, term(hostname, web))}, {"n3", mkPod("f", "default", nil, term(hostname, web))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n3": theirs},
		},
		{
			name:     "symmetry: the existing pod's namespaces",
			existing: []placed{{"n1", mkPod("e", "other", nil, term(hostname, web, "default"))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n1": theirs},
		},
		{
			name:     "symmetry: empty namespaceSelector",
			existing: []placed{{"n1", mkPod("e", "other", nil, withNSSelector(term(hostname, web), &metav1.LabelSelector{}))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n1": theirs},
		},
		{
			name:     "symmetry: matchLabelKeys take the existing pod's values",
			existing: []placed{{"n1", mkPod("e", "default", map[string]string{"hash": "old"}, corev1.PodAffinityTerm{TopologyKey: hostname, LabelSelector: &metav1.LabelSelector{MatchLabels: web}, MatchLabelKeys: []string{"hash"}})}},
			pod:      mkPod("p", "default", map[string]string{"app": "web", "hash": "new"}),
		},
		{
			name:     "symmetry: pod being deleted still counts",
			existing: []placed{{"n3", deleting(mkPod("e", "default", nil, term(hostname, web)))}},
			pod:      mkPod("p", "default", web),
			rejected: map[string]string{"n3": theirs},
		},
		{
			name:     "both directions; own terms are reported first",
			existing: []placed{{"n1", mkPod("w", "default", web, term(hostname, map[string]string{"app": "api"}))}, {"n3", mkPod("e", "default", nil, term(hostname, map[string]string{"app": "api"}))}},
			pod:      mkPod("p", "default", map[string]string{"app": "api"}, term(hostname, web)),
			rejected: map[string]string{"n1": mine, "n3": theirs},
		},
		{
			name:     "pod affinity is ignored",
			existing: []placed{{"n1", mkPod("w", "default", web)}},
			pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{Affinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term(hostname, map[string]string{"app": "none"})},
			}}}},
		},
	}
	ctx := context.Background()
	pl := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes := cluster(tc.existing...)
			state := framework.NewCycleState()
			st := pl.PreFilter(ctx, state, tc.pod, nodes)
			if st.IsSkip() {
				if len(tc.rejected) > 0 {
					t.Fatal("PreFilter skipped")
				}
				return
			}
			if !st.IsSuccess() {
				t.Fatalf("PreFilter: %v %q", st.Code(), st.Message())
			}
			for _, n := range nodes {
				st := pl.Filter(ctx, state, tc.pod, n)
				want, rejected := tc.rejected[n.Name()]
				switch {
				case !rejected && !st.IsSuccess():
					t.Errorf("%s: Filter = %v %q, want success", n.Name(), st.Code(), st.Message())
				case rejected && (st.Code() != framework.Unschedulable || st.Message() != want):
					t.Errorf("%s: Filter = %v %q, want Unschedulable %q", n.Name(), st.Code(), st.Message(), want)
				}
			}
		})
	}
}

func TestPreFilter(t *testing.T) {
	anti := mkPod("e", "default", nil, term(hostname, map[string]string{"app": "x"}))
	tests := []struct {
		name     string
		existing []placed
		pod      *corev1.Pod
		code     framework.Code
	}{
		{name: "ordinary pod, no anti-affinity anywhere", existing: []placed{{"n1", mkPod("w", "default", web)}}, pod: mkPod("p", "default", nil), code: framework.Skip},
		{name: "ordinary pod, anti-affinity pod somewhere", existing: []placed{{"n1", anti}}, pod: mkPod("p", "default", nil), code: framework.Success},
		{name: "pod with anti-affinity", pod: mkPod("p", "default", nil, term(hostname, web)), code: framework.Success},
		{
			name: "invalid selector",
			pod:  mkPod("p", "default", nil, exprTerm(hostname, metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpIn})),
			code: framework.UnschedulableAndUnresolvable,
		},
		{
			name: "invalid namespace selector",
			pod:  mkPod("p", "default", nil, withNSSelector(term(hostname, web), &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Like"}}})),
			code: framework.UnschedulableAndUnresolvable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			st := New().PreFilter(context.Background(), state, tc.pod, cluster(tc.existing...))
			if st.Code() != tc.code {
				t.Fatalf("PreFilter = %v %q, want %v", st.Code(), st.Message(), tc.code)
			}
			if _, ok := state.Read(stateKey); ok != (tc.code == framework.Success) {
				t.Fatalf("state stored = %v", ok)
			}
		})
	}
}

func TestFilterWithoutState(t *testing.T) {
	st := New().Filter(context.Background(), framework.NewCycleState(), mkPod("p", "default", nil), mkNode("n", "", false))
	if st.Code() != framework.Error {
		t.Fatalf("Filter without PreFilter = %v, want Error", st.Code())
	}
}

// TestPreemption replays what preemption does: clone the state, remove
// pods from a copy of a node, rerun PreFilter on the nodes with the copy.
func TestPreemption(t *testing.T) {
	ctx := context.Background()
	pl := New()
	for _, tc := range []struct {
		name   string
		victim *corev1.Pod
		pod    *corev1.Pod
		reason string
	}{
		{"incoming pod's anti-affinity", mkPod("w", "default", web), mkPod("p", "default", nil, term(hostname, web)), mine},
		{"existing pod's anti-affinity", mkPod("e", "default", nil, term(hostname, web)), mkPod("p", "default", web), theirs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := cluster(placed{"n1", tc.victim})
			state := framework.NewCycleState()
			// Another plugin skipped: the state's skip set exists and is
			// shared by its clones.
			fw, err := framework.New("p", []framework.WeightedPlugin{{Plugin: skipper{}}, {Plugin: pl}, {Plugin: binder{}}})
			if err != nil {
				t.Fatal(err)
			}
			if st := fw.RunPreFilterPlugins(ctx, state, tc.pod, nodes); !st.IsSuccess() {
				t.Fatal(st.AsError())
			}
			if st := fw.RunFilterPlugins(ctx, state, tc.pod, nodes[0]); st.Message() != tc.reason {
				t.Fatalf("Filter = %q, want %q", st.Message(), tc.reason)
			}
			trial := nodes[0].Clone()
			trial.RemovePod(tc.victim.UID)
			modified := append([]*framework.NodeInfo{trial}, nodes[1:]...)
			clone := state.Clone()
			if st := fw.RunPreFilterPlugins(ctx, clone, tc.pod, modified); !st.IsSuccess() {
				t.Fatal(st.AsError())
			}
			if st := fw.RunFilterPlugins(ctx, clone, tc.pod, trial); !st.IsSuccess() {
				t.Fatalf("Filter after removing the victim = %q, want success", st.Message())
			}
			// The original state is untouched.
			if st := fw.RunFilterPlugins(ctx, state, tc.pod, nodes[0]); st.Message() != tc.reason {
				t.Fatalf("Filter on the original state = %q, want %q", st.Message(), tc.reason)
			}
		})
	}
}

// skipper is a pre-filter that always skips.
type skipper struct{}

func (skipper) Name() string { return "Skipper" }
func (skipper) PreFilter(context.Context, *framework.CycleState, *corev1.Pod, []*framework.NodeInfo) *framework.Status {
	return framework.NewStatus(framework.Skip)
}
func (skipper) Filter(context.Context, *framework.CycleState, *corev1.Pod, *framework.NodeInfo) *framework.Status {
	return framework.NewStatus(framework.Error, "skipped filter called")
}

// binder satisfies framework.New.
type binder struct{}

func (binder) Name() string { return "Binder" }
func (binder) Bind(context.Context, *framework.CycleState, *corev1.Pod, string) *framework.Status {
	return nil
}

func TestFilterNoAllocs(t *testing.T) {
	ctx := context.Background()
	nodes := cluster(placed{"n1", mkPod("e", "default", nil, term(hostname, map[string]string{"app": "x"}))}, placed{"n3", mkPod("w", "default", web)})
	for name, pod := range map[string]*corev1.Pod{
		"ordinary pod":      mkPod("p", "default", nil),
		"anti-affinity pod": mkPod("p", "default", nil, term(zone, web), term(hostname, web)),
	} {
		state := framework.NewCycleState()
		if st := New().PreFilter(ctx, state, pod, nodes); !st.IsSuccess() {
			t.Fatal(st.AsError())
		}
		for _, n := range nodes {
			if !New().Filter(ctx, state, pod, n).IsSuccess() {
				continue // a rejection allocates its status
			}
			if allocs := testing.AllocsPerRun(100, func() { _ = New().Filter(ctx, state, pod, n) }); allocs != 0 {
				t.Errorf("%s on %s: Filter allocates %v times per call", name, n.Name(), allocs)
			}
		}
	}
}

// bigCluster returns nodes with 10 pods each (app=app-<i%50>) in 10
// zones; every node holds one pod with hostname anti-affinity.
func bigCluster(nodes int) []*framework.NodeInfo {
	out := make([]*framework.NodeInfo, nodes)
	for i := range out {
		name := fmt.Sprintf("node-%d", i)
		n := mkNode(name, fmt.Sprintf("zone-%d", i%10), false)
		for j := range 10 {
			labels := map[string]string{"app": fmt.Sprintf("app-%d", (i+j)%50)}
			var p *corev1.Pod
			if j == 0 {
				p = mkPod(fmt.Sprintf("%s-%d", name, j), "default", labels, term(hostname, labels))
			} else {
				p = mkPod(fmt.Sprintf("%s-%d", name, j), "default", labels)
			}
			n.AddPod(framework.NewPodInfo(p))
		}
		out[i] = n
	}
	return out
}

func BenchmarkPreFilter(b *testing.B) {
	ctx := context.Background()
	nodes := bigCluster(5000)
	for _, bc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"ordinary-pod", mkPod("p", "default", map[string]string{"app": "other"})},
		{"hostname-anti-affinity", mkPod("p", "default", map[string]string{"app": "app-7"}, term(hostname, map[string]string{"app": "app-7"}))},
		{"zone-anti-affinity", mkPod("p", "default", map[string]string{"app": "app-7"}, term(zone, map[string]string{"app": "app-7"}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pl := New()
			b.ReportAllocs()
			for b.Loop() {
				if st := pl.PreFilter(ctx, framework.NewCycleState(), bc.pod, nodes); !st.IsSuccess() {
					b.Fatal(st.AsError())
				}
			}
		})
	}
}

func BenchmarkFilter(b *testing.B) {
	ctx := context.Background()
	nodes := bigCluster(100)
	for _, bc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"ordinary-pod", mkPod("p", "default", map[string]string{"app": "other"})},
		{"hostname-anti-affinity", mkPod("p", "default", map[string]string{"app": "other"}, term(hostname, map[string]string{"app": "app-7"}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pl := New()
			state := framework.NewCycleState()
			if st := pl.PreFilter(ctx, state, bc.pod, nodes); !st.IsSuccess() {
				b.Fatal(st.AsError())
			}
			n := nodes[90] // holds app-40..app-49: accepted
			b.ReportAllocs()
			for b.Loop() {
				_ = pl.Filter(ctx, state, bc.pod, n)
			}
		})
	}
}
