package lb

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Policy names, as written in the berth.io/lb-policy annotation.
const (
	Random           = "random"
	RoundRobin       = "round-robin"
	Weighted         = "weighted"
	LeastConnections = "least-connections"
	P2CEWMA          = "p2c-ewma"
)

// Policies lists every policy name.
var Policies = []string{Random, RoundRobin, Weighted, LeastConnections, P2CEWMA}

// ParsePolicy checks a policy name ("" is round-robin); the error lists the
// valid ones.
func ParsePolicy(name string) (string, error) {
	if name == "" {
		return RoundRobin, nil
	}
	for _, p := range Policies {
		if name == p {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown load-balancing policy %q: want one of %s", name, strings.Join(Policies, ", "))
}

// MaxWeight bounds berth.io/lb-weight.
const MaxWeight = 1000

// ParseWeight checks a berth.io/lb-weight value ("" is 1).
func ParseWeight(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	var w int
	if _, err := fmt.Sscanf(s, "%d", &w); err != nil || fmt.Sprint(w) != strings.TrimSpace(s) || w < 1 || w > MaxWeight {
		return 0, fmt.Errorf("invalid load-balancing weight %q: want an integer from 1 to %d", s, MaxWeight)
	}
	return w, nil
}

// Endpoint is a ready endpoint of a Service.
type Endpoint struct {
	// Addr is host:port.
	Addr string
	// Weight is the endpoint's share under the weighted policy (≥ 1).
	Weight int
}

// Passive health checking: an endpoint whose connection failed is left out
// for ejectBase, doubling with each further failure up to ejectMax.
const (
	ejectBase = time.Second
	ejectMax  = 30 * time.Second
)

// ewmaDecay is the time constant of the peak-EWMA latency.
const ewmaDecay = 10 * time.Second

// ErrNoEndpoints is returned by Pick when the Service has no endpoint.
var ErrNoEndpoints = errors.New("no ready endpoints")

// Config configures a Balancer.
type Config struct {
	// Policy is one of Policies ("" is round-robin).
	Policy string
	// Affinity keeps a client IP on its endpoint for AffinityTimeout
	// after its last use (Service sessionAffinity ClientIP).
	Affinity        bool
	AffinityTimeout time.Duration
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// Rand returns a uniform number in [0, n) (nil: math/rand/v2).
	Rand func(n int) int
}

// Balancer picks endpoints of one Service port.
type Balancer struct {
	cfg  Config
	now  func() time.Time
	rand func(int) int

	mu  sync.Mutex
	eps []*endpoint
	// byAddr finds the state of a current endpoint.
	byAddr map[string]*endpoint
	next   int // round-robin position
	// affinity maps a client IP to its endpoint and last use.
	affinity map[string]affinityEntry
	// scratch is reused for the candidate list of each pick.
	scratch []*endpoint
}

type affinityEntry struct {
	addr string
	last time.Time
}

// endpoint is an endpoint with its counters. inflight is atomic so that
// Done need not take the balancer's lock.
type endpoint struct {
	Endpoint
	inflight atomic.Int64
	// guarded by Balancer.mu:
	current      int // smooth weighted round-robin
	ewma         float64
	ewmaAt       time.Time
	failures     int
	ejectedUntil time.Time
}

// New returns a Balancer with no endpoints; the policy must be valid.
func New(cfg Config) (*Balancer, error) {
	p, err := ParsePolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	cfg.Policy = p
	if cfg.Affinity && cfg.AffinityTimeout <= 0 {
		cfg.AffinityTimeout = 3 * time.Hour // Kubernetes' default 10800 s
	}
	b := &Balancer{cfg: cfg, now: cfg.Now, rand: cfg.Rand, byAddr: map[string]*endpoint{}}
	if b.now == nil {
		b.now = time.Now
	}
	if b.rand == nil {
		b.rand = rand.IntN
	}
	return b, nil
}

// Policy returns the balancer's policy.
func (b *Balancer) Policy() string { return b.cfg.Policy }

// Update replaces the endpoints. Counters of endpoints that stay are kept;
// picks of removed ones may still finish (Done).
func (b *Balancer) Update(eps []Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sorted := append([]Endpoint(nil), eps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Addr < sorted[j].Addr })
	next := make([]*endpoint, 0, len(sorted))
	byAddr := make(map[string]*endpoint, len(sorted))
	for _, e := range sorted {
		if _, dup := byAddr[e.Addr]; dup {
			continue
		}
		if e.Weight < 1 {
			e.Weight = 1
		}
		st, ok := b.byAddr[e.Addr]
		if !ok {
			st = &endpoint{}
		}
		st.Endpoint = e
		next = append(next, st)
		byAddr[e.Addr] = st
	}
	b.eps, b.byAddr = next, byAddr
	if b.next >= len(next) {
		b.next = 0
	}
}

// Len is the number of endpoints.
func (b *Balancer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.eps)
}

// Pick chooses an endpoint for a new connection or request from clientIP
// (used for affinity; may be ""), skipping those skip reports (endpoints a
// retry already tried; nil skips none). The caller must call Done on the
// result when the connection or request ends.
func (b *Balancer) Pick(clientIP string, skip func(addr string) bool) (*Pick, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	avail := b.available(now, skip)
	if len(avail) == 0 {
		return nil, ErrNoEndpoints
	}
	var e *endpoint
	if b.cfg.Affinity && clientIP != "" {
		if a, ok := b.affinity[clientIP]; ok && now.Sub(a.last) < b.cfg.AffinityTimeout {
			for _, c := range avail {
				if c.Addr == a.addr {
					e = c
					break
				}
			}
		}
	}
	if e == nil {
		e = b.choose(avail, now)
	}
	if b.cfg.Affinity && clientIP != "" {
		if b.affinity == nil {
			b.affinity = map[string]affinityEntry{}
		}
		b.affinity[clientIP] = affinityEntry{addr: e.Addr, last: now}
		if len(b.affinity) > 4096 {
			b.expireAffinity(now)
		}
	}
	e.inflight.Add(1)
	return &Pick{b: b, e: e, addr: e.Addr}, nil
}

// available lists the endpoints not skipped and not ejected; if all that
// are not skipped are ejected, those (Envoy's "panic mode": better a
// failing endpoint than none). Called with b.mu held; the slice is b's
// own scratch, valid until the lock is released.
func (b *Balancer) available(now time.Time, skip func(string) bool) []*endpoint {
	out := b.scratch[:0]
	ejected := 0
	for _, e := range b.eps {
		if skip != nil && skip(e.Addr) {
			continue
		}
		if now.Before(e.ejectedUntil) {
			ejected++
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 && ejected > 0 {
		for _, e := range b.eps {
			if skip == nil || !skip(e.Addr) {
				out = append(out, e)
			}
		}
	}
	b.scratch = out
	return out
}

// choose applies the policy to a non-empty candidate list.
func (b *Balancer) choose(c []*endpoint, now time.Time) *endpoint {
	switch b.cfg.Policy {
	case Random:
		return c[b.rand(len(c))]
	case Weighted:
		total, best := 0, c[0]
		for _, e := range c {
			e.current += e.Weight
			total += e.Weight
			if e.current > best.current {
				best = e
			}
		}
		best.current -= total
		return best
	case LeastConnections:
		least, ties := int64(math.MaxInt64), 0
		var pick *endpoint
		for _, e := range c {
			n := e.inflight.Load()
			switch {
			case n < least:
				least, pick, ties = n, e, 1
			case n == least:
				// Reservoir sampling: each tie equally likely.
				ties++
				if b.rand(ties) == 0 {
					pick = e
				}
			}
		}
		return pick
	case P2CEWMA:
		if len(c) == 1 {
			return c[0]
		}
		i := b.rand(len(c))
		j := b.rand(len(c) - 1)
		if j >= i {
			j++
		}
		def := b.defaultLatency(c, now)
		if b.cost(c[j], now, def) < b.cost(c[i], now, def) {
			return c[j]
		}
		return c[i]
	}
	// Round-robin.
	e := c[b.next%len(c)]
	b.next = (b.next + 1) % max(len(b.eps), 1)
	return e
}

// latency is e's decayed peak-EWMA latency in seconds at now (0: none yet).
func (b *Balancer) latency(e *endpoint, now time.Time) float64 {
	if e.ewmaAt.IsZero() {
		return 0
	}
	// With no fresh observations the estimate decays towards zero, so
	// that an endpoint that was slow is tried again eventually.
	return e.ewma * math.Exp(-now.Sub(e.ewmaAt).Seconds()/ewmaDecay.Seconds())
}

// defaultLatency stands in for endpoints without observations: the mean
// of the observed ones (1 ms if none), so that a new endpoint is neither
// flooded nor starved.
func (b *Balancer) defaultLatency(c []*endpoint, now time.Time) float64 {
	sum, n := 0.0, 0
	for _, e := range c {
		if !e.ewmaAt.IsZero() {
			sum += b.latency(e, now)
			n++
		}
	}
	if n == 0 || sum == 0 {
		return 0.001
	}
	return sum / float64(n)
}

func (b *Balancer) cost(e *endpoint, now time.Time, def float64) float64 {
	l := b.latency(e, now)
	if e.ewmaAt.IsZero() {
		l = def
	}
	return l * float64(e.inflight.Load()+1)
}

// observe folds a latency observation into e's peak EWMA. Called with
// b.mu held.
func (b *Balancer) observe(e *endpoint, rtt time.Duration, now time.Time) {
	x := rtt.Seconds()
	cur := b.latency(e, now)
	if e.ewmaAt.IsZero() || x > cur {
		e.ewma = x // peak: jump up at once
	} else {
		w := math.Exp(-now.Sub(e.ewmaAt).Seconds() / ewmaDecay.Seconds())
		e.ewma = cur*w + x*(1-w)
	}
	e.ewmaAt = now
}

func (b *Balancer) expireAffinity(now time.Time) {
	for ip, a := range b.affinity {
		if now.Sub(a.last) >= b.cfg.AffinityTimeout {
			delete(b.affinity, ip)
		}
	}
}

// Pick is one use of an endpoint.
type Pick struct {
	b    *Balancer
	e    *endpoint
	addr string
	done atomic.Bool
}

// Addr is the chosen endpoint's address.
func (p *Pick) Addr() string { return p.addr }

// Outcome is how a use of an endpoint ended.
type Outcome int

// Outcomes.
const (
	// Success: the connection was made (L4) or the request answered
	// (HTTP); its latency feeds p2c-ewma.
	Success Outcome = iota
	// ConnectFailed: the endpoint refused or did not answer the
	// connection; it is ejected for a while.
	ConnectFailed
	// Failed: the use failed after connecting (no ejection, no latency).
	Failed
)

// Done ends the use with its outcome; latency is the time to the first
// byte of the answer (HTTP) or to the connection (L4), used by p2c-ewma
// (0: none measured, e.g. a UDP flow). Calls after the first are ignored.
func (p *Pick) Done(o Outcome, latency time.Duration) {
	if !p.done.CompareAndSwap(false, true) {
		return
	}
	p.e.inflight.Add(-1)
	b := p.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	switch o {
	case Success:
		if latency > 0 {
			b.observe(p.e, latency, now)
		}
		p.e.failures, p.e.ejectedUntil = 0, time.Time{}
	case ConnectFailed:
		p.e.failures++
		d := ejectBase << min(p.e.failures-1, 5)
		p.e.ejectedUntil = now.Add(min(d, ejectMax))
	}
}

// InFlight is the number of unfinished picks of addr.
func (b *Balancer) InFlight(addr string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byAddr[addr]; ok {
		return e.inflight.Load()
	}
	return 0
}
