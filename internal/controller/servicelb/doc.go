// Package servicelb is the controller that gives LoadBalancer Services
// their addresses, as k3s's ServiceLB does: every node agent's service
// proxy serves a LoadBalancer Service's ports on the node's own addresses,
// so status.loadBalancer.ingress lists the InternalIP of every Ready,
// schedulable node (sorted). Services of other types get an empty status.
package servicelb
