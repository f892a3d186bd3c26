// Package nodename holds the NodeName scheduler plugin, which keeps a pod
// that names a node in spec.nodeName off every other node.
package nodename
