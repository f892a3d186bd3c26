package framework

import "maps"

// StateKey names one plugin's entry in a CycleState.
type StateKey string

// StateData is what a plugin keeps in a CycleState.
type StateData interface {
	// Clone copies the data for a CycleState clone (preemption changes
	// state on copies); immutable data may return itself.
	Clone() StateData
}

// CycleState carries data between the extension points of one scheduling
// attempt of one pod. It is used by one goroutine at a time.
type CycleState struct {
	data map[StateKey]StateData
	// skipFilter and skipScore name the plugins whose pre-step returned Skip.
	skipFilter, skipScore map[string]bool
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{data: map[StateKey]StateData{}} }

// SkipFilter reports whether plugin's Filter is skipped in this cycle.
func (c *CycleState) SkipFilter(plugin string) bool { return c.skipFilter[plugin] }

// Write stores d under key.
func (c *CycleState) Write(key StateKey, d StateData) { c.data[key] = d }

// Read returns the data under key, if any.
func (c *CycleState) Read(key StateKey) (StateData, bool) {
	d, ok := c.data[key]
	return d, ok
}

// Delete removes key.
func (c *CycleState) Delete(key StateKey) { delete(c.data, key) }

// Clone returns a copy whose entries are cloned.
func (c *CycleState) Clone() *CycleState {
	n := &CycleState{data: make(map[StateKey]StateData, len(c.data)), skipFilter: maps.Clone(c.skipFilter), skipScore: maps.Clone(c.skipScore)}
	for k, v := range c.data {
		n.data[k] = v.Clone()
	}
	return n
}
