package framework

import "slices"

// StateKey names one plugin's entry in a CycleState.
type StateKey string

// StateData is what a plugin keeps in a CycleState.
type StateData interface {
	// Clone copies the data for a CycleState clone (preemption changes
	// state on copies); immutable data may return itself.
	Clone() StateData
}

type stateEntry struct {
	key  StateKey
	data StateData
}

// CycleState carries data between the extension points of one scheduling
// attempt of one pod. It is used by one goroutine at a time. Plugins read
// it once per node, so it is a short slice searched linearly (constant keys
// compare by pointer) rather than a map.
type CycleState struct {
	entries []stateEntry
	// filters are the filter plugins still active after the pre-filters
	// (nil: not computed yet, all of them).
	filters []FilterPlugin
	// skipFilter and skipScore name the plugins whose pre-step returned Skip.
	skipFilter, skipScore []string
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{entries: make([]stateEntry, 0, 8)} }

// SkipFilter reports whether plugin's Filter is skipped in this cycle.
func (c *CycleState) SkipFilter(plugin string) bool { return slices.Contains(c.skipFilter, plugin) }

// Write stores d under key.
func (c *CycleState) Write(key StateKey, d StateData) {
	for i := range c.entries {
		if c.entries[i].key == key {
			c.entries[i].data = d
			return
		}
	}
	c.entries = append(c.entries, stateEntry{key, d})
}

// Read returns the data under key, if any.
func (c *CycleState) Read(key StateKey) (StateData, bool) {
	for i := range c.entries {
		if c.entries[i].key == key {
			return c.entries[i].data, true
		}
	}
	return nil, false
}

// Delete removes key.
func (c *CycleState) Delete(key StateKey) {
	c.entries = slices.DeleteFunc(c.entries, func(e stateEntry) bool { return e.key == key })
}

// Clone returns a copy whose entries are cloned.
func (c *CycleState) Clone() *CycleState {
	n := &CycleState{entries: make([]stateEntry, len(c.entries), len(c.entries)+4),
		filters: slices.Clone(c.filters), skipFilter: slices.Clone(c.skipFilter), skipScore: slices.Clone(c.skipScore)}
	for i, e := range c.entries {
		n.entries[i] = stateEntry{e.key, e.data.Clone()}
	}
	return n
}
