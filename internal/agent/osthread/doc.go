// Package osthread runs functions on OS threads of their own, for work
// that changes per-thread state the rest of the process must not see:
// namespaces (setns, unshare) and, on cgroup v1, a thread's cgroup.
package osthread
