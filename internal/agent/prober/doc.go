// Package prober runs container probes as Kubernetes defines them, for the
// node agent.
//
// Probe runs one probe of any handler type: httpGet (GET to
// scheme://host:port/path, host defaulting to the pod IP, the port given
// by number or by the name of a container port, custom httpHeaders
// including Host; 200–399 succeeds; redirects are followed on the same
// host only, a redirect to another host ends the probe with a Warning,
// which counts as success), tcpSocket (a TCP connect), exec (a command
// run in the container through an injected Execer; exit code 0 succeeds)
// and grpc (the grpc.health.v1 Check RPC; SERVING succeeds). Every probe
// is bounded by timeoutSeconds (default 1 s).
//
// A Worker repeats one probe of one container (a startup, liveness or
// readiness probe) and keeps its state: it waits initialDelaySeconds after
// the container started, probes every periodSeconds (default 10), and
// changes its state only after successThreshold consecutive successes
// (default 1) or failureThreshold consecutive failures (default 3), as
// the kubelet's probe workers do. Readiness starts as Failure, liveness as
// Success, startup as Unknown. Liveness and readiness workers of a
// container with a startup probe do not probe until the startup probe
// succeeded (WorkerConfig.Gate). State changes are reported through a
// callback. The owner runs each Worker in a goroutine of its own and stops
// it through the context; timing uses an injectable Clock.
//
// Validate and ValidateContainer check probe specs against the
// container (a named port must exist, exactly one handler, no negative
// values) and return errors naming the offending field, for the agent to
// report on the pod.
package prober
