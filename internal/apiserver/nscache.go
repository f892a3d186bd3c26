package apiserver

import (
	"sync"
	"time"
)

// activeNamespaceTTL is how long a namespace seen Active is trusted without
// reading it again when objects are created in it. Like Kubernetes' own
// informer-based check, this is eventually consistent across servers; this
// server forgets a namespace as soon as it updates or deletes it.
const activeNamespaceTTL = time.Second

// namespaceCache remembers recently seen Active namespaces, saving an etcd
// read per create.
type namespaceCache struct {
	mu     sync.Mutex
	active map[string]time.Time // namespace → when the entry expires
}

func (c *namespaceCache) isActive(ns string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.active[ns]
	return ok && time.Now().Before(exp)
}

func (c *namespaceCache) markActive(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == nil {
		c.active = map[string]time.Time{}
	}
	if len(c.active) > 10000 {
		clear(c.active) // bound memory; entries are cheap to recompute
	}
	c.active[ns] = time.Now().Add(activeNamespaceTTL)
}

func (c *namespaceCache) forget(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.active, ns)
}
