// Package pki creates and loads the cluster's certificate authority, the API
// server's serving certificate and the bearer tokens that clients present.
//
// Everything lives in the data directory: tls/ca.crt, tls/ca.key,
// tls/server.crt, tls/server.key, admin-token and node-token. Files are
// created on first start and reused afterwards, so kubeconfigs and agents
// keep working across restarts. A serving certificate whose names no longer
// cover the requested hosts is reissued from the same CA.
package pki
