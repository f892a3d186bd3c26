// Package workloadspread is the WorkloadSpread scheduler plugin: a score
// that spreads the pods of one workload (the pods sharing a controller
// owner, e.g. a ReplicaSet, StatefulSet or Job) over the nodes. A node
// scores by how few of the workload's pods it already holds: after
// normalization the candidates with the fewest score MaxNodeScore, those
// with the most 0. Pods without a controller owner are not scored.
package workloadspread
