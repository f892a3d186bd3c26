// Package kubectl runs the real kubectl (k8s.io/kubectl) compiled into the
// berth binary, so `berth kubectl ...` behaves exactly like kubectl.
package kubectl
