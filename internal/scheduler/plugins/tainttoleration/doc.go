// Package tainttoleration is the TaintToleration scheduler plugin: a filter
// that keeps a pod off nodes with a NoSchedule or NoExecute taint it does
// not tolerate, and a score that prefers nodes with fewer PreferNoSchedule
// taints it does not tolerate. Matching is corev1.Toleration.ToleratesTaint
// with the numeric Lt/Gt operators enabled (the API server accepts them).
package tainttoleration
