package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// Network gives pod sandboxes their network; the process driver uses it
// and *CNI implements it.
type Network interface {
	// Setup creates the sandbox's network namespace, connects it and
	// returns the namespace's path and the pod's IP address.
	Setup(ctx context.Context, sandboxID string) (netnsPath, ip string, err error)
	// Teardown disconnects the sandbox, frees its address and removes its
	// namespace. Tearing down what is already gone is not an error.
	Teardown(ctx context.Context, sandboxID, netnsPath string) error
}

var _ Network = (*CNI)(nil)

// Defaults and fixed names.
const (
	// DefaultBridgeName is the bridge used when Config.BridgeName is empty.
	DefaultBridgeName = "berth0"
	// NetworkName is the CNI network's name: host-local keeps its
	// reservations under <StateDir>/ipam/<NetworkName>, and the bridge
	// plugin names its iptables chains after it.
	NetworkName = "berth"
	// IfName is the pod's interface (CNI_IFNAME).
	IfName = "eth0"
)

// DefaultPluginDirs are searched for the plugin binaries when
// Config.PluginDirs is empty: Debian's containernetworking-plugins package
// installs them in /usr/lib/cni, upstream releases in /opt/cni/bin.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// requiredPlugins must be present for Setup to work. (The pod's lo is
// brought up when its namespace is created, without the loopback plugin.)
var requiredPlugins = []string{"bridge", "host-local"}

// ErrUnavailable is wrapped by Available (and by Setup) when CNI cannot
// work on this host; the message says what is missing.
var ErrUnavailable = errors.New("CNI pod networking unavailable")

// Config configures CNI.
type Config struct {
	// PodCIDR is the node's podCIDR (e.g. 10.42.1.0/24); pods get
	// addresses from it and the bridge its first address.
	PodCIDR string
	// BridgeName is the host bridge (default "berth0"; at most 15 bytes).
	BridgeName string
	// PluginDirs are searched for the plugin binaries, in order (default
	// DefaultPluginDirs); they are also the plugins' CNI_PATH.
	PluginDirs []string
	// StateDir holds host-local's reservations (ipam/), the cached ADD
	// results (results/) and, unless NetNSDir is set, the namespace files
	// (netns/); e.g. /var/lib/berth/agent/cni. Required.
	StateDir string
	// NetNSDir holds the namespace files, one per sandbox named by its ID
	// (default <StateDir>/netns); a tmpfs such as /run/berth/netns is best.
	NetNSDir string
	// MTU of the pods' interfaces and the bridge (0: the bridge plugin's
	// default).
	MTU int
	// Logger receives what the package logs (default slog.Default()).
	Logger *slog.Logger
}

// CNI connects pod sandboxes to a host bridge through the CNI plugins. Its
// methods are safe for concurrent use; Setup and Teardown of different
// sandboxes run in parallel.
type CNI struct {
	subnet     netip.Prefix
	bridge     string
	pluginDirs []string
	mtu        int
	netnsDir   string
	ipamDir    string
	resultsDir string
	log        *slog.Logger

	// gate is held shared by Setup and Teardown and exclusively by
	// Cleanup, which removes reservations it does not know to be in use.
	gate  sync.RWMutex
	locks keyedMutex

	initMu sync.Mutex
	list   *confList // nil until prepare succeeded

	// masq is set once iptables works: Setup then keeps the node's
	// masquerade rule installed, checking it at most every masqRecheck
	// (masqAt, guarded by masqMu).
	masq   atomic.Bool
	masqMu sync.Mutex
	masqAt time.Time
}

// New validates cfg and returns a CNI; it touches nothing on the host
// (that happens at the first Setup).
func New(cfg Config) (*CNI, error) {
	if cfg.PodCIDR == "" {
		return nil, errors.New("network: podCIDR is required")
	}
	subnet, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("network: podCIDR: %w", err)
	}
	subnet = subnet.Masked()
	if hostBits := subnet.Addr().BitLen() - subnet.Bits(); hostBits < 2 {
		return nil, fmt.Errorf("network: podCIDR %s is too small (no address left after the network, gateway and broadcast addresses)", subnet)
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = DefaultBridgeName
	}
	if err := validIfName(cfg.BridgeName); err != nil {
		return nil, err
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	if cfg.StateDir == "" {
		return nil, errors.New("network: state dir is required")
	}
	if cfg.NetNSDir == "" {
		cfg.NetNSDir = filepath.Join(cfg.StateDir, "netns")
	}
	if cfg.MTU < 0 || cfg.MTU > 65535 {
		return nil, fmt.Errorf("network: invalid MTU %d", cfg.MTU)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &CNI{
		subnet:     subnet,
		bridge:     cfg.BridgeName,
		pluginDirs: slices.Clone(cfg.PluginDirs),
		mtu:        cfg.MTU,
		netnsDir:   filepath.Clean(cfg.NetNSDir),
		ipamDir:    filepath.Join(cfg.StateDir, "ipam"),
		resultsDir: filepath.Join(cfg.StateDir, "results"),
		log:        cfg.Logger.With("component", "cni"),
	}, nil
}

// validIfName checks a Linux interface name.
func validIfName(name string) error {
	if len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("network: invalid bridge name %q (at most 15 bytes, no '/', ':' or spaces)", name)
	}
	return nil
}

// sandboxIDRe is what CNI allows in a container ID; it also makes the ID a
// safe file name.
var sandboxIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,252}$`)

// checkID validates a sandbox ID.
func checkID(id string) error {
	if !sandboxIDRe.MatchString(id) {
		return fmt.Errorf("network: invalid sandbox ID %q (letters, digits, '_', '.', '-')", id)
	}
	return nil
}

// NetNSPath returns where Setup puts the sandbox's network namespace.
func (c *CNI) NetNSPath(sandboxID string) string {
	return filepath.Join(c.netnsDir, sandboxID)
}

// Available tells whether CNI can work here: nil, or an error wrapping
// ErrUnavailable that names every missing piece (root, plugins, the right
// to create network namespaces, IP forwarding), so that the agent can run
// pods on the host network and say why.
func (c *CNI) Available() error {
	var problems []string
	root := os.Geteuid() == 0
	if !root {
		problems = append(problems, fmt.Sprintf("not running as root (euid %d)", os.Geteuid()))
	}
	var missing []string
	for _, p := range requiredPlugins {
		if _, err := findPlugin(c.pluginDirs, p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("CNI plugins %s not found in %s (install the containernetworking-plugins package)",
			strings.Join(missing, ", "), strings.Join(c.pluginDirs, ":")))
	}
	if root {
		if err := probeNetNS(); err != nil {
			problems = append(problems, err.Error())
		}
		if err := forwardingWritable(c.subnet.Addr().Is6()); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(problems, "; "))
	}
	return nil
}

// Prepare does, ahead of the first Setup, what the first Setup would do
// once for all sandboxes: it checks the plugins, asks their CNI versions,
// probes iptables, installs the node's masquerade rule and readies the
// state directories. Setup calls it anyway (it does the work only once,
// and again after a failure), so calling Prepare is optional; it takes the
// work off the first pod's start.
func (c *CNI) Prepare(ctx context.Context) error {
	if _, err := c.prepare(ctx); err != nil {
		return fmt.Errorf("network: prepare: %w", err)
	}
	return nil
}

// prepare checks the plugins, negotiates the CNI version, probes iptables
// and installs the node's masquerade rule, builds the configuration list
// and readies the directories, once.
func (c *CNI) prepare(ctx context.Context) (confList, error) {
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.list != nil {
		return *c.list, nil
	}
	var missing []string
	for _, p := range requiredPlugins {
		if _, err := findPlugin(c.pluginDirs, p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return confList{}, fmt.Errorf("network: %w: CNI plugins %s not found in %s", ErrUnavailable, strings.Join(missing, ", "), strings.Join(c.pluginDirs, ":"))
	}
	ipv6 := c.subnet.Addr().Is6()
	iptErr := probeIPTables(ctx, ipv6)

	versions := map[string][]string{}
	for _, p := range requiredPlugins {
		out, err := execPlugin(ctx, c.pluginDirs, p, invocation{Command: "VERSION", Stdin: []byte(`{"cniVersion":"0.1.0"}`)})
		if err != nil {
			return confList{}, fmt.Errorf("network: ask plugin versions: %w", err)
		}
		vs, err := parseVersionInfo(out)
		if err != nil {
			return confList{}, fmt.Errorf("network: plugin %s: %w", p, err)
		}
		versions[p] = vs
	}
	version, err := pickVersion(versions)
	if err != nil {
		return confList{}, err
	}
	// No ipMasq (the node's rule masquerades instead of a chain per pod)
	// and no portmap (no pod asks for port mappings): no iptables run per
	// pod.
	list, err := buildConfList(listParams{
		Name:       NetworkName,
		CNIVersion: version,
		Bridge:     c.bridge,
		Subnet:     c.subnet,
		MTU:        c.mtu,
		DataDir:    c.ipamDir,
	})
	if err != nil {
		return confList{}, err
	}
	for _, d := range []string{c.ipamDir, c.resultsDir, c.netnsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return confList{}, fmt.Errorf("network: %w", err)
		}
	}
	if err := makeSharedMount(c.netnsDir); err != nil {
		return confList{}, err
	}
	attrs := []any{"cniVersion", version, "bridge", c.bridge, "podCIDR", c.subnet.String(), "masquerade", iptErr == nil}
	if iptErr != nil {
		attrs = append(attrs, "noIPTables", iptErr.Error())
	} else {
		attrs = append(attrs, "masqueradeChain", masqChain(c.bridge))
		c.masq.Store(true)
		c.ensureMasquerade(ctx)
	}
	c.log.Info("CNI pod network ready", attrs...)
	c.list = &list
	return list, nil
}

// probeIPTables checks that iptables (ip6tables for IPv6) is installed and
// can read the nat table.
func probeIPTables(ctx context.Context, ipv6 bool) error {
	bin := "iptables"
	if ipv6 {
		bin = "ip6tables"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("%s not found: %w", bin, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-w", "-t", "nat", "-S", "POSTROUTING").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s does not work: %w: %s", bin, err, truncate(strings.TrimSpace(string(out)), 512))
	}
	return nil
}

// record is what is kept about a sandbox between its ADD and its DEL.
type record struct {
	// ContainerID is the sandbox ID.
	ContainerID string `json:"containerID"`
	// NetNS is the namespace's path.
	NetNS string `json:"netns"`
	// IfName is CNI_IFNAME.
	IfName string `json:"ifName"`
	// ConfList is the configuration list the ADD used.
	ConfList confList `json:"confList"`
	// Result is the ADD's final result (absent while the ADD runs or if
	// it failed).
	Result json.RawMessage `json:"result,omitempty"`
	// IP is the pod's address taken from Result.
	IP string `json:"ip,omitempty"`
}

// recordPath is where the sandbox's record is kept.
func (c *CNI) recordPath(id string) string {
	return filepath.Join(c.resultsDir, id+".json")
}

// readRecord returns the sandbox's record, or nil when there is none or
// it is corrupt (logged: the sandbox is then handled as if it had none,
// with the current configuration list).
func (c *CNI) readRecord(id string) (*record, error) {
	b, err := os.ReadFile(c.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network: read record of %s: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil || len(r.ConfList.Plugins) == 0 {
		c.log.Warn("ignoring a corrupt network record", "sandbox", id, "path", c.recordPath(id), "err", err)
		return nil, nil
	}
	return &r, nil
}

// writeRecord writes the sandbox's record atomically.
func (c *CNI) writeRecord(r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("network: encode record of %s: %w", r.ContainerID, err)
	}
	if err := atomicfile.Write(c.recordPath(r.ContainerID), b, 0o600); err != nil {
		return fmt.Errorf("network: record of %s: %w", r.ContainerID, err)
	}
	return nil
}

// removeRecord removes the sandbox's record (missing is fine).
func (c *CNI) removeRecord(id string) error {
	if err := os.Remove(c.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: remove record of %s: %w", id, err)
	}
	return nil
}

// Setup creates the sandbox's network namespace at NetNSPath(sandboxID),
// runs the plugins' ADD on it and returns its path and the pod's IP
// address. A sandbox that is already set up gets its namespace and address
// back. On failure nothing is left behind (the plugins' DEL is run for what
// the ADD did). sandboxID must be a valid CNI container ID: letters,
// digits, '_', '.' and '-', starting with a letter or digit. The first
// Setup also creates the bridge (through the bridge plugin) and enables IP
// forwarding; see the package documentation.
func (c *CNI) Setup(ctx context.Context, sandboxID string) (netnsPath, ip string, err error) {
	if err := checkID(sandboxID); err != nil {
		return "", "", err
	}
	if err := ctx.Err(); err != nil {
		return "", "", fmt.Errorf("network: setup %s: %w", sandboxID, err)
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	unlock := c.locks.lock(sandboxID)
	defer unlock()

	list, err := c.prepare(ctx)
	if err != nil {
		return "", "", fmt.Errorf("network: setup %s: %w", sandboxID, err)
	}
	path := c.NetNSPath(sandboxID)
	rec, err := c.readRecord(sandboxID)
	if err != nil {
		return "", "", err
	}
	if rec != nil {
		if len(rec.Result) > 0 && rec.IP != "" && isNetNS(rec.NetNS) {
			return rec.NetNS, rec.IP, nil
		}
		// A Setup that did not finish (the agent died in it): undo it.
		if err := c.teardown(ctx, sandboxID, "", rec); err != nil {
			return "", "", fmt.Errorf("network: setup %s: undo an unfinished setup: %w", sandboxID, err)
		}
	}
	if err := removeNetNS(path); err != nil {
		return "", "", err
	}
	c.ensureMasquerade(ctx)
	if changed, err := enableForwarding(c.subnet.Addr().Is6()); err != nil {
		return "", "", err
	} else if changed {
		c.log.Info("enabled IP forwarding for the pod network", "ipv6", c.subnet.Addr().Is6())
	}
	if err := createNetNS(path); err != nil {
		return "", "", err
	}
	rec = &record{ContainerID: sandboxID, NetNS: path, IfName: IfName, ConfList: list}
	if err := c.writeRecord(rec); err != nil {
		_ = removeNetNS(path)
		return "", "", err
	}
	start := time.Now()
	res, addr, err := c.add(ctx, list, sandboxID, path)
	if err == nil {
		rec.Result, rec.IP = res, addr.String()
		err = c.writeRecord(rec)
	}
	if err != nil {
		// Undo with a context of our own: ctx may be what failed.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := c.teardown(uctx, sandboxID, path, &record{ContainerID: sandboxID, NetNS: path, IfName: IfName, ConfList: list}); uerr != nil {
			// The caller has nothing to tear down: remove it all anyway.
			c.log.Warn("undo of a failed network setup failed; removing its state anyway", "sandbox", sandboxID, "err", uerr)
			if ferr := c.forceTeardown(uctx, sandboxID, false); ferr != nil {
				c.log.Warn("removing the state of a failed network setup failed", "sandbox", sandboxID, "err", ferr)
			}
		}
		// A host-local killed by ctx may have left a reservation without
		// (or before writing) the sandbox ID, which its DEL cannot find.
		// Under host-local's lock an empty reservation is always such a
		// leftover.
		if rerr := c.releaseReservations(func(id string) bool { return id == sandboxID || id == "" }); rerr != nil {
			c.log.Warn("releasing the addresses of a failed network setup failed", "sandbox", sandboxID, "err", rerr)
		}
		return "", "", fmt.Errorf("network: setup %s: %w", sandboxID, err)
	}
	if !c.subnet.Contains(addr) {
		c.log.Warn("pod address outside the podCIDR", "sandbox", sandboxID, "ip", addr, "podCIDR", c.subnet)
	}
	c.log.Debug("pod network set up", "sandbox", sandboxID, "netns", path, "ip", addr, "took", time.Since(start))
	return path, addr.String(), nil
}

// add runs the list's ADD, each plugin getting the previous one's result,
// and returns the final result and the pod's address in it.
func (c *CNI) add(ctx context.Context, list confList, id, netns string) (json.RawMessage, netip.Addr, error) {
	var prev json.RawMessage
	for i := range list.Plugins {
		typ, err := list.pluginType(i)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		conf, err := list.pluginConfig(i, prev)
		if err != nil {
			return nil, netip.Addr{}, err
		}
		out, err := execPlugin(ctx, c.pluginDirs, typ, invocation{Command: "ADD", ContainerID: id, NetNS: netns, IfName: IfName, Stdin: conf})
		if err != nil {
			return nil, netip.Addr{}, err
		}
		if !json.Valid(out) {
			return nil, netip.Addr{}, fmt.Errorf("network: plugin %s printed no JSON result: %q", typ, truncate(string(out), 256))
		}
		prev = out
	}
	addr, err := parsePodIP(prev, IfName, c.subnet)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	return prev, addr, nil
}

// del runs the list's DEL in reverse order. Every plugin is run even when
// one fails; the errors are joined.
func (c *CNI) del(ctx context.Context, list confList, id, netns, ifName string, prev json.RawMessage) error {
	if ifName == "" {
		ifName = IfName
	}
	var errs []error
	for i := len(list.Plugins) - 1; i >= 0; i-- {
		typ, err := list.pluginType(i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conf, err := list.pluginConfig(i, prev)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := execPlugin(ctx, c.pluginDirs, typ, invocation{Command: "DEL", ContainerID: id, NetNS: netns, IfName: ifName, Stdin: conf}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Teardown runs the plugins' DEL for the sandbox (in reverse order, with
// the configuration and result of its ADD), which releases its address,
// then unmounts and removes its namespace. netnsPath is the path Setup
// returned ("" for NetNSPath(sandboxID)). A sandbox that is already torn
// down, or whose namespace or address is gone, is fine. When a DEL fails,
// the error is returned and the namespace and record are kept, so that
// calling Teardown again (or Cleanup) retries.
func (c *CNI) Teardown(ctx context.Context, sandboxID, netnsPath string) error {
	if err := checkID(sandboxID); err != nil {
		return err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	unlock := c.locks.lock(sandboxID)
	defer unlock()

	rec, err := c.readRecord(sandboxID)
	if err != nil {
		return err
	}
	if err := c.teardown(ctx, sandboxID, netnsPath, rec); err != nil {
		return fmt.Errorf("network: teardown %s: %w", sandboxID, err)
	}
	return nil
}

// teardown does Teardown's work under the sandbox's lock. rec may be nil.
func (c *CNI) teardown(ctx context.Context, id, netnsPath string, rec *record) error {
	path := netnsPath
	if path == "" && rec != nil {
		path = rec.NetNS
	}
	if path == "" {
		path = c.NetNSPath(id)
	}
	_, statErr := os.Lstat(path)
	if rec == nil && errors.Is(statErr, os.ErrNotExist) {
		return nil // never set up, or already torn down
	}
	var list confList
	var prev json.RawMessage
	ifName := IfName
	if rec != nil {
		list, prev, ifName = rec.ConfList, rec.Result, rec.IfName
	} else {
		l, err := c.prepare(ctx)
		if err != nil {
			return err
		}
		list = l
	}
	nsArg := ""
	if isNetNS(path) {
		nsArg = path
	}
	if err := c.del(ctx, list, id, nsArg, ifName, prev); err != nil {
		// Some plugins fail a DEL half done and succeed on the next one
		// (the bridge plugin up to 1.1 deletes the pod's interface, then
		// fails when its masquerade chain is already gone): try once more.
		if ctx.Err() != nil {
			return err
		}
		if err2 := c.del(ctx, list, id, nsArg, ifName, prev); err2 != nil {
			return err2
		}
		c.log.Debug("CNI DEL succeeded on the second try", "sandbox", id, "firstErr", err)
	}
	if c.ownsNetNS(path) {
		if err := removeNetNS(path); err != nil {
			return err
		}
	}
	if err := c.removeRecord(id); err != nil {
		return err
	}
	c.log.Debug("pod network torn down", "sandbox", id, "netns", path)
	return nil
}

// ownsNetNS reports whether path is in the netns directory (Teardown never
// removes files it did not make).
func (c *CNI) ownsNetNS(path string) bool {
	return filepath.Dir(filepath.Clean(path)) == c.netnsDir
}

// Cleanup tears down every sandbox that is not in keep: those with a
// namespace file, a record or an address reservation left, typically by an
// agent that stopped without tearing its pods down, or by a host reboot.
// It runs the DEL where it can (a failure is logged), then removes the
// namespaces, records and reservations regardless. It is meant for the
// agent's start, with keep holding the sandboxes it still has; it waits for
// running Setup and Teardown calls and holds new ones off.
func (c *CNI) Cleanup(ctx context.Context, keep map[string]bool) error {
	c.gate.Lock()
	defer c.gate.Unlock()

	ids := map[string]bool{}
	if ents, err := os.ReadDir(c.netnsDir); err == nil {
		for _, e := range ents {
			if !e.IsDir() && checkID(e.Name()) == nil {
				ids[e.Name()] = true
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: cleanup: %w", err)
	}
	if ents, err := os.ReadDir(c.resultsDir); err == nil {
		for _, e := range ents {
			name := e.Name()
			if atomicfile.IsTemp(name) || strings.HasSuffix(name, ".json.tmp") { // .tmp: before atomicfile
				_ = os.Remove(filepath.Join(c.resultsDir, name))
				continue
			}
			if id, ok := strings.CutSuffix(name, ".json"); ok && checkID(id) == nil {
				ids[id] = true
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: cleanup: %w", err)
	}
	res, err := c.reservations()
	if err != nil {
		return fmt.Errorf("network: cleanup: %w", err)
	}
	for _, r := range res {
		if checkID(r.id) == nil {
			ids[r.id] = true
		}
	}

	var errs []error
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if keep[id] {
			continue
		}
		if err := c.forceTeardown(ctx, id, true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.releaseReservations(func(id string) bool { return !keep[id] }); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("network: cleanup: %w", errors.Join(errs...))
	}
	return nil
}

// forceTeardown runs the sandbox's DEL when it can, logging a failure,
// then removes its namespace, its record and its address reservations.
// del false skips the DEL (it just failed).
func (c *CNI) forceTeardown(ctx context.Context, id string, del bool) error {
	rec, err := c.readRecord(id)
	if err != nil {
		c.log.Warn("unreadable network record", "sandbox", id, "err", err)
		rec = nil
	}
	path := c.NetNSPath(id)
	if rec != nil && rec.NetNS != "" {
		path = rec.NetNS
	}
	var list confList
	var prev json.RawMessage
	ifName := IfName
	haveList := false
	if rec != nil {
		list, prev, ifName, haveList = rec.ConfList, rec.Result, rec.IfName, true
	} else if l, err := c.prepare(ctx); err == nil {
		list, haveList = l, true
	} else {
		c.log.Warn("cleanup: cannot run CNI DEL", "sandbox", id, "err", err)
	}
	if haveList && del {
		nsArg := ""
		if isNetNS(path) {
			nsArg = path
		}
		if err := c.del(ctx, list, id, nsArg, ifName, prev); err != nil {
			c.log.Warn("cleanup: CNI DEL failed; removing the sandbox's network state anyway", "sandbox", id, "err", err)
		}
	}
	var errs []error
	if c.ownsNetNS(path) {
		if err := removeNetNS(path); err != nil {
			errs = append(errs, err)
		}
	}
	if p := c.NetNSPath(id); p != path {
		if err := removeNetNS(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.releaseReservations(func(rid string) bool { return rid == id || rid == "" }); err != nil {
		errs = append(errs, err)
	}
	if err := c.removeRecord(id); err != nil {
		errs = append(errs, err)
	}
	c.log.Info("removed the network state of a sandbox", "sandbox", id)
	return errors.Join(errs...)
}

// reservation is one address host-local holds.
type reservation struct {
	path string
	ip   netip.Addr
	id   string
}

// reservations lists host-local's reservations in the network's data
// directory: one file per address, named by it, holding the container ID
// (and, since plugins 0.8, the interface on a second line).
func (c *CNI) reservations() ([]reservation, error) {
	dir := filepath.Join(c.ipamDir, NetworkName)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network: read reservations: %w", err)
	}
	var out []reservation
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue // lock, last_reserved_ip.0, ...
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("network: read reservation: %w", err)
		}
		out = append(out, reservation{path: p, ip: ip, id: parseReservation(b)})
	}
	return out, nil
}

// parseReservation returns the container ID of a host-local reservation
// file's content.
func parseReservation(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// releaseReservations removes the host-local reservations of the
// sandboxes release picks, under host-local's own lock.
func (c *CNI) releaseReservations(release func(id string) bool) error {
	dir := filepath.Join(c.ipamDir, NetworkName)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := flockFile(filepath.Join(dir, "lock"))
	if err != nil {
		return err
	}
	defer unlock()
	res, err := c.reservations()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range res {
		if !release(r.id) {
			continue
		}
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("network: release %s: %w", r.ip, err))
			continue
		}
		c.log.Info("released an address reservation", "sandbox", r.id, "ip", r.ip)
	}
	return errors.Join(errs...)
}

// keyedMutex is a set of mutexes by key, made as needed and dropped when
// unused.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

// keyedEntry is one key's mutex and how many hold or wait for it.
type keyedEntry struct {
	mu sync.Mutex
	n  int
}

// lock locks key's mutex and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.n++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.n--
		if e.n == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
