package job

import (
	"sync"
	"time"
)

// expectationsTTL is how long expectations are trusted: after that the Job
// is managed again even if some creations or deletions were never observed
// (a lost watch event must not stall it forever).
const expectationsTTL = 5 * time.Minute

// expectations records, per Job key, the pod creations and deletions the
// controller issued but has not yet seen through the pod informer.
// Deletions are tracked by pod key so that a graceful deletion, seen once
// as an update that sets deletionTimestamp and again as the final delete,
// counts once.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

// expectation is the outstanding work of one Job.
type expectation struct {
	adds    int
	deletes map[string]bool // pod keys still expected to go
	set     time.Time
}

func newExpectations(now func() time.Time) *expectations {
	if now == nil {
		now = time.Now
	}
	return &expectations{now: now, items: map[string]*expectation{}}
}

// satisfied reports whether the Job may act on its cache (nothing is
// outstanding, nothing was recorded, or the record expired); when not, it
// also returns how long until the record expires.
func (e *expectations) satisfied(jobKey string) (bool, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[jobKey]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true, 0
	}
	left := expectationsTTL - e.now().Sub(x.set)
	if left <= 0 {
		return true, 0
	}
	return false, left
}

// record returns the record of jobKey, creating it; callers hold mu.
func (e *expectations) record(jobKey string) *expectation {
	x, ok := e.items[jobKey]
	if !ok {
		x = &expectation{deletes: map[string]bool{}}
		e.items[jobKey] = x
	}
	if x.adds < 0 {
		x.adds = 0
	}
	x.set = e.now()
	return x
}

// expectCreations adds n pending creations to jobKey.
func (e *expectations) expectCreations(jobKey string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record(jobKey).adds += n
}

// expectDeletions adds the given pod keys to the deletions pending for
// jobKey.
func (e *expectations) expectDeletions(jobKey string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.record(jobKey)
	for _, k := range podKeys {
		x.deletes[k] = true
	}
}

// creationObserved lowers the pending creations of jobKey by one (a pod
// was seen, or a create failed or was skipped).
func (e *expectations) creationObserved(jobKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[jobKey]; ok {
		x.adds--
	}
}

// deletionObserved marks podKey as gone for jobKey; repeated calls for the
// same pod have no further effect.
func (e *expectations) deletionObserved(jobKey, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[jobKey]; ok {
		delete(x.deletes, podKey)
	}
}

// forget drops the record of jobKey (the Job was deleted).
func (e *expectations) forget(jobKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, jobKey)
}

// pending returns the outstanding creations and deletions of jobKey.
func (e *expectations) pending(jobKey string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[jobKey]; ok {
		return x.adds, len(x.deletes)
	}
	return 0, 0
}
