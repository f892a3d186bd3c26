package endpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/nodeapi"
	"github.com/berth-dev/berth/internal/pki"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// fakeBackend answers from fixed data.
type fakeBackend struct {
	logs      map[string]string // "ns/pod/container" -> log
	gotOpts   runtime.LogOptions
	gotPrev   bool
	gotMaxAge time.Duration
	services  []nodeapi.ServiceCount
}

func (f *fakeBackend) ContainerLogs(_ context.Context, ns, pod, container string, previous bool, opts runtime.LogOptions, w io.Writer) error {
	f.gotOpts, f.gotPrev = opts, previous
	l, ok := f.logs[ns+"/"+pod+"/"+container]
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is not known", container, pod))
	}
	_, err := io.WriteString(w, l)
	return err
}

func (f *fakeBackend) Exec(_ context.Context, ns, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	switch cmd[0] {
	case "cat": // echo stdin to stdout
		_, err := io.Copy(stdout, stdin)
		return 0, err
	case "fail":
		fmt.Fprintln(stderr, "failing")
		return 3, nil
	case "missing":
		return 0, apierrors.NewNotFound(nodeGR, pod)
	}
	fmt.Fprintf(stdout, "%s/%s/%s: %s\n", ns, pod, container, strings.Join(cmd, " "))
	return 0, nil
}

func (f *fakeBackend) ResourceMetrics(_ context.Context, maxAge time.Duration) nodeapi.ResourceMetrics {
	f.gotMaxAge = maxAge
	return nodeapi.ResourceMetrics{Node: metricsv1beta1.NodeMetrics{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}
}

func (f *fakeBackend) ServiceMetrics() nodeapi.ServiceMetrics {
	return nodeapi.ServiceMetrics{Timestamp: time.Now(), Services: f.services}
}

// serve starts the endpoint with a fresh CA; it returns its URL, a client
// with the API server's certificate and the client certificate.
func serve(t *testing.T, b Backend) (string, *http.Client, tls.Certificate) {
	t.Helper()
	dir := t.TempDir()
	bundle, err := pki.LoadOrCreate(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := pki.LoadOrCreateAgentClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.SelfSigned("node", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", Config{Backend: b, CAPEM: bundle.CAPEM, Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{client}, InsecureSkipVerify: true}}}
	return fmt.Sprintf("https://127.0.0.1:%d", s.Port()), hc, client
}

func TestLogs(t *testing.T) {
	b := &fakeBackend{logs: map[string]string{"default/web/app": "line 1\nline 2\n"}}
	base, hc, _ := serve(t, b)
	cases := []struct {
		name, query string
		code        int
		body        string
		check       func(t *testing.T)
	}{
		{name: "plain", code: 200, body: "line 1\nline 2\n", check: func(t *testing.T) {
			if b.gotOpts.TailLines != -1 || b.gotOpts.Follow || b.gotPrev {
				t.Errorf("options %+v previous %v", b.gotOpts, b.gotPrev)
			}
		}},
		{name: "options", query: "follow=true&previous=1&tailLines=0&timestamps=true&limitBytes=10&sinceSeconds=60", code: 200, check: func(t *testing.T) {
			o := b.gotOpts
			if !o.Follow || !b.gotPrev || o.TailLines != 0 || !o.Timestamps || o.LimitBytes != 10 || time.Since(o.Since) < 59*time.Second {
				t.Errorf("options %+v previous %v", o, b.gotPrev)
			}
		}},
		{name: "bad tail", query: "tailLines=-2", code: 400, body: "tailLines"},
		{name: "both since", query: "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", code: 400, body: "at most one"},
		{name: "bad bool", query: "follow=maybe", code: 400, body: "follow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := hc.Get(base + nodeapi.ContainerPath(nodeapi.ContainerLogsPrefix, "default", "web", "app") + "?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.code, tc.body)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
	// An unknown container is the backend's status error, as JSON.
	resp, err := hc.Get(base + nodeapi.ContainerPath(nodeapi.ContainerLogsPrefix, "default", "web", "nope"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 400 || !strings.Contains(st.Message, `"nope"`) {
		t.Fatalf("got %d %+v (%v)", resp.StatusCode, st, err)
	}
}

func TestCallersNeedTheAPIServerCertificate(t *testing.T) {
	base, _, _ := serve(t, &fakeBackend{})
	// No client certificate: the TLS handshake fails.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := anon.Get(base + nodeapi.HealthzPath); err == nil {
		resp.Body.Close()
		t.Fatalf("a caller without a certificate got %d", resp.StatusCode)
	}
	// A certificate from another CA: refused too.
	other, err := pki.SelfSigned(pki.AgentClientName, nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{other}, InsecureSkipVerify: true}}}
	if resp, err := stranger.Get(base + nodeapi.HealthzPath); err == nil {
		resp.Body.Close()
		t.Fatalf("a caller with a foreign certificate got %d", resp.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	b := &fakeBackend{}
	base, hc, _ := serve(t, b)
	getJSON := func(path string, into any) int {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		query string
		code  int
		want  time.Duration
	}{
		{"", 200, 0},
		{"?maxAge=5s", 200, 5 * time.Second},
		{"?maxAge=10ms", 200, nodeapi.MinMaxAge},
		{"?maxAge=soon", 400, 0},
		{"?maxAge=-1s", 400, 0},
	} {
		b.gotMaxAge = -1
		var m nodeapi.ResourceMetrics
		code := getJSON(nodeapi.ResourceMetricsPath+tc.query, &m)
		if code != tc.code || (code == 200 && (m.Node.Name != "n1" || b.gotMaxAge != tc.want)) {
			t.Errorf("%q: %d, node %q, maxAge %v; want %d, %v", tc.query, code, m.Node.Name, b.gotMaxAge, tc.code, tc.want)
		}
	}

	// Service counts: an empty list (not null) without a proxy.
	resp, err := hc.Get(base + nodeapi.ServiceMetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"services":[]`) {
		t.Errorf("service metrics without a proxy: %d %s", resp.StatusCode, body)
	}
	b.services = []nodeapi.ServiceCount{{Namespace: "default", Name: "web", Requests: 7,
		Endpoints: []nodeapi.EndpointCount{{IP: "10.42.0.5", Port: 8080, Requests: 7}}}}
	var sm nodeapi.ServiceMetrics
	if code := getJSON(nodeapi.ServiceMetricsPath, &sm); code != 200 || len(sm.Services) != 1 || sm.Services[0].Endpoints[0].Requests != 7 || sm.Timestamp.IsZero() {
		t.Errorf("service metrics: %d %+v", code, sm)
	}
}

// TestExecWithClientGo drives the endpoint with client-go's own WebSocket
// executor, the one kubectl exec uses.
func TestExecWithClientGo(t *testing.T) {
	base, _, client := serve(t, &fakeBackend{})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: client.Certificate[0]})
	keyPEM := keyPEMOf(t, client)
	cfg := &rest.Config{Host: base, TLSClientConfig: rest.TLSClientConfig{Insecure: true, CertData: certPEM, KeyData: keyPEM}}
	run := func(t *testing.T, query string, stdin io.Reader) (string, string, error) {
		t.Helper()
		u := base + nodeapi.ContainerPath(nodeapi.ExecPrefix, "default", "web", "app") + "?" + query
		ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u)
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Stderr: &errOut})
		return out.String(), errOut.String(), err
	}
	q := func(stdin bool, cmd ...string) string {
		v := url.Values{"command": cmd, "stdout": {"true"}, "stderr": {"true"}}
		if stdin {
			v.Set("stdin", "true")
		}
		return v.Encode()
	}
	t.Run("output", func(t *testing.T) {
		out, _, err := run(t, q(false, "echo", "hi"), nil)
		if err != nil || out != "default/web/app: echo hi\n" {
			t.Fatalf("out %q err %v", out, err)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		out, _, err := run(t, q(true, "cat"), strings.NewReader("from stdin\n"))
		if err != nil || out != "from stdin\n" {
			t.Fatalf("out %q err %v", out, err)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		_, errOut, err := run(t, q(false, "fail"), nil)
		var ee exec.CodeExitError
		if !errors.As(err, &ee) || ee.Code != 3 || errOut != "failing\n" {
			t.Fatalf("err %v (%T) stderr %q", err, err, errOut)
		}
	})
	t.Run("backend error", func(t *testing.T) {
		_, _, err := run(t, q(false, "missing"), nil)
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("tty refused", func(t *testing.T) {
		_, _, err := run(t, q(false, "sh")+"&tty=true", nil)
		if err == nil {
			t.Fatal("a TTY request succeeded")
		}
	})
}

func keyPEMOf(t *testing.T, c tls.Certificate) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
