package endpointslice

import (
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// tracker remembers, per service, the slice writes the informer cache
// has not shown yet, so that a reconcile working from a stale cache does
// not repeat them (above all: create duplicate slices). Expectations
// expire after ttl so that a lost event cannot block a service forever.
type tracker struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]*expectations
}

// expectations are one service's unobserved writes.
type expectations struct {
	written map[string]uint64 // slice name → resourceVersion we wrote
	deleted map[string]bool   // slice names we deleted
	since   time.Time         // time of the latest write
}

// newTracker returns a tracker whose expectations last ttl.
func newTracker(ttl time.Duration) *tracker {
	return &tracker{ttl: ttl, now: time.Now, m: map[string]*expectations{}}
}

// get returns the expectations of svcKey, creating them; t.mu is held.
func (t *tracker) get(svcKey string) *expectations {
	e := t.m[svcKey]
	if e == nil {
		e = &expectations{written: map[string]uint64{}, deleted: map[string]bool{}}
		t.m[svcKey] = e
	}
	e.since = t.now()
	return e
}

// wrote records that s (as returned by a create or update) exists at
// its resourceVersion or later.
func (t *tracker) wrote(svcKey string, s *discoveryv1.EndpointSlice) {
	rv, err := strconv.ParseUint(s.ResourceVersion, 10, 64)
	if err != nil {
		return // opaque versions cannot be compared; do not wait for them
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(svcKey)
	e.written[s.Name] = rv
	delete(e.deleted, s.Name)
}

// deleted records that the slice name is gone.
func (t *tracker) deleted(svcKey, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(svcKey)
	e.deleted[name] = true
	delete(e.written, name)
}

// observedDelete drops any expectation about name: the cache saw it go.
func (t *tracker) observedDelete(svcKey, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.m[svcKey]; e != nil {
		delete(e.written, name)
		delete(e.deleted, name)
	}
}

// synced reports whether the cache, queried through lookup, reflects
// every write recorded for svcKey; expectations it meets are dropped.
func (t *tracker) synced(svcKey string, lookup func(name string) (*discoveryv1.EndpointSlice, bool)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[svcKey]
	if e == nil {
		return true
	}
	if t.now().Sub(e.since) > t.ttl {
		delete(t.m, svcKey)
		return true
	}
	for name, want := range e.written {
		s, ok := lookup(name)
		if !ok {
			continue
		}
		if rv, err := strconv.ParseUint(s.ResourceVersion, 10, 64); err != nil || rv >= want {
			delete(e.written, name)
		}
	}
	for name := range e.deleted {
		if _, ok := lookup(name); !ok {
			delete(e.deleted, name)
		}
	}
	if len(e.written) == 0 && len(e.deleted) == 0 {
		delete(t.m, svcKey)
		return true
	}
	return false
}
