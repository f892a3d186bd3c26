//go:build linux

package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireCNI skips the test unless it can set up real pod networks here:
// not -short, root, Linux with the plugins installed.
func requireCNI(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: creates network namespaces and a bridge; runs without -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, a bridge and veth pairs")
	}
	for _, p := range requiredPlugins {
		if _, err := findPlugin(DefaultPluginDirs, p); err != nil {
			t.Skipf("CNI plugins missing (install the containernetworking-plugins package): %v", err)
		}
	}
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freeSubnet picks a random 10.2xx.y.0/bits subnet that no host interface
// address or IPv4 route overlaps.
func freeSubnet(t testing.TB, bits int) netip.Prefix {
	t.Helper()
	var used []netip.Prefix
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	if f, err := os.Open("/proc/net/route"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 8 || fs[1] == "Destination" {
				continue
			}
			dst, err1 := hex.DecodeString(fs[1])
			mask, err2 := hex.DecodeString(fs[7])
			if err1 != nil || err2 != nil || len(dst) != 4 || len(mask) != 4 {
				continue
			}
			ones, _ := net.IPMask{mask[3], mask[2], mask[1], mask[0]}.Size()
			if ones == 0 {
				continue // the default route overlaps everything
			}
			used = append(used, netip.PrefixFrom(netip.AddrFrom4([4]byte{dst[3], dst[2], dst[1], dst[0]}), ones).Masked())
		}
		_ = f.Close()
	}
	for range 100 {
		x, _ := rand.Int(rand.Reader, big.NewInt(50))
		y, _ := rand.Int(rand.Reader, big.NewInt(256))
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + x.Int64()), byte(y.Int64()), 0}), bits)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no free test subnet")
	return netip.Prefix{}
}

// testNet is a CNI with its own bridge, subnet and state directory.
type testNet struct {
	*CNI
	bridge string
	subnet netip.Prefix
	state  string
	cfg    Config
}

// newTestNet makes a CNI on a fresh bridge and subnet; the test's cleanup
// tears down what is left, deletes the bridge and unmounts the netns dir.
func newTestNet(t testing.TB, bits int) *testNet {
	t.Helper()
	requireCNI(t)
	return newTestNetOn(t, freeSubnet(t, bits))
}

// restoreSysctl puts the sysctl file back to its current value when the
// test ends (Setup turns forwarding on for the whole host).
func restoreSysctl(t testing.TB, path string) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		return
	}
	t.Cleanup(func() {
		if cur, err := os.ReadFile(path); err == nil && string(cur) != string(old) {
			if err := os.WriteFile(path, old, 0o644); err != nil {
				t.Errorf("restore %s: %v", path, err)
			}
		}
	})
}

// newTestNetOn is newTestNet on the given subnet.
func newTestNetOn(t testing.TB, subnet netip.Prefix) *testNet {
	t.Helper()
	if subnet.Addr().Is6() {
		restoreSysctl(t, "/proc/sys/net/ipv6/conf/all/forwarding")
	} else {
		restoreSysctl(t, "/proc/sys/net/ipv4/ip_forward")
	}
	state := t.TempDir()
	tn := &testNet{bridge: "berth-t" + randomHex(t, 3), subnet: subnet, state: state}
	tn.cfg = Config{
		PodCIDR:    tn.subnet.String(),
		BridgeName: tn.bridge,
		StateDir:   state,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	c, err := New(tn.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.CNI = c
	if err := c.Available(); err != nil {
		t.Fatalf("Available = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Cleanup(ctx, nil); err != nil {
			t.Errorf("final Cleanup: %v", err)
		}
		if err := c.RemoveMasquerade(ctx); err != nil {
			t.Errorf("RemoveMasquerade: %v", err)
		}
		if masqRules(t, tn.bridge) != "" {
			t.Errorf("masquerade rules of %s left after RemoveMasquerade", tn.bridge)
		}
		if _, err := net.InterfaceByName(tn.bridge); err == nil {
			if out, err := exec.Command("ip", "link", "delete", tn.bridge).CombinedOutput(); err != nil {
				t.Errorf("delete bridge %s: %v: %s", tn.bridge, err, out)
			}
		}
		if err := unix.Unmount(filepath.Join(state, "netns"), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			t.Errorf("unmount netns dir: %v", err)
		}
	})
	return tn
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

// Write implements io.Writer.
func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// inNetNS runs fn on an OS thread that joined the namespace at path. The
// thread is never unlocked, so the runtime ends it afterwards.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open %s: %w", path, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// serveInNetNS listens on ip inside the namespace and calls handle for
// every connection (in a goroutine of its own; handle closes it); the
// test's cleanup stops it. It returns the listening address.
func serveInNetNS(t *testing.T, netns, ip string, handle func(net.Conn)) string {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(netns, func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, "0"))
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", netns, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(conn) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// startEcho listens on ip inside the namespace and echoes every
// connection; the test's cleanup stops it.
func startEcho(t *testing.T, netns, ip string) string {
	t.Helper()
	return serveInNetNS(t, netns, ip, func(conn net.Conn) {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(conn, conn)
	})
}

// echo dials addr, sends a line and checks it comes back.
func echo(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	msg := "hello " + addr
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo = %q, want %q", got, msg)
	}
	return nil
}

// podView is what a pod sees of its network.
type podView struct {
	eth0Addrs    []netip.Prefix
	loUp         bool
	defaultRoute bool
}

// inspectPod reads eth0's addresses, lo's state and the default route
// inside the namespace.
func inspectPod(netns string) (podView, error) {
	var v podView
	err := inNetNS(netns, func() error {
		eth0, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := eth0.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				v.eth0Addrs = append(v.eth0Addrs, p)
			}
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		v.loUp = lo.Flags&net.FlagUp != 0
		routes, err := os.ReadFile("/proc/thread-self/net/route")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(routes), "\n") {
			if fs := strings.Fields(line); len(fs) > 7 && fs[0] == "eth0" && fs[1] == "00000000" && fs[7] == "00000000" {
				v.defaultRoute = true
			}
		}
		return nil
	})
	return v, err
}

// reserved reports whether host-local holds ip.
func (tn *testNet) reserved(ip string) bool {
	_, err := os.Stat(filepath.Join(tn.state, "ipam", NetworkName, ip))
	return err == nil
}

// natRulesMention reports whether the nat table mentions s (the bridge
// plugin's masquerade chains carry the container ID in a comment).
func natRulesMention(t *testing.T, s string) bool {
	t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		return false
	}
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Logf("iptables -t nat -S: %v: %s", err, out)
		return false
	}
	return strings.Contains(string(out), s)
}

// masqRules returns the nat rules that mention the bridge's masquerade
// chain, "" when there are none or iptables does not work.
func masqRules(t testing.TB, bridge string) string {
	t.Helper()
	if probeIPTables(context.Background(), false) != nil {
		return ""
	}
	out, err := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
	if err != nil {
		t.Errorf("iptables -t nat -S: %v", err)
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, masqChain(bridge)) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// startWhoami listens on ip inside the namespace and answers every
// connection with the address it came from; the test's cleanup stops it.
func startWhoami(t *testing.T, netns, ip string) string {
	t.Helper()
	return serveInNetNS(t, netns, ip, func(conn net.Conn) {
		host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		_, _ = conn.Write([]byte(host))
		_ = conn.Close()
	})
}

// whoami dials a startWhoami server and returns the source address it saw.
func whoami(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

func TestPodNetwork(t *testing.T) {
	tn := newTestNet(t, 29)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idA, idB := "sba-"+randomHex(t, 4), "sbb-"+randomHex(t, 4)

	nsA, ipA, err := tn.Setup(ctx, idA)
	if err != nil {
		t.Fatalf("Setup A: %v", err)
	}
	nsB, ipB, err := tn.Setup(ctx, idB)
	if err != nil {
		t.Fatalf("Setup B: %v", err)
	}
	t.Logf("A: %s %s; B: %s %s; subnet %s bridge %s", nsA, ipA, nsB, ipB, tn.subnet, tn.bridge)
	if ipA == ipB {
		t.Fatalf("both pods got %s", ipA)
	}
	for _, p := range []struct{ id, ns, ip string }{{idA, nsA, ipA}, {idB, nsB, ipB}} {
		if p.ns != tn.NetNSPath(p.id) || !isNetNS(p.ns) {
			t.Errorf("netns of %s = %s, not a mounted namespace at %s", p.id, p.ns, tn.NetNSPath(p.id))
		}
		addr, err := netip.ParseAddr(p.ip)
		if err != nil || !tn.subnet.Contains(addr) || addr == tn.subnet.Addr().Next() {
			t.Errorf("IP of %s = %s, want a pod address in %s", p.id, p.ip, tn.subnet)
		}
		v, err := inspectPod(p.ns)
		if err != nil {
			t.Fatalf("inspect %s: %v", p.id, err)
		}
		if len(v.eth0Addrs) != 1 || v.eth0Addrs[0].Addr().String() != p.ip || v.eth0Addrs[0].Bits() != tn.subnet.Bits() {
			t.Errorf("eth0 of %s has %v, want %s/%d", p.id, v.eth0Addrs, p.ip, tn.subnet.Bits())
		}
		if !v.loUp || !v.defaultRoute {
			t.Errorf("pod %s: lo up %v, default route via eth0 %v; want both", p.id, v.loUp, v.defaultRoute)
		}
		if !tn.reserved(p.ip) {
			t.Errorf("no host-local reservation for %s", p.ip)
		}
	}

	// The bridge holds the gateway address on the host.
	br, err := net.InterfaceByName(tn.bridge)
	if err != nil {
		t.Fatalf("bridge: %v", err)
	}
	brAddrs, _ := br.Addrs()
	gw := netip.PrefixFrom(tn.subnet.Addr().Next(), tn.subnet.Bits()).String()
	if !strings.Contains(fmt.Sprint(brAddrs), gw) {
		t.Errorf("bridge addresses = %v, want %s", brAddrs, gw)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("ip_forward = %q, %v; want 1", b, err)
	}

	// Host to pod, pod to pod, both ways.
	addrA, addrB := startEcho(t, nsA, ipA), startEcho(t, nsB, ipB)
	if err := echo(addrA); err != nil {
		t.Errorf("host -> A (%s): %v", addrA, err)
	}
	if err := echo(addrB); err != nil {
		t.Errorf("host -> B (%s): %v", addrB, err)
	}
	if err := inNetNS(nsA, func() error { return echo(addrB) }); err != nil {
		t.Errorf("A -> B (%s): %v", addrB, err)
	}
	if err := inNetNS(nsB, func() error { return echo(addrA) }); err != nil {
		t.Errorf("B -> A (%s): %v", addrA, err)
	}
	// A pod reaches itself (loopback and its own address).
	if err := inNetNS(nsA, func() error { return echo(addrA) }); err != nil {
		t.Errorf("A -> A (%s): %v", addrA, err)
	}
	// Pod to pod is not masqueraded: B sees A's address.
	who := startWhoami(t, nsB, ipB)
	var seen string
	if err := inNetNS(nsA, func() error { var err error; seen, err = whoami(who); return err }); err != nil || seen != ipA {
		t.Errorf("A -> B: B saw the connection from %q (%v), want A's %s", seen, err, ipA)
	}
	// lo works inside the pod (brought up without the loopback plugin).
	lo := startEcho(t, nsA, "127.0.0.1")
	if err := inNetNS(nsA, func() error { return echo(lo) }); err != nil {
		t.Errorf("A -> its own 127.0.0.1: %v", err)
	}

	// Setup of a sandbox that is set up returns the same network.
	if ns, ip, err := tn.Setup(ctx, idA); err != nil || ns != nsA || ip != ipA {
		t.Errorf("second Setup A = %s %s %v; want %s %s", ns, ip, err, nsA, ipA)
	}
	// No iptables rule per pod; one masquerade chain for the bridge.
	if natRulesMention(t, idA) || natRulesMention(t, idB) {
		t.Errorf("nat rules mention a pod:\n%s", masqRules(t, tn.bridge))
	}
	if probeIPTables(ctx, false) == nil {
		chain := masqChain(tn.bridge)
		// Installing again (another agent start) changes nothing.
		for i := range 2 {
			if i > 0 {
				if err := setMasquerade(ctx, tn.bridge, tn.subnet, true); err != nil {
					t.Fatalf("install the masquerade rule again: %v", err)
				}
			}
			rules := masqRules(t, tn.bridge)
			for _, want := range []string{
				"-A POSTROUTING -s " + tn.subnet.String() + " ",
				"-A " + chain + " -d " + tn.subnet.String() + " -j RETURN",
				"-A " + chain + " -d 224.0.0.0/4 -j RETURN",
				"-A " + chain + " -j MASQUERADE",
			} {
				if strings.Count(rules, want) != 1 {
					t.Errorf("masquerade rules lack %q (once):\n%s", want, rules)
				}
			}
		}
	}

	// Teardown frees the address and removes the namespace; twice is fine.
	if err := tn.Teardown(ctx, idA, nsA); err != nil {
		t.Fatalf("Teardown A: %v", err)
	}
	if _, err := os.Lstat(nsA); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file of A still there (%v)", err)
	}
	if tn.reserved(ipA) {
		t.Errorf("address %s of A still reserved", ipA)
	}
	if _, err := os.Stat(tn.recordPath(idA)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record of A still there (%v)", err)
	}
	if natRulesMention(t, idA) {
		t.Errorf("nat rules still mention %s", idA)
	}
	if err := tn.Teardown(ctx, idA, nsA); err != nil {
		t.Errorf("second Teardown A: %v", err)
	}
	if err := tn.Teardown(ctx, idA, ""); err != nil {
		t.Errorf("third Teardown A (no path): %v", err)
	}
	// B is unaffected.
	if err := echo(addrB); err != nil {
		t.Errorf("host -> B after A's teardown: %v", err)
	}
	if err := tn.Teardown(ctx, idB, ""); err != nil {
		t.Fatalf("Teardown B: %v", err)
	}
	if tn.reserved(ipB) || isNetNS(nsB) {
		t.Errorf("B left its reservation (%v) or namespace (%v)", tn.reserved(ipB), isNetNS(nsB))
	}
}

func TestAddressReuse(t *testing.T) {
	// A /30 has exactly one pod address: the network, the gateway and the
	// broadcast take the other three.
	tn := newTestNet(t, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := tn.subnet.Addr().Next().Next().String()

	_, ip1, err := tn.Setup(ctx, "first")
	if err != nil {
		t.Fatalf("Setup first: %v", err)
	}
	if ip1 != want {
		t.Fatalf("first IP = %s, want %s", ip1, want)
	}
	// The subnet is full: Setup fails and leaves nothing behind.
	_, _, err = tn.Setup(ctx, "second")
	var pe *PluginError
	if err == nil || !errors.As(err, &pe) {
		t.Fatalf("Setup second on a full subnet = %v, want a plugin error", err)
	}
	t.Logf("full subnet: %v", err)
	if _, err := os.Lstat(tn.NetNSPath("second")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Setup left its netns file (%v)", err)
	}
	if _, err := os.Stat(tn.recordPath("second")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Setup left its record (%v)", err)
	}
	if err := tn.Teardown(ctx, "first", ""); err != nil {
		t.Fatalf("Teardown first: %v", err)
	}
	ns3, ip3, err := tn.Setup(ctx, "third")
	if err != nil {
		t.Fatalf("Setup third after teardown: %v", err)
	}
	if ip3 != want {
		t.Errorf("third IP = %s, want the freed %s", ip3, want)
	}
	if err := echo(startEcho(t, ns3, ip3)); err != nil {
		t.Errorf("host -> third: %v", err)
	}
	if err := tn.Teardown(ctx, "third", ns3); err != nil {
		t.Errorf("Teardown third: %v", err)
	}
}

func TestCleanup(t *testing.T) {
	tn := newTestNet(t, 28)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ips := map[string]string{}
	for _, id := range []string{"gone1", "kept", "gone2"} {
		_, ip, err := tn.Setup(ctx, id)
		if err != nil {
			t.Fatalf("Setup %s: %v", id, err)
		}
		ips[id] = ip
	}
	// Leftovers with no record: a namespace file whose mount is gone (as
	// after a reboot) and a reservation of an unknown sandbox.
	stray := tn.NetNSPath("stray")
	if err := os.WriteFile(stray, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	ghostIP := tn.subnet.Addr().Next().Next().Next().Next().Next().Next().Next().Next().String()
	ghost := filepath.Join(tn.state, "ipam", NetworkName, ghostIP)
	if err := os.WriteFile(ghost, []byte("ghost\r\neth0"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A restarted agent: a new CNI over the same state.
	c2, err := New(tn.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Cleanup(ctx, map[string]bool{"kept": true}); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	for _, id := range []string{"gone1", "gone2"} {
		if _, err := os.Lstat(tn.NetNSPath(id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns of %s still there (%v)", id, err)
		}
		if tn.reserved(ips[id]) {
			t.Errorf("address %s of %s still reserved", ips[id], id)
		}
		if natRulesMention(t, id) {
			t.Errorf("nat rules still mention %s", id)
		}
	}
	if _, err := os.Lstat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray netns file still there (%v)", err)
	}
	if _, err := os.Stat(ghost); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ghost reservation still there (%v)", err)
	}
	// The kept sandbox still works and can be torn down by the new agent.
	if !tn.reserved(ips["kept"]) || !isNetNS(tn.NetNSPath("kept")) {
		t.Fatal("Cleanup removed the kept sandbox")
	}
	if err := echo(startEcho(t, tn.NetNSPath("kept"), ips["kept"])); err != nil {
		t.Errorf("host -> kept after Cleanup: %v", err)
	}
	if ns, ip, err := c2.Setup(ctx, "kept"); err != nil || ip != ips["kept"] || ns != tn.NetNSPath("kept") {
		t.Errorf("Setup kept on the new agent = %s %s %v", ns, ip, err)
	}
	if err := c2.Teardown(ctx, "kept", ""); err != nil {
		t.Errorf("Teardown kept on the new agent: %v", err)
	}
	if tn.reserved(ips["kept"]) {
		t.Error("kept's address still reserved after its teardown")
	}
	// Nothing left: Cleanup of nothing is fine.
	if err := c2.Cleanup(ctx, nil); err != nil {
		t.Errorf("Cleanup of nothing: %v", err)
	}
}

func TestSetupCanceled(t *testing.T) {
	tn := newTestNet(t, 29)
	// A first sandbox readies the network (plugins, bridge, directories).
	if _, _, err := tn.Setup(context.Background(), "warm"); err != nil {
		t.Fatalf("Setup warm: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := tn.Setup(ctx, "canceled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Setup with a canceled context = %v", err)
	}
	if _, err := os.Lstat(tn.NetNSPath("canceled")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("canceled Setup left a netns file (%v)", err)
	}
	// A context that ends while the plugins run: whatever happened is
	// undone or completed, and Teardown leaves nothing either way.
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 15 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		_, _, err := tn.Setup(ctx, "short")
		cancel()
		t.Logf("Setup with a %v deadline: %v", d, err)
		if err != nil {
			if _, serr := os.Lstat(tn.NetNSPath("short")); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("Setup that failed (%v) left a netns file (%v)", err, serr)
			}
		}
		if err := tn.Teardown(context.Background(), "short", ""); err != nil {
			t.Errorf("Teardown short: %v", err)
		}
	}
	if err := tn.Teardown(context.Background(), "warm", ""); err != nil {
		t.Errorf("Teardown warm: %v", err)
	}
	res, err := tn.reservations()
	if err != nil || len(res) != 0 {
		t.Errorf("reservations left: %v %v", res, err)
	}
}

func TestConcurrentSetup(t *testing.T) {
	tn := newTestNet(t, 28)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 6
	ips := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, ips[i], errs[i] = tn.Setup(ctx, fmt.Sprintf("par%d", i)) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Setup par%d: %v", i, errs[i])
			continue
		}
		if seen[ips[i]] {
			t.Errorf("address %s given twice", ips[i])
		}
		seen[ips[i]] = true
	}
	for i := range n {
		wg.Go(func() { errs[i] = tn.Teardown(ctx, fmt.Sprintf("par%d", i), "") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Teardown par%d: %v", i, errs[i])
		}
	}
}

func TestPodNetworkIPv6(t *testing.T) {
	requireCNI(t)
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("no IPv6 in this kernel")
	}
	// A random unique local /64 (fdxx:xxxx:xxxx::/64).
	var ula [16]byte
	ula[0] = 0xfd
	if _, err := rand.Read(ula[1:6]); err != nil {
		t.Fatal(err)
	}
	tn := newTestNetOn(t, netip.PrefixFrom(netip.AddrFrom16(ula), 64))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nsA, ipA, err := tn.Setup(ctx, "v6a")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	nsB, ipB, err := tn.Setup(ctx, "v6b")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	for _, ip := range []string{ipA, ipB} {
		if a, err := netip.ParseAddr(ip); err != nil || !tn.subnet.Contains(a) {
			t.Errorf("pod IP %s not in %s", ip, tn.subnet)
		}
	}
	addrA := startEcho(t, nsA, ipA)
	if err := echo(addrA); err != nil {
		t.Errorf("host -> A (%s): %v", addrA, err)
	}
	if err := inNetNS(nsB, func() error { return echo(addrA) }); err != nil {
		t.Errorf("B -> A (%s): %v", addrA, err)
	}
	for _, id := range []string{"v6a", "v6b"} {
		if err := tn.Teardown(ctx, id, ""); err != nil {
			t.Errorf("Teardown %s: %v", id, err)
		}
	}
}

// runIn runs a command on a thread inside the network namespace at netns
// ("" for the test's own).
func runIn(t *testing.T, netns string, args ...string) {
	t.Helper()
	run := func() error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	var err error
	if netns == "" {
		err = run()
	} else {
		err = inNetNS(netns, run)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestMasquerade checks that pods reach addresses beyond the node through
// the node's masquerade rule: an "outside" namespace, connected to the
// host by a veth pair on a /30 and with no route back to the pods, sees
// their connections come from the host's address, and nothing more is
// needed for the replies. Removing the rule cuts the pods off; the next
// Setup puts it back.
func TestMasquerade(t *testing.T) {
	tn := newTestNet(t, 29)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := probeIPTables(ctx, false); err != nil {
		t.Skipf("iptables does not work here: %v", err)
	}
	// The node's forwarding rules make this work under a FORWARD policy of
	// DROP too (dockerd sets one): TestForwardingUnderDropPolicy.
	// Prepare installs the rule before any pod exists.
	if err := tn.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if rules := masqRules(t, tn.bridge); !strings.Contains(rules, "-j MASQUERADE") {
		t.Fatalf("no masquerade rule after Prepare:\n%s", rules)
	}
	link := freeSubnet(t, 30)
	hostIP, outIP := link.Addr().Next(), link.Addr().Next().Next()
	outNS := filepath.Join(tn.state, "outside")
	if err := createNetNS(outNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeNetNS(outNS) })
	// A process in the outside namespace names it for `ip link ... netns`.
	holder := exec.Command("sleep", "300")
	if err := inNetNS(outNS, holder.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	hostEnd, outEnd := "bo"+randomHex(t, 4), "bi"+randomHex(t, 4)
	runIn(t, "", "ip", "link", "add", hostEnd, "type", "veth", "peer", "name", outEnd, "netns", fmt.Sprint(holder.Process.Pid))
	t.Cleanup(func() { _ = exec.Command("ip", "link", "delete", hostEnd).Run() })
	runIn(t, outNS, "ip", "addr", "add", netip.PrefixFrom(outIP, 30).String(), "dev", outEnd)
	runIn(t, outNS, "ip", "link", "set", outEnd, "up")
	runIn(t, "", "ip", "addr", "add", netip.PrefixFrom(hostIP, 30).String(), "dev", hostEnd)
	runIn(t, "", "ip", "link", "set", hostEnd, "up")
	who := startWhoami(t, outNS, outIP.String())

	ns, ip, err := tn.Setup(ctx, "masq")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	fromPod := func(timeout time.Duration) (string, error) {
		var seen string
		err := inNetNS(ns, func() error {
			conn, err := net.DialTimeout("tcp", who, timeout)
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(timeout))
			b, err := io.ReadAll(conn)
			seen = string(b)
			return err
		})
		return seen, err
	}
	// The veth may take a moment to come up.
	var seen string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if seen, err = fromPod(2 * time.Second); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || seen != hostIP.String() {
		t.Fatalf("pod %s -> outside %s: seen from %q (%v), want the host's %s", ip, who, seen, err, hostIP)
	}

	// Without the rule the outside cannot answer the pod.
	if err := tn.RemoveMasquerade(ctx); err != nil {
		t.Fatal(err)
	}
	if seen, err := fromPod(time.Second); err == nil {
		t.Errorf("pod -> outside without the masquerade rule worked (seen from %q)", seen)
	}
	// The next Setup puts it back.
	if _, _, err := tn.Setup(ctx, "masq2"); err != nil {
		t.Fatalf("Setup masq2: %v", err)
	}
	if seen, err := fromPod(5 * time.Second); err != nil || seen != hostIP.String() {
		t.Errorf("pod -> outside after the rule came back: seen from %q (%v), want %s", seen, err, hostIP)
	}
	for _, id := range []string{"masq", "masq2"} {
		if err := tn.Teardown(ctx, id, ""); err != nil {
			t.Errorf("Teardown %s: %v", id, err)
		}
	}
}
