// Package framework defines the scheduler's extension points (pre-filter,
// filter, post-filter, pre-score, score, normalize, reserve/unreserve, bind),
// the per-node view the plugins decide on (NodeInfo), per-attempt state
// (CycleState) and results (Status). Plugins are pure: they read a pod and
// node infos and return a decision; the scheduler applies the effects.
package framework
