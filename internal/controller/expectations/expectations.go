package expectations

import (
	"sync"
	"time"
)

// TTL is how long expectations are trusted: after that the owner is
// managed again even if some creations or deletions were never observed
// (a lost watch event must not stall it forever).
const TTL = 5 * time.Minute

// Expectations records, per owner key, the pod creations and deletions a
// controller issued but has not yet seen through the pod informer. It is
// safe for concurrent use.
type Expectations struct {
	mu          sync.Mutex
	now         func() time.Time
	accumulate  bool
	expireAtTTL bool
	items       map[string]*record
}

// record is the outstanding work of one owner.
type record struct {
	adds    int
	deletes map[string]bool // pod keys still expected to go
	set     time.Time
}

// Option configures Expectations.
type Option func(*Expectations)

// Accumulate makes ExpectCreations and ExpectDeletions add to the owner's
// existing record (refreshing its timestamp, and first raising a negative
// creation count left by stray observations to zero) instead of replacing
// the record.
func Accumulate() Option {
	return func(e *Expectations) { e.accumulate = true }
}

// ExpireAtTTL makes a record expire as soon as TTL has elapsed since it was
// last set; by default it is still trusted at exactly TTL and expires only
// after.
func ExpireAtTTL() Option {
	return func(e *Expectations) { e.expireAtTTL = true }
}

// New returns empty Expectations that read the time from now (time.Now
// when nil).
func New(now func() time.Time, opts ...Option) *Expectations {
	if now == nil {
		now = time.Now
	}
	e := &Expectations{now: now, items: map[string]*record{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Satisfied reports whether the owner key may act on its cache (nothing is
// outstanding, nothing was recorded, or the record expired); when not, it
// also returns how long until the record expires.
func (e *Expectations) Satisfied(key string) (bool, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true, 0
	}
	left := TTL - e.now().Sub(x.set)
	if left < 0 || (left == 0 && e.expireAtTTL) {
		return true, 0
	}
	return false, left
}

// start returns the record that new expectations of key go into: the
// existing one (refreshed) when accumulating, else a fresh one replacing
// it. Callers hold mu.
func (e *Expectations) start(key string) *record {
	x, ok := e.items[key]
	if !ok || !e.accumulate {
		x = &record{deletes: map[string]bool{}}
		e.items[key] = x
	}
	if x.adds < 0 {
		x.adds = 0
	}
	x.set = e.now()
	return x
}

// ExpectCreations records n pending creations for key (added to the
// existing ones under Accumulate, replacing the record otherwise).
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.start(key).adds += n
}

// ExpectDeletions records the given pod keys as pending deletion for key
// (added to the existing ones under Accumulate, replacing the record
// otherwise).
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.start(key)
	for _, k := range podKeys {
		x.deletes[k] = true
	}
}

// CreationObserved lowers the pending creations of key by one (a pod was
// seen, or a create failed or was skipped); without a record it does
// nothing.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		x.adds--
	}
}

// DeletionObserved marks podKey as gone for key; repeated calls for the
// same pod, and pods that were not expected, have no effect.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

// Forget drops the record of key (its owner was deleted).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// Pending returns the outstanding creations and deletions of key (for
// logs and tests); the creation count may be negative after stray
// observations.
func (e *Expectations) Pending(key string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return x.adds, len(x.deletes)
	}
	return 0, 0
}
