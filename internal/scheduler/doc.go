// Package scheduler assigns pods without a node to nodes. It watches
// unscheduled pods whose spec.schedulerName names one of its profiles, takes
// them from per-profile queues ordered by the profile's queue policy (see
// package queue), runs the framework's filter and score plugins over the
// nodes (package framework, plugins under plugins/), reserves the chosen
// node in its cache and binds through the pods/binding subresource.
// Pods that fit nowhere get a FailedScheduling event and a PodScheduled=False
// condition that explain why, may preempt lower-priority pods, and wait until
// a relevant cluster change (with back-off) before they are tried again.
package scheduler
