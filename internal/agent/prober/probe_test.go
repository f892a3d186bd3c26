package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostPort splits a test server's URL into host and port.
func hostPort(t *testing.T, raw string) (string, int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), port
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func httpMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "all good") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mux.HandleFunc("/399", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(399) })
	mux.HandleFunc("/400", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	mux.HandleFunc("/redirect-local", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/redirect-local-fail", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fail", http.StatusFound)
	})
	mux.HandleFunc("/redirect-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.example.invalid/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		var bad []string
		if r.Host != "probe.example" {
			bad = append(bad, "host "+r.Host)
		}
		if r.Header.Get("X-Custom") != "v1" {
			bad = append(bad, "x-custom "+r.Header.Get("X-Custom"))
		}
		if !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			bad = append(bad, "user-agent "+r.UserAgent())
		}
		if r.Header.Get("Accept") != "*/*" {
			bad = append(bad, "accept "+r.Header.Get("Accept"))
		}
		if len(bad) > 0 {
			http.Error(w, strings.Join(bad, "; "), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != "mine" {
			http.Error(w, "user-agent "+r.UserAgent(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("x") != "1" {
			http.Error(w, "query "+r.URL.RawQuery, http.StatusBadRequest)
		}
	})
	return mux
}

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(httpMux())
	t.Cleanup(srv.Close) // parallel subtests run after this function returns
	tls := httptest.NewTLSServer(httpMux())
	t.Cleanup(tls.Close)
	ip, port := hostPort(t, srv.URL)
	_, tlsPort := hostPort(t, tls.URL)
	dead := closedPort(t)

	get := func(path string, port intstr.IntOrString, mod ...func(*corev1.HTTPGetAction)) *corev1.Probe {
		a := &corev1.HTTPGetAction{Path: path, Port: port}
		for _, m := range mod {
			m(a)
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: a}}
	}
	p := intstr.FromInt32(int32(port))
	tests := []struct {
		name    string
		probe   *corev1.Probe
		target  Target
		want    Result
		message string // a substring of the message
	}{
		{"200 with body", get("/ok", p), Target{PodIP: ip}, Success, "all good"},
		{"500 fails", get("/fail", p), Target{PodIP: ip}, Failure, "statuscode: 500"},
		{"399 passes", get("/399", p), Target{PodIP: ip}, Warning, ""},
		{"400 fails", get("/400", p), Target{PodIP: ip}, Failure, "statuscode: 400"},
		{"same-host redirect followed", get("/redirect-local", p), Target{PodIP: ip}, Success, "all good"},
		{"same-host redirect to failure", get("/redirect-local-fail", p), Target{PodIP: ip}, Failure, "statuscode: 500"},
		{"other-host redirect not followed", get("/redirect-other", p), Target{PodIP: ip}, Warning, "other.example.invalid"},
		{"redirect loop", get("/loop", p), Target{PodIP: ip}, Failure, "stopped after 10 redirects"},
		{"timeout", get("/slow", p), Target{PodIP: ip}, Failure, "timed out after 1s"},
		{"headers and Host", get("/headers", p, func(a *corev1.HTTPGetAction) {
			a.HTTPHeaders = []corev1.HTTPHeader{{Name: "Host", Value: "probe.example"}, {Name: "X-Custom", Value: "v1"}}
		}), Target{PodIP: ip}, Success, ""},
		{"user agent override", get("/agent", p, func(a *corev1.HTTPGetAction) {
			a.HTTPHeaders = []corev1.HTTPHeader{{Name: "user-agent", Value: "mine"}}
		}), Target{PodIP: ip}, Success, ""},
		{"path with query", get("/query?x=1", p), Target{PodIP: ip}, Success, ""},
		{"named port", get("/ok", intstr.FromString("web")),
			Target{PodIP: ip, Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 1}, {Name: "web", ContainerPort: int32(port)}}}, Success, ""},
		{"number as string", get("/ok", intstr.FromString(strconv.Itoa(port))), Target{PodIP: ip}, Success, ""},
		{"unknown port name", get("/ok", intstr.FromString("web")), Target{PodIP: ip}, Unknown, `no container port named "web"`},
		{"explicit host beats pod IP", get("/ok", p, func(a *corev1.HTTPGetAction) { a.Host = ip }), Target{PodIP: "192.0.2.1"}, Success, ""},
		{"https", get("/ok", intstr.FromInt32(int32(tlsPort)), func(a *corev1.HTTPGetAction) { a.Scheme = corev1.URISchemeHTTPS }),
			Target{PodIP: ip}, Success, "all good"},
		{"connection refused", get("/ok", intstr.FromInt32(int32(dead))), Target{PodIP: ip}, Failure, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg := Probe(context.Background(), tc.probe, tc.target)
			if got != tc.want || !strings.Contains(msg, tc.message) {
				t.Errorf("Probe = %v %q, want %v containing %q", got, msg, tc.want, tc.message)
			}
		})
	}
}

func TestProbeTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // owned: ends when the listener is closed
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	dead := closedPort(t)
	tcp := func(host string, port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: host, Port: port}}}
	}
	tests := []struct {
		name    string
		probe   *corev1.Probe
		target  Target
		want    Result
		message string
	}{
		{"listening", tcp("", intstr.FromInt32(int32(port))), Target{PodIP: "127.0.0.1"}, Success, ""},
		{"named port", tcp("", intstr.FromString("db")), Target{PodIP: "127.0.0.1", Ports: []corev1.ContainerPort{{Name: "db", ContainerPort: int32(port)}}}, Success, ""},
		{"explicit host", tcp("127.0.0.1", intstr.FromInt32(int32(port))), Target{PodIP: "192.0.2.1"}, Success, ""},
		{"refused", tcp("", intstr.FromInt32(int32(dead))), Target{PodIP: "127.0.0.1"}, Failure, "refused"},
		{"bad port name", tcp("", intstr.FromString("db")), Target{PodIP: "127.0.0.1"}, Unknown, `no container port named "db"`},
		{"port out of range", tcp("", intstr.FromInt32(70000)), Target{PodIP: "127.0.0.1"}, Unknown, "not in 1-65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Probe(context.Background(), tc.probe, tc.target)
			if got != tc.want || !strings.Contains(msg, tc.message) {
				t.Errorf("Probe = %v %q, want %v containing %q", got, msg, tc.want, tc.message)
			}
		})
	}
}

func TestProbeExec(t *testing.T) {
	exit := func(code int, out string, err error) Execer {
		return func(context.Context, []string) (int, string, error) { return code, out, err }
	}
	hang := func(ctx context.Context, _ []string) (int, string, error) {
		<-ctx.Done()
		return -1, "", ctx.Err()
	}
	var gotCmd []string
	record := func(_ context.Context, cmd []string) (int, string, error) {
		gotCmd = cmd
		return 0, "", nil
	}
	tests := []struct {
		name    string
		cmd     []string
		exec    Execer
		want    Result
		message string
	}{
		{"exit 0", []string{"true"}, exit(0, "fine\n", nil), Success, "fine"},
		{"exit 1 with output", []string{"false"}, exit(1, "broken", nil), Failure, `command ["false"] exited with code 1: broken`},
		{"exit 2 without output", []string{"check"}, exit(2, "", nil), Failure, "exited with code 2"},
		{"runtime error", []string{"check"}, exit(0, "", errors.New("container not running")), Unknown, "container not running"},
		{"timeout", []string{"sleep", "10"}, hang, Failure, "timed out after 1s"},
		{"no execer", []string{"true"}, nil, Unknown, "no Execer"},
		{"command passed through", []string{"cat", "/tmp/healthy"}, record, Success, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: tc.cmd}}}
			got, msg := Probe(context.Background(), probe, Target{Exec: tc.exec})
			if got != tc.want || !strings.Contains(msg, tc.message) {
				t.Errorf("Probe = %v %q, want %v containing %q", got, msg, tc.want, tc.message)
			}
		})
	}
	if strings.Join(gotCmd, " ") != "cat /tmp/healthy" {
		t.Errorf("execer got %q", gotCmd)
	}
}

func TestProbeGRPC(t *testing.T) {
	serve := func(withHealth bool) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		if withHealth {
			hs := health.NewServer()
			hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
			healthpb.RegisterHealthServer(s, hs)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Serve(l) }()
		t.Cleanup(func() { s.Stop(); <-done })
		return l.Addr().(*net.TCPAddr).Port
	}
	healthy, bare, dead := serve(true), serve(false), closedPort(t)
	svc := func(s string) *string { return &s }
	tests := []struct {
		name    string
		port    int
		service *string
		want    Result
		message string
	}{
		{"serving", healthy, nil, Success, "serving"},
		{"named service serving", healthy, svc(""), Success, ""},
		{"not serving", healthy, svc("down"), Failure, "NOT_SERVING"},
		{"unknown service", healthy, svc("nope"), Failure, "health rpc probe failed"},
		{"no health service", bare, nil, Failure, "does not implement the grpc health protocol"},
		{"nothing listening", dead, nil, Failure, "health rpc probe failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(tc.port), Service: tc.service}}}
			got, msg := Probe(context.Background(), probe, Target{PodIP: "127.0.0.1"})
			if got != tc.want || !strings.Contains(msg, tc.message) {
				t.Errorf("Probe = %v %q, want %v containing %q", got, msg, tc.want, tc.message)
			}
		})
	}
}

func TestProbeCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closedPort(t)))}}}
	if got, msg := Probe(ctx, probe, Target{PodIP: "127.0.0.1"}); got != Unknown {
		t.Errorf("Probe = %v %q, want Unknown", got, msg)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Unknown: "Unknown", Success: "Success", Warning: "Warning", Failure: "Failure"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
}
