// Package lb holds the load-balancing policies of Berth's service proxy:
// which ready endpoint of a Service gets the next connection (L4 mode) or
// request (HTTP mode).
//
// Policies (the Service annotation berth.io/lb-policy):
//
//   - random: uniformly among the available endpoints;
//   - round-robin (default): in turn;
//   - weighted: smooth weighted round-robin (nginx's algorithm: every pick
//     adds each endpoint's weight to its current value, takes the largest
//     and subtracts the total from it), weights from the pod annotation
//     berth.io/lb-weight;
//   - least-connections: the fewest in-flight connections or requests,
//     ties broken at random;
//   - p2c-ewma: the power of two choices on peak-EWMA latency (as in
//     Finagle and Linkerd): two random candidates, the one with the lower
//     latency × (in-flight + 1) wins; the latency estimate jumps up to a
//     slower observation at once and decays towards faster ones with a
//     time constant of about 10 s.
//
// Independently of the policy: ClientIP session affinity keeps a client on
// its endpoint while it stays available and was used within the timeout;
// an endpoint whose connection failed is ejected for a back-off period
// (1 s doubling to 30 s; passive health checking), and when every endpoint
// is ejected they are all used again rather than none.
//
// A Balancer is safe for concurrent use; Pick is cheap (no allocation in
// the common case) so that it can sit on every connection's path.
package lb
