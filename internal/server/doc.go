// Package server assembles Berth's control plane: it starts (or connects to)
// etcd, creates the TLS material and tokens in the data directory, serves the
// Kubernetes API over HTTPS, writes the admin kubeconfig, bootstraps the
// built-in namespaces and compacts etcd periodically.
//
// Layout of the data directory:
//
//	etcd/              embedded etcd's data (absent with external etcd)
//	tls/               ca.crt, ca.key, server.crt, server.key
//	admin-token        the admin bearer token
//	node-token         the token agents join with
//	admin.kubeconfig   kubeconfig for the admin user
package server
