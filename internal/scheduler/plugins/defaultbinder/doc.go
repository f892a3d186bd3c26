// Package defaultbinder binds a pod to its chosen node through the
// pods/binding subresource of the API server.
package defaultbinder
