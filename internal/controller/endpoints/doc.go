// Package endpoints is the Endpoints controller: for every Service with a
// selector (not of type ExternalName) it maintains a v1 Endpoints object of
// the same name listing the addresses of the selected pods, like
// Kubernetes' endpoint controller. Addresses are grouped into subsets by
// the set of ports they serve; ready pods go to addresses, the others to
// notReadyAddresses (all to addresses when the service publishes
// not-ready addresses); terminating pods are left out unless the service
// publishes not-ready addresses. The Endpoints carries the service's
// labels, is written only when it changes, and is deleted with the
// service. At most 1000 addresses are kept, with the
// endpoints.kubernetes.io/over-capacity annotation set when truncated.
//
// The pod-selection and port-resolution rules it shares with the
// EndpointSlice controller live in the podaddr subpackage; the decision
// of what to write is the pure Plan function.
package endpoints
