// Package dns is Berth's cluster DNS: a small server in every node agent
// that answers the names of Services and forwards every other name to the
// node's own resolvers.
//
// In the cluster domain (cluster.local by default):
//
//   - <service>.<namespace>.svc.<domain>: A records, the ClusterIP, or for a
//     headless Service (clusterIP None) the addresses of its ready
//     endpoints;
//   - _<port>._<proto>.<service>.<namespace>.svc.<domain>: SRV records of
//     the Service's named ports (the target is the Service's name);
//   - other names in the domain: NXDOMAIN (NOERROR without answers when the
//     name exists with other record types).
//
// Pods get the server in their resolv.conf (ResolvConf) with Kubernetes'
// search path and ndots:5.
package dns
