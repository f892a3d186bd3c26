package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/scheduler/framework"
)

// ptModel is a naive O(n) reference implementation of a policy, written
// straight from the policies' documented rules.
type ptModel interface {
	push(p *QueuedPod)
	pop() *QueuedPod
	update(p *QueuedPod) bool
	remove(key string) bool
	size() int
}

// ptListModel keeps pods in a slice and pops the least by less.
type ptListModel struct {
	less func(a, b *QueuedPod) bool
	pods []*QueuedPod
}

func (m *ptListModel) push(p *QueuedPod) { m.pods = append(m.pods, p) }
func (m *ptListModel) size() int         { return len(m.pods) }
func (m *ptListModel) pop() *QueuedPod {
	if len(m.pods) == 0 {
		return nil
	}
	best := 0
	for i := range m.pods {
		if m.less(m.pods[i], m.pods[best]) {
			best = i
		}
	}
	p := m.pods[best]
	m.pods = slices.Delete(m.pods, best, best+1)
	return p
}
func (m *ptListModel) update(p *QueuedPod) bool {
	for i := range m.pods {
		if m.pods[i].Key == p.Key {
			m.pods[i] = p
			return true
		}
	}
	return false
}
func (m *ptListModel) remove(key string) bool {
	for i := range m.pods {
		if m.pods[i].Key == key {
			m.pods = slices.Delete(m.pods, i, i+1)
			return true
		}
	}
	return false
}

func ptRefFCFS(a, b *QueuedPod) bool {
	ca, cb := a.Pod.CreationTimestamp.Unix(), b.Pod.CreationTimestamp.Unix()
	if ca != cb {
		return ca < cb
	}
	return a.Seq < b.Seq
}

func ptRefPriority(a, b *QueuedPod) bool {
	pa, pb := int32(0), int32(0)
	if a.Pod.Spec.Priority != nil {
		pa = *a.Pod.Spec.Priority
	}
	if b.Pod.Spec.Priority != nil {
		pb = *b.Pod.Spec.Priority
	}
	if pa != pb {
		return pa > pb
	}
	return ptRefFCFS(a, b)
}

func ptRefSJF(cfg SJFConfig) func(a, b *QueuedPod) bool {
	rank := func(p *QueuedPod) float64 {
		d := cfg.DefaultDuration.Seconds()
		if s, ok := parseExpectedDuration(p.Pod.Annotations[ExpectedDurationAnnotation]); ok {
			d = s
		}
		return d + cfg.AgingFactor*float64(p.Pod.CreationTimestamp.Unix())
	}
	return func(a, b *QueuedPod) bool {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		qa, _ := framework.PodRequests(a.Pod)
		qb, _ := framework.PodRequests(b.Pod)
		if qa.MilliCPU != qb.MilliCPU {
			return qa.MilliCPU < qb.MilliCPU
		}
		if qa.Memory != qb.Memory {
			return qa.Memory < qb.Memory
		}
		return a.Seq < b.Seq
	}
}

// ptRRModel is a naive round-robin: ring of queue names, FCFS lists.
type ptRRModel struct {
	label  string
	ring   []string
	queues map[string]*ptListModel
}

func (m *ptRRModel) queueOf(p *QueuedPod) string {
	if v := p.Pod.Labels[m.label]; m.label != "" && v != "" {
		return v
	}
	return p.Pod.Namespace
}
func (m *ptRRModel) size() int {
	n := 0
	for _, q := range m.queues {
		n += q.size()
	}
	return n
}
func (m *ptRRModel) push(p *QueuedPod) {
	name := m.queueOf(p)
	if m.queues[name] == nil {
		m.queues[name] = &ptListModel{less: ptRefFCFS}
		m.ring = append(m.ring, name)
	}
	m.queues[name].push(p)
}
func (m *ptRRModel) pop() *QueuedPod {
	if len(m.ring) == 0 {
		return nil
	}
	name := m.ring[0]
	m.ring = m.ring[1:]
	p := m.queues[name].pop()
	if m.queues[name].size() == 0 {
		delete(m.queues, name)
	} else {
		m.ring = append(m.ring, name)
	}
	return p
}
func (m *ptRRModel) removeFrom(name, key string) {
	m.queues[name].remove(key)
	if m.queues[name].size() == 0 {
		delete(m.queues, name)
		m.ring = slices.DeleteFunc(m.ring, func(n string) bool { return n == name })
	}
}
func (m *ptRRModel) find(key string) string {
	for name, q := range m.queues {
		for _, p := range q.pods {
			if p.Key == key {
				return name
			}
		}
	}
	return ""
}
func (m *ptRRModel) update(p *QueuedPod) bool {
	name := m.find(p.Key)
	if name == "" {
		return false
	}
	if m.queueOf(p) == name {
		return m.queues[name].update(p)
	}
	m.removeFrom(name, p.Key)
	m.push(p)
	return true
}
func (m *ptRRModel) remove(key string) bool {
	name := m.find(key)
	if name == "" {
		return false
	}
	m.removeFrom(name, key)
	return true
}

// ptRandomPod returns a random pod drawn from small value sets so that
// ties are frequent.
func ptRandomPod(r *rand.Rand, ns, name string, seq uint64) *QueuedPod {
	var opts []ptOpt
	switch r.IntN(5) {
	case 0:
		opts = append(opts, ptPrio(10))
	case 1:
		opts = append(opts, ptPrio(-1))
	case 2:
		opts = append(opts, ptPrio(0))
	}
	durs := []string{"", "30s", "90", "1h", "2h", "bad", "-1s", "1.5", "59m"}
	if d := durs[r.IntN(len(durs))]; d != "" {
		opts = append(opts, ptDur(d))
	}
	if v := []string{"", "x", "y", "z"}[r.IntN(4)]; v != "" {
		opts = append(opts, ptLabel("team", v))
	}
	cpus := []string{"", "100m", "250m"}
	mems := []string{"", "64Mi", "128Mi"}
	opts = append(opts, ptReq(cpus[r.IntN(3)], mems[r.IntN(3)]))
	created := int64(r.IntN(8)) * int64([]int{1, 60, 1800}[r.IntN(3)])
	opts = append(opts, ptNanos(int64(r.IntN(1e9))))
	return ptQP(ns, name, created, seq, opts...)
}

// TestPolicyProperties drives every policy and its reference model with
// the same random operations: every pop must match the model, so each
// pushed pod is popped exactly once (unless deleted), in the documented
// order, and Len, Update and Delete agree.
func TestPolicyProperties(t *testing.T) {
	sjfCfg := DefaultSJFConfig()
	sjfNoAging := SJFConfig{DefaultDuration: 10 * time.Minute}
	policies := []struct {
		name   string
		policy func() Policy
		model  func() ptModel
	}{
		{"fcfs", NewFCFS, func() ptModel { return &ptListModel{less: ptRefFCFS} }},
		{"priority", NewPriority, func() ptModel { return &ptListModel{less: ptRefPriority} }},
		{"sjf", func() Policy { return NewSJF(sjfCfg) }, func() ptModel { return &ptListModel{less: ptRefSJF(sjfCfg)} }},
		{"sjf-no-aging", func() Policy { return NewSJF(sjfNoAging) }, func() ptModel { return &ptListModel{less: ptRefSJF(sjfNoAging)} }},
		{"round-robin-ns", func() Policy { return NewRoundRobin(RoundRobinConfig{}) },
			func() ptModel { return &ptRRModel{queues: map[string]*ptListModel{}} }},
		{"round-robin-label", func() Policy { return NewRoundRobin(RoundRobinConfig{QueueLabel: "team"}) },
			func() ptModel { return &ptRRModel{label: "team", queues: map[string]*ptListModel{}} }},
	}
	for _, pc := range policies {
		t.Run(pc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 42))
				p, m := pc.policy(), pc.model()
				var seq uint64
				pushed := map[string]*QueuedPod{} // keys ever pushed, latest version
				popped := map[string]int{}
				deleted := map[string]bool{}
				live := []string{}
				for step := range 2000 {
					ctx := func() string { return fmt.Sprintf("seed %d step %d", seed, step) }
					switch op := r.IntN(10); {
					case op < 4: // push a new pod
						seq++
						qp := ptRandomPod(r, fmt.Sprintf("ns%d", r.IntN(4)), fmt.Sprintf("p%d", seq), seq)
						p.Push(qp)
						m.push(qp)
						pushed[qp.Key] = qp
						live = append(live, qp.Key)
					case op < 7: // pop
						got, want := p.Pop(), m.pop()
						if (got == nil) != (want == nil) || (got != nil && got.Key != want.Key) {
							t.Fatalf("%s: Pop = %v, model %v", ctx(), ptKeyOf(got), ptKeyOf(want))
						}
						if got != nil {
							popped[got.Key]++
							if popped[got.Key] > 1 || deleted[got.Key] {
								t.Fatalf("%s: %s popped again or after delete", ctx(), got.Key)
							}
							if got != pushed[got.Key] {
								t.Fatalf("%s: %s popped an old version", ctx(), got.Key)
							}
							live = slices.DeleteFunc(live, func(k string) bool { return k == got.Key })
						}
					case op < 9: // update a live pod, or one that is gone
						var key string
						if len(live) > 0 && r.IntN(5) > 0 {
							key = live[r.IntN(len(live))]
						} else {
							key = fmt.Sprintf("gone/p%d", r.IntN(100))
						}
						old := pushed[key]
						var qp *QueuedPod
						if old != nil {
							qp = ptRandomPod(r, old.Pod.Namespace, old.Pod.Name, old.Seq)
						} else {
							qp = ptRandomPod(r, "gone", key[len("gone/"):], 0)
						}
						got, want := p.Update(qp), m.update(qp)
						if got != want {
							t.Fatalf("%s: Update(%s) = %v, model %v", ctx(), key, got, want)
						}
						if got {
							pushed[key] = qp
						}
					default: // delete
						var key string
						if len(live) > 0 && r.IntN(4) > 0 {
							key = live[r.IntN(len(live))]
						} else {
							key = fmt.Sprintf("ns%d/p%d", r.IntN(4), r.IntN(int(seq)+1))
						}
						got, want := p.Delete(key), m.remove(key)
						if got != want {
							t.Fatalf("%s: Delete(%s) = %v, model %v", ctx(), key, got, want)
						}
						if got {
							deleted[key] = true
							live = slices.DeleteFunc(live, func(k string) bool { return k == key })
						}
					}
					if p.Len() != m.size() || p.Len() != len(live) {
						t.Fatalf("%s: Len = %d, model %d, live %d", ctx(), p.Len(), m.size(), len(live))
					}
				}
				// Drain: still matching the model.
				for {
					got, want := p.Pop(), m.pop()
					if (got == nil) != (want == nil) || (got != nil && got.Key != want.Key) {
						t.Fatalf("seed %d drain: Pop = %v, model %v", seed, ptKeyOf(got), ptKeyOf(want))
					}
					if got == nil {
						break
					}
					popped[got.Key]++
				}
				for key := range pushed {
					if want := map[bool]int{true: 0, false: 1}[deleted[key]]; popped[key] != want {
						t.Fatalf("seed %d: %s popped %d times, want %d", seed, key, popped[key], want)
					}
				}
			}
		})
	}
}

func ptKeyOf(p *QueuedPod) string {
	if p == nil {
		return "<nil>"
	}
	return p.Key
}

// BenchmarkPolicyPushPop pushes 10,000 pods into each policy, then pops
// them all; ns/op is for the 10,000 pushes and pops, ns/pod per pod.
func BenchmarkPolicyPushPop(b *testing.B) {
	const n = 10_000
	r := rand.New(rand.NewPCG(1, 2))
	pods := make([]*QueuedPod, n)
	for i := range pods {
		pods[i] = ptRandomPod(r, fmt.Sprintf("ns%d", r.IntN(20)), fmt.Sprintf("p%d", i), uint64(i))
	}
	for _, name := range PolicyNames {
		b.Run(name, func(b *testing.B) {
			cfg := DefaultPolicyConfig()
			for b.Loop() {
				p, err := NewPolicy(name, cfg)
				if err != nil {
					b.Fatal(err)
				}
				for _, qp := range pods {
					p.Push(qp)
				}
				for range n {
					if p.Pop() == nil {
						b.Fatal("Pop = nil")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/pod")
		})
	}
}
