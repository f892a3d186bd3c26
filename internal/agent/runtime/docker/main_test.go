package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

// The tests that need a Docker daemon share one environment, made on
// first use: a test image built from the host's static busybox (nothing
// is pulled), a free pod CIDR, a node name of their own (so they only see
// their own containers) and the network, made once before parallel
// drivers use it. TestMain removes what the run made.

// busyboxPath is the static busybox of Debian's busybox-static package.
const busyboxPath = "/bin/busybox"

// testEnv is the shared environment.
type testEnv struct {
	cli *client.Client
	// runID is unique per run: it names the node, network, bridge and
	// test image.
	runID   string
	node    string
	cidr    netip.Prefix
	network string
	bridge  string
	// image is the busybox test image.
	image string
	// madePause: this run imported the pause image (removed at the end).
	madePause bool
}

var (
	envOnce sync.Once
	env     *testEnv
	envSkip string
	envErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if env != nil {
		if err := env.cleanup(); err != nil {
			fmt.Fprintln(os.Stderr, "docker tests: clean-up:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// dockerEnv returns the environment, skipping the test in -short mode,
// without root or without a daemon.
func dockerEnv(t *testing.T) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker daemon (not run with -short)")
	}
	envOnce.Do(func() { env, envSkip, envErr = setupEnv() })
	if envSkip != "" {
		t.Skip(envSkip)
	}
	if envErr != nil {
		t.Fatalf("docker test environment: %v", envErr)
	}
	return env
}

func setupEnv() (*testEnv, string, error) {
	if os.Geteuid() != 0 {
		return nil, "needs root (the Docker socket and bind mounts)", nil
	}
	f, err := elf.Open(busyboxPath)
	if err != nil {
		return nil, fmt.Sprintf("needs %s for the test image (apt-get install busybox-static): %v", busyboxPath, err), nil
	}
	dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if dynamic {
		return nil, fmt.Sprintf("%s is dynamically linked: the test image needs busybox-static's (apt-get install busybox-static)", busyboxPath), nil
	}
	cli, err := client.New(client.WithHostFromEnv())
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Sprintf("no Docker daemon answers at %s (install docker.io and start dockerd; scripts/test.sh does): %v", cli.DaemonHost(), err), nil
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	e := &testEnv{
		cli: cli, runID: id, node: "berth-test-" + id,
		network: "berth-test-" + id, bridge: "bt-" + id,
		image: "berth-test/busybox:" + id,
	}
	if e.cidr, err = freeSubnet(); err != nil {
		return nil, "", err
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.importBusybox(ctx, e.image, nil); err != nil {
		return nil, "", err
	}
	_, err = cli.ImageInspect(ctx, PauseImageRepo+":"+PauseImageVersion)
	e.madePause = isNotFound(err)
	// One driver makes the network and the pause image before parallel
	// drivers need them.
	d, err := New(ctx, e.config(nil))
	if err != nil {
		return nil, "", err
	}
	defer d.Close()
	if _, err := d.network(ctx); err != nil {
		return nil, "", err
	}
	if err := d.ensurePause(ctx); err != nil {
		return nil, "", err
	}
	return e, "", nil
}

// freeSubnet picks a /24 in 10.213.0.0/16 that no local address is in.
func freeSubnet() (netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Prefix{}, err
	}
	var b [1]byte
	_, _ = rand.Read(b[:])
	for i := range 256 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, b[0] + byte(i), 0}), 24)
		used := false
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && p.Contains(ip.Unmap()) {
					used = true
				}
			}
		}
		if !used {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.213.0.0/16")
}

// config is a driver configuration on the environment.
func (e *testEnv) config(t *testing.T) Config {
	cfg := Config{
		NodeName: e.node, PodCIDR: e.cidr, NetworkName: e.network, BridgeName: e.bridge,
		Logger: slog.New(slog.DiscardHandler),
	}
	if t != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

// newDriver returns a driver on the environment, closed when the test
// ends; mod, if set, edits its configuration.
func newDriver(t *testing.T, mod func(*Config)) *Driver {
	t.Helper()
	e := dockerEnv(t)
	cfg := e.config(t)
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// busyboxRootFS is a root file system with the host's static busybox as
// /bin/busybox, a symlink per applet in /bin, /tmp and, per extra, files.
func busyboxRootFS(extra map[string]string) ([]byte, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	epoch := time.Unix(0, 0)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch},
	}
	for i, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if i == 2 {
			if _, err := tw.Write(bin); err != nil {
				return nil, err
			}
		}
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for name, content := range extra {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// importBusybox imports the busybox root file system as ref with the
// Dockerfile-like changes (default: PATH and CMD ["/bin/sh"]).
func (e *testEnv) importBusybox(ctx context.Context, ref string, changes []string) error {
	rootfs, err := busyboxRootFS(nil)
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []string{"ENV PATH=/bin", `CMD ["/bin/sh"]`}
	}
	res, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	defer res.Close()
	if err := readProgress(ctx, res, nil); err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	return nil
}

// testImage imports a busybox image with changes for one test, removed
// when it ends.
func testImage(t *testing.T, name string, changes []string) string {
	t.Helper()
	e := dockerEnv(t)
	ref := "berth-test/" + name + ":" + e.runID
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e.importBusybox(ctx, ref, changes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	return ref
}

// cleanup removes the run's containers, network and images.
func (e *testEnv) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer e.cli.Close()
	var errs []error
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelNode+"="+e.node)})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, c := range res.Items {
			if _, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	nets, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", LabelNode+"="+e.node)})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, n := range nets.Items {
			if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	imgs := []string{e.image}
	if e.madePause {
		imgs = append(imgs, PauseImageRepo+":"+PauseImageVersion)
	}
	for _, ref := range imgs {
		// Not forced: another run may use the pause image.
		if _, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) && !isConflict(err) {
			errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}

// spec is a container request running the shell script in the test image.
func (e *testEnv) spec(sb runtime.Sandbox, name, script string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		SandboxID: sb.ID, Name: name, Image: e.image,
		Command: []string{"/bin/sh", "-c", script},
		Labels:  map[string]string{runtime.LabelContainer: name},
	}
}

// sandboxFor runs a sandbox removed when the test ends.
func sandboxFor(t *testing.T, d *Driver, spec runtime.SandboxSpec) runtime.Sandbox {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "p"
	}
	sb, err := d.RunSandbox(t.Context(), spec)
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.RemoveSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) && !errors.Is(err, errClosed) {
			t.Errorf("clean-up: RemoveSandbox: %v", err)
		}
	})
	return sb
}

// start starts a container running script and returns its ID.
func start(t *testing.T, d *Driver, spec runtime.ContainerSpec) string {
	t.Helper()
	id, err := d.CreateAndStart(t.Context(), spec)
	if err != nil {
		t.Fatalf("CreateAndStart %s: %v", spec.Name, err)
	}
	return id
}

// wait waits for the container's exit.
func wait(t *testing.T, d *Driver, id string) runtime.ContainerStatus {
	t.Helper()
	return runtimetest.Wait(t, d, id)
}

// logs returns the container's whole log.
func logs(t *testing.T, d *Driver, id string) string {
	t.Helper()
	return runtimetest.Logs(t, d, id, runtimetest.AllLogs)
}

// waitLogs waits until the container's log holds want.
func waitLogs(t *testing.T, d *Driver, id, want string) {
	t.Helper()
	runtimetest.WaitLogs(t, d, id, want)
}
