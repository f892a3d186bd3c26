package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// Defaults of Config.
const (
	// DefaultLogMaxBytes is the size beyond which a container's log
	// rotates when its spec does not say.
	DefaultLogMaxBytes = 10 << 20
	// networkPrefix starts the default network name (berth-<node>).
	networkPrefix = "berth-"
	// bridgePrefix starts the default bridge name (berthd-<hash>).
	bridgePrefix = "berthd-"
)

// Config configures New.
type Config struct {
	// Host is the Docker Engine endpoint, e.g. unix:///var/run/docker.sock
	// (default: $DOCKER_HOST, else the local socket).
	Host string
	// NodeName is this node's name (default: the host name). Sandboxes and
	// containers are labelled with it, and the driver only sees those
	// labelled with its own node, so two agents can share one dockerd.
	NodeName string
	// PodCIDR is the node's pod CIDR: the driver's bridge network hands
	// out pod IPs from it (its first address is the bridge's, the
	// gateway). Without one (the zero Prefix) Docker picks a subnet, and
	// pod IPs are only meaningful on this node. IPv4 only.
	PodCIDR netip.Prefix
	// NetworkName is the Docker network of the pods (default
	// "berth-<NodeName>"), created by the driver when missing.
	NetworkName string
	// BridgeName is the Linux bridge of that network (default
	// "berthd-<8 hex digits of a hash of NetworkName>"; at most 15 bytes).
	BridgeName string
	// PauseImage is the infra container's image (default
	// "berth/pause:<PauseImageVersion>", generated and imported by the
	// driver when missing). Another image must be on the node already.
	PauseImage string
	// DisableInit runs a container's command as PID 1 of its PID namespace
	// instead of under docker-init (tini). The kernel then ignores SIGTERM
	// for a command that does not handle it, so Stop takes the whole grace
	// period, as with Kubernetes on Docker.
	DisableInit bool
	// Logger receives logs (default slog.Default).
	Logger *slog.Logger
}

// Driver runs pods as Docker containers. It implements runtime.Driver,
// runtime.Execer, runtime.StatsReader and runtime.ImageManager, and is
// safe for concurrent use.
type Driver struct {
	cfg Config
	cli *client.Client
	log *slog.Logger

	// ctx is cancelled by Close; every call's context is tied to it.
	ctx    context.Context
	cancel context.CancelFunc

	// netMu guards netID, the ID of the pods' network once ensured.
	netMu sync.Mutex
	netID string
	// pauseMu guards pauseReady: the pause image is on the node.
	pauseMu    sync.Mutex
	pauseReady bool

	mu sync.Mutex
	// sandboxOps are per-sandbox locks: held shared while containers are
	// created in the sandbox and exclusively while it is stopped or
	// removed.
	sandboxOps map[string]*sync.RWMutex
}

// Interface checks.
var (
	_ runtime.Driver       = (*Driver)(nil)
	_ runtime.Execer       = (*Driver)(nil)
	_ runtime.StatsReader  = (*Driver)(nil)
	_ runtime.ImageManager = (*Driver)(nil)
)

// errClosed fails calls on a closed driver.
var errClosed = errors.New("docker: driver closed")

// errUnsupportedArch: no built-in pause program for the daemon's
// architecture.
var errUnsupportedArch = errors.New("docker: unsupported architecture")

// New returns a driver talking to the Docker Engine at cfg.Host. It pings
// the daemon (negotiating the API version, so Docker 20.10's API 1.41
// works) and fails when it does not answer. The network and the pause
// image are made by the first RunSandbox.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("docker: node name: %w", err)
		}
		cfg.NodeName = h
	}
	if cfg.NetworkName == "" {
		cfg.NetworkName = networkPrefix + cfg.NodeName
	}
	if cfg.BridgeName == "" {
		sum := sha256.Sum256([]byte(cfg.NetworkName))
		cfg.BridgeName = bridgePrefix + hex.EncodeToString(sum[:4])
	}
	if len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("docker: bridge name %q is longer than 15 bytes", cfg.BridgeName)
	}
	if cfg.PodCIDR.IsValid() && !cfg.PodCIDR.Addr().Is4() {
		return nil, fmt.Errorf("docker: pod CIDR %s: only IPv4 is supported", cfg.PodCIDR)
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = PauseImageRepo + ":" + PauseImageVersion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts := []client.Opt{client.WithHostFromEnv()}
	if cfg.Host != "" {
		opts = []client.Opt{client.WithHost(cfg.Host)}
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	ping, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker: the Docker daemon at %s does not answer: %w", cli.DaemonHost(), err)
	}
	if ping.OSType != "" && ping.OSType != "linux" {
		_ = cli.Close()
		return nil, fmt.Errorf("docker: the Docker daemon at %s runs %s containers, not linux ones", cli.DaemonHost(), ping.OSType)
	}
	dctx, cancel := context.WithCancel(context.Background())
	d := &Driver{
		cfg:        cfg,
		cli:        cli,
		log:        cfg.Logger.With("component", "docker-driver", "node", cfg.NodeName),
		ctx:        dctx,
		cancel:     cancel,
		sandboxOps: map[string]*sync.RWMutex{},
	}
	d.log.Debug("connected to the Docker daemon", "host", cli.DaemonHost(), "api", cli.ClientVersion())
	return d, nil
}

// Name returns "docker".
func (d *Driver) Name() string { return "docker" }

// Config returns the driver's configuration with the defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// Close ends the calls in progress (waits, follows, execs) and releases
// the client; containers keep running. Later calls fail.
func (d *Driver) Close() error {
	d.cancel()
	return d.cli.Close()
}

// op returns a context for one call: ctx, also cancelled when the driver
// closes. It fails once the driver is closed.
func (d *Driver) op(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if d.ctx.Err() != nil {
		return nil, nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.ctx, cancel)
	return c, func() { stop(); cancel() }, nil
}

// sandboxLock returns the sandbox's lock.
func (d *Driver) sandboxLock(id string) *sync.RWMutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.sandboxOps[id]
	if !ok {
		l = &sync.RWMutex{}
		d.sandboxOps[id] = l
	}
	return l
}

// forgetSandbox drops the lock of a removed (or unknown) sandbox, so
// that the map does not grow with IDs that name no sandbox.
func (d *Driver) forgetSandbox(id string) {
	d.mu.Lock()
	delete(d.sandboxOps, id)
	d.mu.Unlock()
}

func notFound(kind, id string) error {
	return fmt.Errorf("docker: %s %q: %w", kind, id, runtime.ErrNotFound)
}

// apiError wraps an Engine API error, mapping "not found" to
// runtime.ErrNotFound, and a closed driver to errClosed.
func (d *Driver) apiError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if d.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return errClosed
	}
	msg := fmt.Sprintf(format, args...)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: %s: %w (%w)", msg, runtime.ErrNotFound, err)
	}
	return fmt.Errorf("docker: %s: %w", msg, err)
}
