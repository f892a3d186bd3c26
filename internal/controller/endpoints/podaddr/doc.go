// Package podaddr holds the pure rules, shared by the Endpoints and the
// EndpointSlice controllers, for which pods back a Service and at which
// addresses and ports: a pod backs a service with a selector (not of type
// ExternalName) when it lives in the service's namespace, matches the
// selector, has an IP of the wanted family and has not finished
// (Succeeded or Failed). Each service port resolves per pod: a numeric
// targetPort as is, a named one through the pod's container ports (a pod
// without that name does not serve that port).
//
// Nothing here talks to the API; the functions take objects and return
// values, so both controllers share them and unit tests cover them.
package podaddr
