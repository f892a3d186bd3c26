package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy/lb"
)

// echoed is what echoBackend saw of a request.
type echoed struct {
	Method, URI, Host, Proto string
	Header                   http.Header
	Body                     string
}

// echoBackend answers every request with what it received, as JSON; the
// path selects special answers (see the handler).
func echoBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			// Three chunks, each sent on its own after the client asked
			// for it by the query (?wait) — here simply spaced out.
			fl := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				fl.Flush()
				time.Sleep(50 * time.Millisecond)
			}
			return
		case "/hop":
			w.Header().Set("Connection", "X-Private")
			w.Header().Set("X-Private", "secret")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Public", "ok")
			return
		case "/bighead":
			w.Header().Set("X-Big", strings.Repeat("b", 40<<10))
			io.WriteString(w, "ok")
			return
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.(http.Flusher).Flush()
			io.WriteString(w, "data")
			w.Header().Set("X-Sum", "42")
			return
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
			return
		case "/upgrade":
			if r.Header.Get("Upgrade") != "echo" {
				http.Error(w, "no upgrade", 400)
				return
			}
			c, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			brw.Flush()
			line, _ := brw.ReadString('\n')
			brw.WriteString("echo:" + line)
			brw.Flush()
			return
		}
		b, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(echoed{Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto, Header: r.Header, Body: string(b)})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func httpPort(t *testing.T, addrs ...string) *Port {
	t.Helper()
	var eps []lb.Endpoint
	for _, a := range addrs {
		eps = append(eps, lb.Endpoint{Addr: a})
	}
	return &Port{Service: "default/web:80", Mode: ModeHTTP, Balancer: balancer(t, lb.RoundRobin, eps...)}
}

// rawExchange sends raw bytes on a new connection to addr and reads
// answers until the connection ends or nothing came for a while.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

func TestHTTPModeForwardsRequests(t *testing.T) {
	url, _ := startHTTP(t, httpPort(t, echoBackend(t)))
	client := &http.Client{Timeout: 5 * time.Second}
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     echoed
		absent                   []string // headers that must not reach the endpoint
	}{
		{name: "get", method: "GET", path: "/a/b?x=1&y=%20",
			want: echoed{Method: "GET", URI: "/a/b?x=1&y=%20", Proto: "HTTP/1.1"}},
		{name: "post with body", method: "POST", path: "/p", body: "hello",
			want: echoed{Method: "POST", URI: "/p", Body: "hello", Proto: "HTTP/1.1"}},
		{name: "spoofed forwarding headers are replaced", method: "GET", path: "/f",
			header: map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil", "X-Forwarded-Proto": "https", "Forwarded": "for=6.6.6.6"},
			want:   echoed{Method: "GET", URI: "/f", Proto: "HTTP/1.1"}, absent: []string{"Forwarded"}},
		{name: "hop-by-hop headers are dropped", method: "GET", path: "/h",
			header: map[string]string{"Keep-Alive": "timeout=5", "Te": "trailers", "Proxy-Authorization": "Basic eA==", "X-Kept": "1"},
			want:   echoed{Method: "GET", URI: "/h", Proto: "HTTP/1.1"}, absent: []string{"Keep-Alive", "Te", "Proxy-Authorization"}},
		{name: "chunked request body (fallback server)", method: "POST", path: "/c", body: "chunky",
			header: map[string]string{"Transfer-Encoding": "chunked"},
			want:   echoed{Method: "POST", URI: "/c", Body: "chunky", Proto: "HTTP/1.1"}},
		{name: "large body (fallback server)", method: "PUT", path: "/l", body: strings.Repeat("z", 20000),
			want: echoed{Method: "PUT", URI: "/l", Body: strings.Repeat("z", 20000), Proto: "HTTP/1.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, url+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.header["Transfer-Encoding"] == "chunked" {
				req.ContentLength = -1
				req.Body = io.NopCloser(body)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got echoed
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			host := strings.TrimPrefix(url, "http://")
			if got.Method != tc.want.Method || got.URI != tc.want.URI || got.Body != tc.want.Body || got.Proto != tc.want.Proto || got.Host != host {
				t.Errorf("endpoint saw %+v, want %+v (host %s)", got, tc.want, host)
			}
			if xff := got.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", xff)
			}
			if got.Header.Get("X-Forwarded-Host") != host || got.Header.Get("X-Forwarded-Proto") != "http" {
				t.Errorf("X-Forwarded-Host/Proto %q %q", got.Header.Get("X-Forwarded-Host"), got.Header.Get("X-Forwarded-Proto"))
			}
			for _, h := range tc.absent {
				if v := got.Header.Get(h); v != "" {
					t.Errorf("%s reached the endpoint: %q", h, v)
				}
			}
			if v, ok := tc.header["X-Kept"]; ok && got.Header.Get("X-Kept") != v {
				t.Errorf("X-Kept lost: %v", got.Header)
			}
		})
	}
}

func TestHTTPModeResponses(t *testing.T) {
	url, _ := startHTTP(t, httpPort(t, echoBackend(t)))
	addr := strings.TrimPrefix(url, "http://")
	client := &http.Client{Timeout: 5 * time.Second}

	t.Run("hop-by-hop response headers", func(t *testing.T) {
		resp, err := client.Get(url + "/hop")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Public") != "ok" || resp.Header.Get("X-Private") != "" || resp.Header.Get("Keep-Alive") != "" {
			t.Errorf("headers %v", resp.Header)
		}
	})
	t.Run("large head", func(t *testing.T) {
		resp, err := client.Get(url + "/bighead")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(resp.Header.Get("X-Big")) != 40<<10 || string(b) != "ok" {
			t.Errorf("status %d, X-Big of %d bytes, body %q", resp.StatusCode, len(resp.Header.Get("X-Big")), b)
		}
	})
	t.Run("trailers", func(t *testing.T) {
		resp, err := client.Get(url + "/trailer")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "data" || resp.Trailer.Get("X-Sum") != "42" {
			t.Errorf("body %q, trailer %v", b, resp.Trailer)
		}
	})
	t.Run("large body", func(t *testing.T) {
		resp, err := client.Get(url + "/big")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 1<<20 {
			t.Errorf("read %d bytes, %v", len(b), err)
		}
	})
	t.Run("streamed chunks arrive as sent", func(t *testing.T) {
		start := time.Now()
		resp, err := client.Get(url + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.TransferEncoding == nil || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("transfer encoding %v", resp.TransferEncoding)
		}
		buf := make([]byte, 100)
		n, err := resp.Body.Read(buf)
		if err != nil || string(buf[:n]) != "part0;" {
			t.Fatalf("first read %q %v", buf[:n], err)
		}
		if d := time.Since(start); d > 90*time.Millisecond {
			t.Errorf("first chunk after %v: held back until later chunks", d)
		}
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "part1;part2;" {
			t.Errorf("rest %q", rest)
		}
	})
	tests := []struct {
		name, raw string
		want      []string // in order in the answer
		wantNot   []string
	}{
		{name: "pipelined requests, answers in order",
			raw:  "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nHEAD /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want: []string{`"URI":"/one"`, `"URI":"/two"`, "HTTP/1.1 200 OK", "Connection: close\r\n"}, wantNot: []string{`"/three"`}},
		{name: "204 has no body", raw: "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			want: []string{"HTTP/1.1 204 No Content", `"URI":"/after"`}},
		{name: "bare LF is left to the fallback server", raw: "GET /lf HTTP/1.1\nHost: x\n\n",
			want: []string{`"URI":"/lf"`}},
		{name: "HTTP/1.0 client (fallback server)", raw: "GET /old HTTP/1.0\r\nHost: x\r\n\r\n",
			want: []string{"HTTP/1.0 200 OK", `"URI":"/old"`}},
		{name: "missing Host is refused", raw: "GET /nohost HTTP/1.1\r\n\r\n",
			want: []string{"HTTP/1.1 400 Bad Request"}, wantNot: []string{"/nohost"}},
		{name: "conflicting lengths are refused", raw: "POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			want: []string{"HTTP/1.1 400 Bad Request"}, wantNot: []string{`"/cl"`}},
		{name: "expect 100-continue (fallback server)", raw: "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
			want: []string{`"Body":"ok"`}},
	}
	t.Run("upgrade (fallback server)", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade answer %v %v", resp, err)
		}
		io.WriteString(c, "ping\n")
		if line, err := r.ReadString('\n'); err != nil || line != "echo:ping\n" {
			t.Errorf("over the upgraded connection: %q %v", line, err)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.raw)
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("answer lacks %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("answer has %q:\n%s", w, got)
				}
			}
		})
	}
}

// closingBackend answers one request per connection with keep-alive
// framing and then closes the connection without saying so, as an
// endpoint whose idle timeout passed does.
func closingBackend(t *testing.T, name string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				if _, err := http.ReadRequest(r); err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(name), name)
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

func TestHTTPModeStaleUpstreamConnection(t *testing.T) {
	addr, conns := closingBackend(t, "fresh")
	url, m := startHTTP(t, httpPort(t, addr))
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 5 {
		time.Sleep(20 * time.Millisecond) // the close reaches the proxy's side
		code, body := get(t, client, url)
		if code != 200 || body != "fresh" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("%d upstream connections for 5 requests", n)
	}
	if n := counterValue(t, m.failures.WithLabelValues("default/web:80", "upstream")); n != 0 {
		t.Errorf("%v upstream failures counted", n)
	}
	// A POST is not sent again on a new connection: it fails with 502
	// when its reused connection turns out closed.
	resp, err := client.Post(url, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		// The first POST may find no idle connection (then it is fine);
		// with one it must not be retried.
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("POST: %d", resp.StatusCode)
		}
	}
}

func TestHTTPModeShutdownClosesConnections(t *testing.T) {
	slow, _ := httpBackend(t, "slow", 10*time.Second)
	addr, _, stop := startMode(t, httpPort(t, slow), (*Forwarder).ServeHTTPMode)
	// One client idle on the fast path, one waiting for a slow answer,
	// one on the fallback server (HTTP/1.0 keep-alive).
	clients := map[string]string{
		"idle":     "",
		"waiting":  "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"fallback": "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
	}
	conns := map[string]net.Conn{}
	for name, req := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		conns[name] = c
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	stop() // fails the test unless ServeHTTPMode returns within 5 s
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for name, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("%s client: connection not closed: %v", name, err)
		}
	}
}

func TestReqHeadParse(t *testing.T) {
	tests := []struct {
		name, head string
		ok         bool
		length     int64
		close      bool
	}{
		{"simple", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, 0, false},
		{"length and close", "POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\nConnection: keep-alive, close\r\n\r\n", true, 12, true},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", false, 0, false},
		{"absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, false},
		{"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, false},
		{"no host", "GET / HTTP/1.1\r\n\r\n", false, 0, false},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false, 0, false},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0, false},
		{"upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false, 0, false},
		{"other connection option", "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo\r\n\r\n", false, 0, false},
		{"folded line", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", false, 0, false},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", false, 0, false},
		{"bad length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", false, 0, false},
		{"control character", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", false, 0, false},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q reqHead
			ok := q.parse([]byte(tc.head))
			if ok != tc.ok || (ok && (q.contentLength != tc.length || q.close != tc.close)) {
				t.Errorf("parse = %v (length %d, close %v), want %v (%d, %v)", ok, q.contentLength, q.close, tc.ok, tc.length, tc.close)
			}
		})
	}
}

func TestRespHeadParse(t *testing.T) {
	tests := []struct {
		name, head string
		headReq    bool
		ok         bool
		body       int
		length     int64
		reusable   bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, true, bodyLength, 5, true},
		{"chunked overrides length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false, true, bodyChunked, 0, true},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", false, true, bodyUntilClose, 0, true},
		{"gzip only: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, true, bodyUntilClose, 0, true},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, true, bodyNone, 0, true},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, true, bodyNone, 0, true},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, true, bodyLength, 0, false},
		{"1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, true, bodyLength, 1, false},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false, true, bodyLength, 1, true},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", false, true, bodyLength, 1, true},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, false, 0, 0, false},
		{"HTTP/2", "HTTP/2 200 OK\r\n\r\n", false, false, 0, 0, false},
		{"bad code", "HTTP/1.1 2x0 OK\r\n\r\n", false, false, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s respHead
			ok := s.parse([]byte(tc.head), tc.headReq)
			if ok != tc.ok || (ok && (s.body != tc.body || s.contentLength != tc.length || s.reusable != tc.reusable)) {
				t.Errorf("parse = %v (body %d, length %d, reusable %v), want %v (%d, %d, %v)",
					ok, s.body, s.contentLength, s.reusable, tc.ok, tc.body, tc.length, tc.reusable)
			}
		})
	}
}

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in  string
		end int
		ok  bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nnext", 27, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0, true},
		{"GET / HTTP/1.1\r\n\r\n", 18, true},
		{"GET / HTTP/1.1\nHost: a\n\n", 15, false},
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", 24, false},
		{"", 0, true},
	}
	for _, tc := range tests {
		if end, ok := headEnd([]byte(tc.in)); end != tc.end || ok != tc.ok {
			t.Errorf("headEnd(%q) = %d, %v; want %d, %v", tc.in, end, ok, tc.end, tc.ok)
		}
	}
}

func TestChunkSize(t *testing.T) {
	tests := []struct {
		line string
		n    int64
		ok   bool
	}{
		{"0\r\n", 0, true}, {"1a\r\n", 26, true}, {"FF;ext=1\r\n", 255, true}, {"\r\n", 0, false},
		{"x\r\n", 0, false}, {"1234567890abcdef0\r\n", 0, false},
	}
	for _, tc := range tests {
		if n, ok := chunkSize([]byte(tc.line)); n != tc.n || ok != tc.ok {
			t.Errorf("chunkSize(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}
