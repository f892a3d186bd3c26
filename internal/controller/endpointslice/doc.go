// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector (not of type ExternalName) it maintains
// discovery.k8s.io/v1 EndpointSlices listing the selected pods, like
// Kubernetes' endpointslice controller, so that service proxies and DNS
// can find them.
//
// Slices are named <service>-<random>, labelled kubernetes.io/service-name
// and endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
// (Kubernetes' own value, for tools that filter on it), owned by the
// Service, hold one address type (one per service IP family) and one port
// set each, and at most MaxEndpointsPerSlice endpoints. Each endpoint
// carries the pod's address, node, target reference and the ready,
// serving and terminating conditions; terminating pods stay listed (not
// ready) so proxies can drain them. A service without endpoints gets one
// empty placeholder slice.
//
// The decisions are pure: DesiredGroups computes what should be published
// from the service and its pods (with the rules shared with the Endpoints
// controller in package endpoints/podaddr), PlanSlices turns that and the
// existing slices into creates, updates and deletes that touch as few
// slices as possible. A tracker of the controller's own writes keeps a
// reconcile from acting on an informer cache that has not seen them yet.
//
// Deviation from Kubernetes: when a service loses its selector or becomes
// ExternalName, the slices this controller manages for it are deleted
// (Kubernetes leaves them behind); slices managed by others are never
// touched. Topology (zone, hints) is not set.
package endpointslice
