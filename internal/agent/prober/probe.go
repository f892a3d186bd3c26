package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Result is the outcome of one probe, or the state of a Worker.
type Result int

const (
	// Unknown means the probe could not be run (for example an exec probe
	// without an Execer, or a port that does not resolve). A Worker
	// discards such results: they neither count towards a threshold nor
	// reset a run of successes or failures. It is also the initial state
	// of a startup Worker.
	Unknown Result = iota
	// Success means the probe passed.
	Success
	// Warning means the probe passed with a warning: an HTTP probe was
	// redirected to another host and did not follow. It counts as Success.
	Warning
	// Failure means the probe failed.
	Failure
)

// String returns the result's name.
func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Warning:
		return "Warning"
	case Failure:
		return "Failure"
	default:
		return "Unknown"
	}
}

// Passed reports whether r counts as a successful probe.
func (r Result) Passed() bool { return r == Success || r == Warning }

// UserAgent is the User-Agent header of HTTP probes (unless the probe sets
// one) and of gRPC probes. It starts with "kube-probe/" like the
// kubelet's, for applications that recognise probes by it.
const UserAgent = "kube-probe/1.37 (berth)"

// DefaultTimeout is the probe timeout when timeoutSeconds is not set.
const DefaultTimeout = time.Second

// maxOutput bounds the HTTP body and exec output kept as a probe's message.
const maxOutput = 10 * 1024

// maxRedirects is how many same-host redirects an HTTP probe follows.
const maxRedirects = 10

// Execer runs cmd in the probed container and returns its exit code and
// combined output. err reports a failure to run the command at all (not a
// non-zero exit). It must return once ctx is done; the probe's timeout is
// set on ctx.
type Execer func(ctx context.Context, cmd []string) (exitCode int, output string, err error)

// Target is what a probe runs against.
type Target struct {
	// PodIP is the host of httpGet and tcpSocket probes without a host,
	// and of grpc probes.
	PodIP string
	// Ports are the container's ports, for probes that name a port.
	Ports []corev1.ContainerPort
	// Exec runs exec probes; exec probes fail with Unknown without it.
	Exec Execer
}

// Probe runs probe against target once, bounded by probe's timeoutSeconds
// (default 1 s), and returns the result and a message: the reason of a
// failure, the output of an exec probe, or the body of an HTTP response
// (both cut to 10 KiB).
func Probe(ctx context.Context, probe *corev1.Probe, target Target) (Result, string) {
	if probe == nil {
		return Unknown, "no probe"
	}
	timeout := time.Duration(probe.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := &probe.ProbeHandler
	var res Result
	var msg string
	switch {
	case h.Exec != nil:
		res, msg = probeExec(pctx, h.Exec.Command, target.Exec, timeout)
	case h.HTTPGet != nil:
		res, msg = probeHTTP(pctx, h.HTTPGet, target, timeout)
	case h.TCPSocket != nil:
		res, msg = probeTCP(pctx, h.TCPSocket, target, timeout)
	case h.GRPC != nil:
		res, msg = probeGRPC(pctx, h.GRPC, target, timeout)
	default:
		return Unknown, "probe has no handler (exec, httpGet, tcpSocket or grpc)"
	}
	if ctx.Err() != nil && res == Failure {
		// The owner stopped probing; that says nothing about the container.
		return Unknown, "probe cancelled: " + msg
	}
	return res, msg
}

// ResolvePort returns the port number of port: the number itself, or the
// containerPort of the container port with that name (a string holding a
// number is taken as the number when no port has that name, as the
// kubelet does). The port must be in 1–65535.
func ResolvePort(port intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	n := 0
	switch port.Type {
	case intstr.Int:
		n = int(port.IntVal)
	case intstr.String:
		if port.StrVal == "" {
			return 0, errors.New("port is empty")
		}
		found := false
		for _, p := range ports {
			if p.Name == port.StrVal {
				n, found = int(p.ContainerPort), true
				break
			}
		}
		if !found {
			v, err := strconv.Atoi(port.StrVal)
			if err != nil {
				return 0, fmt.Errorf("no container port named %q", port.StrVal)
			}
			n = v
		}
	default:
		return 0, fmt.Errorf("invalid port type %d", port.Type)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d is not in 1-65535", n)
	}
	return n, nil
}

// timedOut is the failure message of a probe that ran out of time.
func timedOut(what string, timeout time.Duration) string {
	return fmt.Sprintf("%s timed out after %v", what, timeout)
}

// probeExec runs an exec probe.
func probeExec(ctx context.Context, cmd []string, exec Execer, timeout time.Duration) (Result, string) {
	if exec == nil {
		return Unknown, "exec probes are not available: no Execer"
	}
	if len(cmd) == 0 {
		return Unknown, "exec probe has no command"
	}
	code, out, err := exec(ctx, cmd)
	out = truncate(out)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Failure, timedOut(fmt.Sprintf("command %q", cmd), timeout)
		}
		return Unknown, fmt.Sprintf("exec probe error: %v", err)
	}
	if code != 0 {
		msg := fmt.Sprintf("command %q exited with code %d", cmd, code)
		if out != "" {
			msg += ": " + out
		}
		return Failure, msg
	}
	return Success, out
}

// probeTCP runs a tcpSocket probe.
func probeTCP(ctx context.Context, a *corev1.TCPSocketAction, t Target, timeout time.Duration) (Result, string) {
	port, err := ResolvePort(a.Port, t.Ports)
	if err != nil {
		return Unknown, fmt.Sprintf("tcpSocket probe: %v", err)
	}
	host := a.Host
	if host == "" {
		host = t.PodIP
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Failure, timedOut("dial tcp "+addr, timeout)
		}
		return Failure, err.Error()
	}
	_ = conn.Close()
	return Success, ""
}

// probeHTTP runs an httpGet probe.
func probeHTTP(ctx context.Context, a *corev1.HTTPGetAction, t Target, timeout time.Duration) (Result, string) {
	port, err := ResolvePort(a.Port, t.Ports)
	if err != nil {
		return Unknown, fmt.Sprintf("httpGet probe: %v", err)
	}
	host := a.Host
	if host == "" {
		host = t.PodIP
	}
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	u := probeURL(scheme, host, port, a.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Unknown, fmt.Sprintf("httpGet probe: %v", err)
	}
	for _, h := range a.HTTPHeaders {
		if http.CanonicalHeaderKey(h.Name) == "Host" {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", UserAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	}
	tr := &http.Transport{
		Proxy:              nil,                                   // probes go to the pod, never through a proxy
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe targets either
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Failure, timedOut("GET "+u.String(), timeout)
		}
		return Failure, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Failure, timedOut("reading the body of GET "+u.String(), timeout)
		}
		return Failure, fmt.Sprintf("reading response body: %v", err)
	}
	body := string(b)
	switch {
	case resp.StatusCode >= http.StatusMultipleChoices && resp.StatusCode < http.StatusBadRequest:
		return Warning, fmt.Sprintf("probe terminated redirects to %q (status %d), response body: %s",
			resp.Header.Get("Location"), resp.StatusCode, body)
	case resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusMultipleChoices:
		return Success, body
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// probeURL builds scheme://host:port/path; path may carry a query.
func probeURL(scheme, host string, port int, path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme, u.Host = scheme, net.JoinHostPort(host, strconv.Itoa(port))
	if u.Path == "" && u.Opaque == "" {
		u.Path = "/"
	}
	return u
}

// sameHostRedirects follows redirects to the probed host (up to
// maxRedirects) and stops at one to another host, returning that
// response.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// probeGRPC runs a grpc probe: the grpc.health.v1.Health Check RPC.
func probeGRPC(ctx context.Context, a *corev1.GRPCAction, t Target, timeout time.Duration) (Result, string) {
	if a.Port < 1 || a.Port > 65535 {
		return Unknown, fmt.Sprintf("grpc probe: port %d is not in 1-65535", a.Port)
	}
	addr := net.JoinHostPort(t.PodIP, strconv.Itoa(int(a.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(UserAgent))
	if err != nil {
		return Unknown, fmt.Sprintf("grpc probe: %v", err)
	}
	defer conn.Close()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		st, _ := status.FromError(err)
		switch {
		case st.Code() == codes.Unimplemented:
			return Failure, fmt.Sprintf("this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", st.Message())
		case st.Code() == codes.DeadlineExceeded || errors.Is(ctx.Err(), context.DeadlineExceeded):
			return Failure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
		}
		return Failure, fmt.Sprintf("error: health rpc probe failed: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return Success, "service is serving"
}

// truncate cuts s to maxOutput bytes.
func truncate(s string) string {
	if len(s) > maxOutput {
		return s[:maxOutput]
	}
	return s
}
