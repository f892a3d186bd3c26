// Package proxyproto writes the PROXY protocol version 2 header (HAProxy's
// specification, section 2.2) that Berth's L4 proxy sends before the
// client's bytes when a Service asks for it (berth.io/proxy-protocol: v2),
// so that the backend learns the client's address.
package proxyproto
