package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// dial connects to addr until it answers and returns what it sends.
func dial(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(conn)
			conn.Close()
			if err == nil && len(b) > 0 {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// server is a script answering each TCP connection on port with msg.
func server(port int, msg string) string {
	return fmt.Sprintf("while :; do echo %s | nc -l -p %d; done", msg, port)
}

func TestNetworking(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	sb1 := sandboxFor(t, d, runtime.SandboxSpec{Name: "one", Namespace: "ns", Hostname: "host-one"})
	sb2 := sandboxFor(t, d, runtime.SandboxSpec{Name: "two"})
	for _, sb := range []runtime.Sandbox{sb1, sb2} {
		ip, err := netip.ParseAddr(sb.IP)
		if err != nil || !e.cidr.Contains(ip) || ip == e.cidr.Addr().Next() || sb.HostNetwork || sb.NetNS == "" {
			t.Fatalf("sandbox %+v: want an IP in %s (not the gateway), a netns", sb, e.cidr)
		}
	}
	start(t, d, e.spec(sb1, "web", server(8080, "hello-from-one")))

	t.Run("node reaches the pod", func(t *testing.T) {
		if got := dial(t, net.JoinHostPort(sb1.IP, "8080")); got != "hello-from-one\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("containers of a pod share localhost and the hostname", func(t *testing.T) {
		id := start(t, d, e.spec(sb1, "client", "hostname; until nc 127.0.0.1 8080 2>/dev/null; do sleep 0.1; done"))
		if st := wait(t, d, id); st.ExitCode != 0 {
			t.Fatalf("client exited %d: %s", st.ExitCode, logs(t, d, id))
		}
		if out := logs(t, d, id); out != "host-one\nhello-from-one\n" {
			t.Errorf("client wrote %q", out)
		}
	})
	t.Run("pods reach each other", func(t *testing.T) {
		id := start(t, d, e.spec(sb2, "client", "until nc "+sb1.IP+" 8080 2>/dev/null; do sleep 0.1; done"))
		if st := wait(t, d, id); st.ExitCode != 0 || logs(t, d, id) != "hello-from-one\n" {
			t.Errorf("client exited %d and wrote %q", st.ExitCode, logs(t, d, id))
		}
	})
	t.Run("host network", func(t *testing.T) {
		sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "hostnet", HostNetwork: true})
		if !sb.HostNetwork || sb.IP != "" || sb.NetNS != "" {
			t.Fatalf("host network sandbox %+v", sb)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, "from-the-node\n")
				c.Close()
			}
		}()
		port := l.Addr().(*net.TCPAddr).Port
		id := start(t, d, e.spec(sb, "client", fmt.Sprintf("nc 127.0.0.1 %d", port)))
		if st := wait(t, d, id); st.ExitCode != 0 || logs(t, d, id) != "from-the-node\n" {
			t.Errorf("client in the node's network exited %d and wrote %q", st.ExitCode, logs(t, d, id))
		}
		list, _ := d.ListSandboxes(t.Context())
		if i := slices.IndexFunc(list, func(s runtime.Sandbox) bool { return s.ID == sb.ID }); i < 0 || !list[i].HostNetwork {
			t.Errorf("listed %+v", list)
		}
	})
}

// TestAdoption checks that a new driver (an agent restart) lists the
// running pods again, with their labels and IPs, and that a driver of
// another node sharing the daemon sees none of them.
func TestAdoption(t *testing.T) {
	e := dockerEnv(t)
	d1 := newDriver(t, nil)
	labels := map[string]string{runtime.LabelPodUID: "uid-adopt", runtime.LabelPodName: "adopt", runtime.LabelPodNamespace: "default"}
	sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "adopt", PodUID: "uid-adopt", Labels: labels})
	spec := e.spec(sb, "sleeper", "echo ready; exec sleep 60")
	spec.Labels[runtime.LabelPodUID] = "uid-adopt"
	id := start(t, d1, spec)
	waitLogs(t, d1, id, "ready")
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d1.Inspect(t.Context(), id); !errors.Is(err, errClosed) {
		t.Errorf("Inspect on a closed driver: %v", err)
	}

	d2 := newDriver(t, nil)
	sbs, err := d2.ListSandboxes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sbs, func(s runtime.Sandbox) bool { return s.ID == sb.ID })
	if i < 0 || !maps.Equal(sbs[i].Labels, labels) || sbs[i].IP != sb.IP || !sbs[i].CreatedAt.Equal(sb.CreatedAt) {
		t.Fatalf("adopted sandboxes %+v, want %+v", sbs, sb)
	}
	list, err := d2.ListContainers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(list, func(c runtime.ContainerStatus) bool { return c.ID == id })
	if j < 0 || list[j].State != runtime.StateRunning || list[j].SandboxID != sb.ID || list[j].Name != "sleeper" ||
		list[j].Labels[runtime.LabelPodUID] != "uid-adopt" || list[j].Labels[LabelNode] != "" {
		t.Fatalf("adopted containers %+v", list)
	}
	if code, err := d2.Exec(t.Context(), id, []string{"true"}, nil, nil, nil); err != nil || code != 0 {
		t.Errorf("Exec in an adopted container: %d, %v", code, err)
	}

	other := newDriver(t, func(c *Config) { c.NodeName = e.node + "-other" })
	if sbs, _ := other.ListSandboxes(t.Context()); len(sbs) != 0 {
		t.Errorf("another node's driver lists %+v", sbs)
	}
	if cs, _ := other.ListContainers(t.Context()); len(cs) != 0 {
		t.Errorf("another node's driver lists %+v", cs)
	}
	if _, err := other.Inspect(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("another node's driver inspects our container: %v", err)
	}
	if err := other.RemoveSandbox(t.Context(), sb.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("another node's driver removes our sandbox: %v", err)
	}
	if err := d2.RemoveSandbox(t.Context(), sb.ID); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Driver{d2, other} {
		d.mu.Lock()
		if n := len(d.sandboxOps); n != 0 {
			t.Errorf("%d sandbox locks kept for removed or unknown sandboxes", n)
		}
		d.mu.Unlock()
	}
}

func TestResourcesAndOOM(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "res"})
	spec := e.spec(sb, "limited", "exec sleep 60")
	spec.CPUMilliLimit, spec.CPUMilliRequest, spec.MemoryLimitBytes = 500, 250, 64<<20
	id := start(t, d, spec)
	res, err := e.cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Container.HostConfig
	if h.CPUQuota != 50_000 || h.CPUPeriod != 100_000 || h.CPUShares != 256 || h.Memory != 64<<20 || h.MemorySwap != 64<<20 ||
		h.RestartPolicy.Name != "no" || h.Init == nil || !*h.Init {
		t.Errorf("host config: quota %d period %d shares %d memory %d swap %d restart %q init %v",
			h.CPUQuota, h.CPUPeriod, h.CPUShares, h.Memory, h.MemorySwap, h.RestartPolicy.Name, h.Init)
	}

	// A shell variable of 64 MiB does not fit in 16 MiB.
	hog := e.spec(sb, "hog", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}")
	hog.MemoryLimitBytes = 16 << 20
	st := wait(t, d, start(t, d, hog))
	if st.Reason != "OOMKilled" || st.ExitCode == 0 {
		t.Errorf("memory hog: %+v, want OOMKilled", st)
	}
}

func TestMountsApplied(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "vol"})
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "config"), []byte("from-the-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := e.spec(sb, "mounter", "cat /etc/app/config; echo; echo written > /data/out; echo nope > /etc/app/x && echo ro-writable")
	spec.Mounts = []runtime.Mount{{HostPath: rw, ContainerPath: "/data"}, {HostPath: ro, ContainerPath: "/etc/app", ReadOnly: true}}
	st := wait(t, d, start(t, d, spec))
	out := logs(t, d, st.ID)
	// stdout and stderr are copied apart: their lines may interleave.
	if !strings.Contains(out, "from-the-host\n") || !strings.Contains(out, "Read-only file system") || strings.Contains(out, "ro-writable") {
		t.Errorf("output %q (exit %d)", out, st.ExitCode)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "written\n" {
		t.Errorf("file written through the mount: %q, %v", b, err)
	}
}

func TestImages(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	tests := []struct {
		ref  string
		want bool
	}{{e.image, true}, {"berth-test/missing:" + e.runID, false}}
	for _, tc := range tests {
		if ok, err := d.ImagePresent(t.Context(), tc.ref); err != nil || ok != tc.want {
			t.Errorf("ImagePresent(%s) = %v, %v; want %v", tc.ref, ok, err, tc.want)
		}
	}
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "img"})
	spec := e.spec(sb, "missing", "true")
	spec.Image = "berth-test/missing:" + e.runID
	if _, err := d.CreateAndStart(t.Context(), spec); !errors.Is(err, runtime.ErrImageNotPresent) {
		t.Errorf("CreateAndStart with a missing image: %v, want ErrImageNotPresent", err)
	}
	spec.Image = ""
	if _, err := d.CreateAndStart(t.Context(), spec); err == nil {
		t.Errorf("CreateAndStart without an image succeeded")
	}
}

// TestCommandMerging runs an image with an ENTRYPOINT and a CMD with the
// four combinations of command and args.
func TestCommandMerging(t *testing.T) {
	img := testImage(t, "entry", []string{"ENV PATH=/bin", `ENTRYPOINT ["/bin/echo", "ep"]`, `CMD ["cmd"]`, "WORKDIR /tmp", `LABEL maintainer="berth test"`})
	d := newDriver(t, nil)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "cmd"})
	tests := []struct {
		name          string
		command, args []string
		want          string
	}{
		{name: "image", want: "ep cmd\n"},
		{name: "args", args: []string{"a1", "a2"}, want: "ep a1 a2\n"},
		{name: "command", command: []string{"/bin/echo", "c"}, want: "c\n"},
		{name: "both", command: []string{"/bin/echo", "c"}, args: []string{"a"}, want: "c a\n"},
		{name: "image workdir", command: []string{"/bin/pwd"}, want: "/tmp\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := runtime.ContainerSpec{SandboxID: sb.ID, Name: strings.ReplaceAll(tc.name, " ", "-"), Image: img, Command: tc.command, Args: tc.args,
				Labels: map[string]string{runtime.LabelContainer: "x"}}
			st := wait(t, d, start(t, d, spec))
			if out := logs(t, d, st.ID); st.ExitCode != 0 || out != tc.want {
				t.Errorf("exit %d, output %q; want %q", st.ExitCode, out, tc.want)
			}
			if !maps.Equal(st.Labels, spec.Labels) {
				t.Errorf("labels %v, want the spec's %v (not the image's)", st.Labels, spec.Labels)
			}
		})
	}
	noCmd := testImage(t, "nocmd", []string{"ENV PATH=/bin"})
	if _, err := d.CreateAndStart(t.Context(), runtime.ContainerSpec{SandboxID: sb.ID, Name: "x", Image: noCmd}); !errors.Is(err, runtime.ErrNoCommand) {
		t.Errorf("image and container without a command: %v, want ErrNoCommand", err)
	}
}

// TestStartFailure runs a missing executable: without docker-init the
// start fails and the container is reported exited with Docker's error;
// with it, docker-init starts and exits 127 with its complaint in the log.
func TestStartFailure(t *testing.T) {
	e := dockerEnv(t)
	tests := []struct {
		name     string
		noInit   bool
		startErr bool
		code     int
		inLog    string
	}{
		{name: "without init", noInit: true, startErr: true, code: 127},
		{name: "with init", code: 127, inLog: "/no/such/binary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, func(c *Config) { c.DisableInit = tc.noInit })
			sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "fail"})
			spec := e.spec(sb, "bad", "")
			spec.Command = []string{"/no/such/binary"}
			id, err := d.CreateAndStart(t.Context(), spec)
			if (err != nil) != tc.startErr || id == "" {
				t.Fatalf("CreateAndStart: %q, %v; want an ID and a start error %v", id, err, tc.startErr)
			}
			st := wait(t, d, id)
			if st.State != runtime.StateExited || st.ExitCode != tc.code || st.Reason != "Error" || st.StartedAt.IsZero() ||
				tc.startErr && st.Message == "" {
				t.Errorf("failed container: %+v; want exited with %d", st, tc.code)
			}
			if in, err := d.Inspect(t.Context(), id); err != nil || in.ExitCode != st.ExitCode || !in.FinishedAt.Equal(st.FinishedAt) {
				t.Errorf("Inspect: %+v, %v; Wait said %+v", in, err, st)
			}
			var out bytes.Buffer
			if err := d.Logs(t.Context(), id, runtime.LogOptions{TailLines: -1, Follow: true}, &out); err != nil || !strings.Contains(out.String(), tc.inLog) {
				t.Errorf("Logs: %q, %v; want %q in them", out.String(), err, tc.inLog)
			}
			if err := d.Remove(t.Context(), id); err != nil {
				t.Errorf("Remove: %v", err)
			}
		})
	}
}

func TestExecStdinAndCodes(t *testing.T) {
	e := dockerEnv(t)
	d := newDriver(t, nil)
	sb := sandboxFor(t, d, runtime.SandboxSpec{Name: "exec"})
	id := start(t, d, e.spec(sb, "c", "exec sleep 60"))
	tests := []struct {
		name   string
		cmd    []string
		stdin  io.Reader
		code   int
		stdout string
	}{
		{name: "stdin", cmd: []string{"cat"}, stdin: strings.NewReader("from stdin"), stdout: "from stdin"},
		{name: "killed", cmd: []string{"/bin/sh", "-c", "kill -9 $$"}, code: 137},
		{name: "not found", cmd: []string{"/no/such"}, code: 126, stdout: "no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code, err := d.Exec(t.Context(), id, tc.cmd, tc.stdin, &out, io.Discard)
			if err != nil || code != tc.code || !strings.Contains(out.String(), tc.stdout) || tc.stdout == "" && out.Len() > 0 {
				t.Errorf("Exec %q: %d, %v, %q; want %d, %q", tc.cmd, code, err, out.String(), tc.code, tc.stdout)
			}
		})
	}
	if _, err := d.Exec(t.Context(), id, nil, nil, nil, nil); err == nil {
		t.Errorf("Exec of an empty command succeeded")
	}

	// An abandoned exec is killed.
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := d.Exec(ctx, id, []string{"sh", "-c", "exec sleep 300"}, nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec with an expiring context: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out bytes.Buffer
		if _, err := d.Exec(t.Context(), id, []string{"ps", "-o", "args"}, nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "sleep 300") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the abandoned exec still runs:\n%s", out.String())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoGoroutineLeak checks that a closed driver leaves no goroutine
// behind, after starts, waits, follows, execs and stops, some of them
// abandoned through their contexts.
func TestNoGoroutineLeak(t *testing.T) {
	e := dockerEnv(t)
	warm := newDriver(t, nil) // the HTTP transport's own goroutines
	_ = warm.Close()
	settle := func() int {
		// Idle connections close asynchronously.
		n := goruntime.NumGoroutine()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			if m := goruntime.NumGoroutine(); m >= n {
				return n
			} else {
				n = m
			}
		}
		return n
	}
	before := settle()

	ctx := context.Background()
	d, err := New(ctx, e.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := d.RunSandbox(ctx, runtime.SandboxSpec{Name: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	short, err := d.CreateAndStart(ctx, e.spec(sb, "short", "echo a; sleep 0.2; echo b"))
	if err != nil {
		t.Fatal(err)
	}
	long, err := d.CreateAndStart(ctx, e.spec(sb, "long", "echo ready; exec sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Logs(ctx, short, runtime.LogOptions{Follow: true, TailLines: -1}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(context.Context) error{
		func(c context.Context) error {
			return d.Logs(c, long, runtime.LogOptions{Follow: true, TailLines: -1}, io.Discard)
		},
		func(c context.Context) error { _, err := d.Wait(c, long); return err },
		func(c context.Context) error {
			_, err := d.Exec(c, long, []string{"sleep", "30"}, nil, nil, nil)
			return err
		},
	} {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if err := f(c); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("abandoned call: %v, want the deadline", err)
		}
		cancel()
	}
	if _, err := d.Exec(ctx, long, []string{"true"}, strings.NewReader("x"), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContainerStats(ctx, long); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, long, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for settle() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
		}
	}
}

// TestNetworkReplaced checks that the driver replaces an unused network
// made for another pod CIDR (the node's changed) and refuses to touch one
// in use.
func TestNetworkReplaced(t *testing.T) {
	e := dockerEnv(t)
	name := e.network + "-r"
	bridge := "br" + e.runID
	other, err := freeSubnet()
	if err != nil {
		t.Fatal(err)
	}
	mod := func(cidr netip.Prefix) func(*Config) {
		return func(c *Config) { c.NetworkName, c.BridgeName, c.PodCIDR = name, bridge, cidr }
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	})
	second := netip.PrefixFrom(other.Addr(), 25) // another subnet, not overlapping any local address
	d1 := newDriver(t, mod(other))
	sb := sandboxFor(t, d1, runtime.SandboxSpec{Name: "net"})
	d2 := newDriver(t, mod(second))
	if _, err := d2.RunSandbox(t.Context(), runtime.SandboxSpec{Name: "net2"}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("RunSandbox with the network in use for another subnet: %v", err)
	}
	if err := d1.RemoveSandbox(t.Context(), sb.ID); err != nil {
		t.Fatal(err)
	}
	sb2 := sandboxFor(t, d2, runtime.SandboxSpec{Name: "net2"})
	if ip := netip.MustParseAddr(sb2.IP); !second.Contains(ip) {
		t.Errorf("sandbox IP %s not in the new subnet %s", ip, second)
	}
}
