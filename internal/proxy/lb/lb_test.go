package lb

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// clock is a manual clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newBalancer(t *testing.T, policy string, eps ...Endpoint) (*Balancer, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1e9, 0)}
	r := rand.New(rand.NewPCG(1, 2))
	b, err := New(Config{Policy: policy, Now: c.now, Rand: r.IntN})
	if err != nil {
		t.Fatal(err)
	}
	b.Update(eps)
	return b, c
}

func three(weights ...int) []Endpoint {
	eps := []Endpoint{{Addr: "10.0.0.1:80"}, {Addr: "10.0.0.2:80"}, {Addr: "10.0.0.3:80"}}
	for i, w := range weights {
		eps[i].Weight = w
	}
	return eps
}

// counts picks n times (each finished at once) and counts per address.
func counts(t *testing.T, b *Balancer, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		p, err := b.Pick("", nil)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Addr()]++
		p.Done(Success, time.Millisecond)
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", RoundRobin, ""}, {"random", Random, ""}, {"p2c-ewma", P2CEWMA, ""},
		{"fastest", "", `unknown load-balancing policy "fastest": want one of random, round-robin, weighted, least-connections, p2c-ewma`},
	} {
		got, err := ParsePolicy(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("ParsePolicy(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 1, true}, {"3", 3, true}, {"1000", 1000, true}, {"0", 0, false}, {"-2", 0, false}, {"1.5", 0, false}, {"abc", 0, false}, {"1001", 0, false}, {"2x", 0, false},
	} {
		got, err := ParseWeight(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseWeight(%q) = %d, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "from 1 to 1000") {
			t.Errorf("ParseWeight(%q) error %q does not say what is valid", tc.in, err)
		}
	}
}

func TestRoundRobinIsEqual(t *testing.T) {
	b, _ := newBalancer(t, RoundRobin, three()...)
	for addr, n := range counts(t, b, 300) {
		if n != 100 {
			t.Errorf("%s got %d of 300", addr, n)
		}
	}
}

func TestWeightedSharesAndSmoothness(t *testing.T) {
	b, _ := newBalancer(t, Weighted, three(1, 2, 3)...)
	got := counts(t, b, 600)
	for i, want := range []int{100, 200, 300} {
		if n := got[fmt.Sprintf("10.0.0.%d:80", i+1)]; n != want {
			t.Errorf("endpoint %d: %d picks of 600, want %d", i+1, n, want)
		}
	}
	// nginx's example: weights a=5, b=1, c=1 give a a b a c a a.
	b, _ = newBalancer(t, Weighted, Endpoint{Addr: "a", Weight: 5}, Endpoint{Addr: "b", Weight: 1}, Endpoint{Addr: "c", Weight: 1})
	var seq []string
	for range 7 {
		p, _ := b.Pick("", nil)
		seq = append(seq, p.Addr())
		p.Done(Success, 0)
	}
	if s := strings.Join(seq, " "); s != "a a b a c a a" {
		t.Errorf("sequence %q, want a a b a c a a", s)
	}
}

func TestRandomIsUniform(t *testing.T) {
	b, _ := newBalancer(t, Random, three()...)
	const n = 3000
	chi2 := 0.0
	for _, c := range counts(t, b, n) {
		d := float64(c) - n/3.0
		chi2 += d * d / (n / 3.0)
	}
	// Two degrees of freedom: 13.82 is the 0.1 % critical value.
	if chi2 > 13.82 {
		t.Errorf("chi-square %.2f over 3 endpoints: not uniform", chi2)
	}
}

func TestLeastConnectionsAvoidsBusyEndpoints(t *testing.T) {
	b, _ := newBalancer(t, LeastConnections, three()...)
	// Hold 5 picks; they must spread 2-2-1 (never 3 on one).
	var held []*Pick
	per := map[string]int{}
	for range 5 {
		p, _ := b.Pick("", nil)
		held = append(held, p)
		per[p.Addr()]++
	}
	for addr, n := range per {
		if n > 2 {
			t.Errorf("%s holds %d of 5 connections", addr, n)
		}
	}
	// Finish the picks of one endpoint: the next two go there.
	var freed string
	for addr := range per {
		freed = addr
		break
	}
	for _, p := range held {
		if p.Addr() == freed {
			p.Done(Success, 0)
		}
	}
	if b.InFlight(freed) != 0 {
		t.Fatalf("in flight on %s: %d", freed, b.InFlight(freed))
	}
	p, _ := b.Pick("", nil)
	if p.Addr() != freed {
		t.Errorf("picked %s, want the idle %s", p.Addr(), freed)
	}
}

func TestP2CEWMAAvoidsASlowEndpoint(t *testing.T) {
	b, c := newBalancer(t, P2CEWMA, three()...)
	slow := "10.0.0.3:80"
	per := map[string]int{}
	for range 3000 {
		p, err := b.Pick("", nil)
		if err != nil {
			t.Fatal(err)
		}
		lat := time.Millisecond
		if p.Addr() == slow {
			lat = 100 * time.Millisecond
		}
		c.advance(time.Millisecond)
		p.Done(Success, lat)
		per[p.Addr()]++
	}
	if share := float64(per[slow]) / 3000; share > 0.05 {
		t.Errorf("the slow endpoint got %.1f %% of requests (counts %v)", 100*share, per)
	}
	// Once it is fast again, it gets its share back as its estimate decays
	// (100 ms → 1 ms takes 10 s × ln 100 ≈ 46 s without observations).
	recent := map[string]int{}
	for i := range 60000 {
		p, _ := b.Pick("", nil)
		c.advance(time.Millisecond)
		p.Done(Success, time.Millisecond)
		if i >= 57000 {
			recent[p.Addr()]++
		}
	}
	if recent[slow] < 700 {
		t.Errorf("the recovered endpoint gets %d of the last 3000 requests", recent[slow])
	}
}

func TestSessionAffinity(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	b, err := New(Config{Policy: RoundRobin, Affinity: true, AffinityTimeout: time.Minute, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	b.Update(three())
	first, _ := b.Pick("192.0.2.7", nil)
	first.Done(Success, 0)
	for range 10 {
		p, _ := b.Pick("192.0.2.7", nil)
		if p.Addr() != first.Addr() {
			t.Fatalf("client moved from %s to %s", first.Addr(), p.Addr())
		}
		p.Done(Success, 0)
		c.advance(30 * time.Second) // used within the timeout: stays
	}
	other, _ := b.Pick("192.0.2.8", nil)
	if other.Addr() == first.Addr() {
		t.Errorf("a second client joined the first's endpoint under round-robin")
	}
	// The endpoint goes away: the client is moved.
	var rest []Endpoint
	for _, e := range three() {
		if e.Addr != first.Addr() {
			rest = append(rest, e)
		}
	}
	b.Update(rest)
	p, _ := b.Pick("192.0.2.7", nil)
	if p.Addr() == first.Addr() {
		t.Errorf("client kept on a removed endpoint")
	}
}

func TestEjectionAndPanicMode(t *testing.T) {
	b, c := newBalancer(t, RoundRobin, three()...)
	p, _ := b.Pick("", nil)
	bad := p.Addr()
	p.Done(ConnectFailed, 0)
	for range 20 {
		q, _ := b.Pick("", nil)
		if q.Addr() == bad {
			t.Fatalf("ejected endpoint %s picked", bad)
		}
		q.Done(Success, 0)
	}
	c.advance(1100 * time.Millisecond)
	if got := counts(t, b, 30)[bad]; got != 10 {
		t.Errorf("endpoint back after its ejection got %d of 30", got)
	}
	// Every endpoint ejected: still answer (panic mode).
	for _, e := range three() {
		q, err := b.Pick("", func(a string) bool { return a != e.Addr })
		if err != nil {
			t.Fatal(err)
		}
		q.Done(ConnectFailed, 0)
	}
	if _, err := b.Pick("", nil); err != nil {
		t.Errorf("all ejected: %v, want a pick anyway", err)
	}
	// Skipping everything leaves nothing.
	if _, err := b.Pick("", func(string) bool { return true }); err != ErrNoEndpoints {
		t.Errorf("all skipped: %v", err)
	}
	b.Update(nil)
	if _, err := b.Pick("", nil); err != ErrNoEndpoints {
		t.Errorf("no endpoints: %v", err)
	}
}

func TestUpdateKeepsCounters(t *testing.T) {
	b, _ := newBalancer(t, LeastConnections, three()...)
	p, _ := b.Pick("", nil)
	b.Update(append(three(), Endpoint{Addr: "10.0.0.4:80"}))
	if b.InFlight(p.Addr()) != 1 {
		t.Errorf("in-flight count lost by Update")
	}
	p.Done(Success, 0)
	p.Done(Success, 0) // a second Done is ignored
	if b.InFlight(p.Addr()) != 0 {
		t.Errorf("in flight %d after Done", b.InFlight(p.Addr()))
	}
}

func TestPickAllocatesOnlyThePick(t *testing.T) {
	for _, policy := range Policies {
		b, _ := newBalancer(t, policy, three(1, 2, 3)...)
		allocs := testing.AllocsPerRun(200, func() {
			p, _ := b.Pick("", nil)
			p.Done(Success, time.Millisecond)
		})
		if allocs > 1 {
			t.Errorf("%s: %v allocations per pick", policy, allocs)
		}
	}
}
