// Package fakekubelet stands in for the node agent in tests until (and
// besides) the real one: it registers Ready nodes, binds unscheduled pods to
// them when asked (a trivial binder for runs without a scheduler), reports
// bound pods Running and Ready, finishes pods whose restartPolicy is not
// Always (Succeeded, or Failed with the exit code from the pod annotation
// fakekubelet.berth.io/exit-code), and completes graceful deletions.
// It talks to the API server only, like a real kubelet.
package fakekubelet
