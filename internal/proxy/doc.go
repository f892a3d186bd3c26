// Package proxy is Berth's service proxy: the forwarding that runs in
// every node agent for each Service port it serves (ClusterIP, NodePort,
// LoadBalancer addresses).
//
// Each listener has a Port: the Service port's mode, protocol, PROXY
// protocol setting and load balancer (package lb), swapped atomically
// when the Service or its endpoints change, so listeners live across
// updates. Modes:
//
//   - TCP (L4, default): each connection goes to one endpoint; a refused
//     connection is retried on another endpoint (up to three) and the
//     refusing endpoint is ejected for a while; with the PROXY protocol
//     the v2 header carrying the client's address is sent first. Both
//     directions are copied with half-close.
//   - HTTP: each request is balanced over pooled upstream connections,
//     with X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host.
//     ServeHTTPMode forwards plain HTTP/1.1 requests itself (heads parsed
//     in place, bodies copied as framed); everything else (HTTP/1.0,
//     upgrades, Expect, chunked or large request bodies, malformed heads)
//     is handed with the bytes read so far to an http.Server running
//     HTTPHandler (httputil.ReverseProxy). A request that could not
//     connect is retried on another endpoint when its body is still held
//     (always on the fast path; without a body and idempotent on the
//     fallback); an idempotent request whose pooled connection the
//     endpoint had closed is sent again on a new connection.
//   - UDP: datagrams of a client address go to one endpoint while the
//     flow is active (idle flows end after a minute).
//
// Metrics (Prometheus, per Service and endpoint): connections, requests,
// bytes, latency and in-flight. The requests and connections are also kept
// as in-process counters (Metrics.Counts, Proxier.Counts), which the agent
// serves to the API server for the custom metrics API.
package proxy
