// Package nodeports holds the NodePorts scheduler plugin, which keeps a pod
// off nodes where a host port it asks for is already taken by another pod.
package nodeports
