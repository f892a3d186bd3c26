package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// berthBin is the binary under test.
var berthBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips itself
	}
	berthBin = os.Getenv("BERTH_BIN")
	if berthBin == "" {
		dir, err := os.MkdirTemp("", "berth-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		berthBin = filepath.Join(dir, "berth")
		build := exec.Command("go", "build", "-o", berthBin, "../../cmd/berth")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build berth:", err)
			return 1
		}
	}
	return m.Run()
}

// cluster is a `berth up` process with its data directory.
type cluster struct {
	t          *testing.T
	dataDir    string
	url        string
	kubeconfig string
	cacheDir   string
	cmd        *exec.Cmd
	logs       *lockedBuffer
	listen     string
	withAgent  bool
	// extraArgs are appended to the `berth up` command line.
	extraArgs []string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster runs `berth up` on a free port and waits for it to print
// the kubeconfig path.
// startCluster runs `berth up` without its local agent (the tests bring
// fake nodes), or with it when withAgent is set.
func startCluster(t *testing.T) *cluster { t.Helper(); return startClusterWith(t, false) }

// startClusterWith runs `berth up`, with the local agent if withAgent.
func startClusterWith(t *testing.T, withAgent bool) *cluster {
	t.Helper()
	return startClusterArgs(t, withAgent)
}

// startClusterArgs runs `berth up` as startClusterWith does, with extra
// arguments (e.g. --cluster-cidr, --node-name, --cni-bridge).
func startClusterArgs(t *testing.T, withAgent bool, extraArgs ...string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs the berth binary")
	}
	c := &cluster{t: t, dataDir: t.TempDir(), cacheDir: t.TempDir(), withAgent: withAgent,
		listen: fmt.Sprintf("127.0.0.1:%d", freePort(t)), extraArgs: extraArgs}
	t.Cleanup(c.stop)
	c.launch()
	return c
}

// launch starts `berth up` on c's data dir and address and waits until it
// prints the kubeconfig path.
func (c *cluster) launch() {
	t := c.t
	t.Helper()
	c.logs = &lockedBuffer{}
	// The local agent's endpoint gets a free port, so that clusters of
	// concurrent tests do not collide on the default 10250.
	args := []string{"up", "--data-dir", c.dataDir, "--listen", c.listen, "--log-level", "warn",
		fmt.Sprintf("--agent=%v", c.withAgent), "--agent-port", strconv.Itoa(freePort(t))}
	if c.withAgent && !slices.ContainsFunc(c.extraArgs, func(a string) bool { return strings.HasPrefix(a, "--driver") }) {
		// Tests run host binaries unless they ask for containers.
		args = append(args, "--driver=process")
	}
	c.cmd = exec.Command(berthBin, append(args, c.extraArgs...)...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c.logs
	started := time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "kubeconfig: "); ok {
				ready <- k
			}
		}
	}()
	select {
	case c.kubeconfig = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("berth up did not become ready in 60s; logs:\n%s", c.logs.String())
	}
	c.url = "https://" + c.listen
	t.Logf("berth up ready in %v", time.Since(started))
}

// restart stops `berth up` (its pods keep running) and starts it again on
// the same data directory.
func (c *cluster) restart() {
	c.t.Helper()
	c.stop()
	c.launch()
}

func (c *cluster) stop() {
	if c.cmd != nil && c.cmd.Process != nil && c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	}
	if c.t.Failed() {
		c.t.Logf("berth logs:\n%s", c.logs.String())
	}
}

// kubectl runs `berth kubectl args...` and returns its combined output.
func (c *cluster) kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"kubectl", "--cache-dir", c.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, berthBin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustKubectl runs kubectl and fails the test on error.
func (c *cluster) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// httpClient returns a client trusting the cluster CA, and the admin token.
func (c *cluster) httpClient() (*http.Client, string) {
	c.t.Helper()
	ca, err := os.ReadFile(filepath.Join(c.dataDir, "tls", "ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(c.dataDir, "admin-token"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, strings.TrimSpace(string(tok))
}

// expectMatch fails unless out matches every pattern.
func expectMatch(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("%s: output does not match %q:\n%s", what, p, out)
		}
	}
}

// lockedBuffer collects a process's stderr while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
