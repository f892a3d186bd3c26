// Package defaultpreemption is the post-filter that lets a pod that fits
// nowhere take the place of lower-priority pods: on each node where only
// "Unschedulable" (not unresolvable) filters rejected it, it removes every
// lower-priority pod, checks that the pod then fits, and gives back as many
// of them as still let it fit, highest priority first (the rest are the
// victims). The node whose victims matter least wins: lowest highest-victim
// priority, then lowest sum of victim priorities, then fewest victims.
// The scheduler then deletes the victims gracefully and nominates the node.
package defaultpreemption
