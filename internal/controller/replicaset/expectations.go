package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL is how long expectations are trusted: after that a
// ReplicaSet is synced even if some creations or deletions were never
// observed (a lost watch event must not stall it forever).
const expectationsTTL = 5 * time.Minute

// expectations records, per ReplicaSet key, the pod creations and deletions
// the controller issued but has not yet seen through the pod informer.
// Deletions are tracked by pod key so that a graceful deletion, observed
// once as an update with deletionTimestamp and again as the final delete,
// is counted once.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

// expectation is the outstanding work of one ReplicaSet.
type expectation struct {
	adds    int
	deletes map[string]bool // pod keys still expected to disappear
	set     time.Time
}

func newExpectations(now func() time.Time) *expectations {
	if now == nil {
		now = time.Now
	}
	return &expectations{now: now, items: map[string]*expectation{}}
}

// satisfied reports whether the ReplicaSet may act on its cache: nothing is
// outstanding, nothing was ever recorded, or the record expired.
func (e *expectations) satisfied(rsKey string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[rsKey]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.now().Sub(x.set) > expectationsTTL
}

// expectCreations replaces the record of rsKey with n pending creations.
func (e *expectations) expectCreations(rsKey string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[rsKey] = &expectation{adds: n, set: e.now()}
}

// expectDeletions replaces the record of rsKey with the given pod keys
// pending deletion.
func (e *expectations) expectDeletions(rsKey string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: make(map[string]bool, len(podKeys)), set: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.items[rsKey] = x
}

// creationObserved lowers the pending creations of rsKey by one (a pod was
// seen, or a create failed or was skipped).
func (e *expectations) creationObserved(rsKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[rsKey]; ok {
		x.adds--
	}
}

// deletionObserved marks podKey as gone for rsKey; repeated calls for the
// same pod have no further effect.
func (e *expectations) deletionObserved(rsKey, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[rsKey]; ok {
		delete(x.deletes, podKey)
	}
}

// forget drops the record of rsKey (the ReplicaSet was deleted).
func (e *expectations) forget(rsKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, rsKey)
}

// pending returns the outstanding creations and deletions of rsKey (for
// logs and tests).
func (e *expectations) pending(rsKey string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[rsKey]; ok {
		return x.adds, len(x.deletes)
	}
	return 0, 0
}
