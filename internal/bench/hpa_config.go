package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/autoscale"
)

// Defaults and limits of HPAConfig.
const (
	// DefaultHPARounds is how many load steps are timed per setting.
	DefaultHPARounds = 5
	// DefaultHPATargetRPS is the HPA's target: requests per second per
	// pod (averageValue of the Pods metric requests_per_second).
	DefaultHPATargetRPS = 20
	// DefaultHPAFastPeriod is the fast setting's sync period and metric
	// resolution.
	DefaultHPAFastPeriod = time.Second
	// DefaultHPAScaleDownWindow is the HPA's
	// behavior.scaleDown.stabilizationWindowSeconds: short, so that the
	// Deployment is back at one replica soon after the load drops.
	DefaultHPAScaleDownWindow = 15 * time.Second
	// DefaultHPATimeout bounds each wait of a round.
	DefaultHPATimeout = 2 * time.Minute
	// DefaultHPAClusterCIDR is the spawned server's --cluster-cidr, apart
	// from `berth up`'s, the other benchmarks' and the end-to-end tests'
	// ranges.
	DefaultHPAClusterCIDR = "10.51.0.0/16"
	// DefaultHPAServiceCIDR is the spawned server's --service-cidr, apart
	// from the 10.43.0.0/16 every other Berth on the machine uses: the
	// agent puts the ClusterIPs on the host's loopback interface.
	DefaultHPAServiceCIDR = "10.52.0.0/16"
	// DefaultHPABridge is the spawned agent's --cni-bridge.
	DefaultHPABridge = "berthh0"
	// DefaultHPAAddressLabel is the spawned agent's
	// --service-address-label, distinct from the lo:berth-svc of other
	// agents, which would otherwise remove each other's ClusterIPs.
	DefaultHPAAddressLabel = "lo:berth-hpa"
	// HPALowFactor and HPAHighFactor give the load's two rates as
	// multiples of the target: below it (one replica suffices) and 2.5
	// times it (three replicas are needed). Not 3 times: Kubernetes' rule
	// ceil(ratio × pods) sits on an integer there, so one request more in
	// a window (or a new pod counted as 0) asks for a fourth replica.
	HPALowFactor  = 0.5
	HPAHighFactor = 2.5
	// HPAMinReplicas and HPAMaxReplicas are the HPA's bounds.
	HPAMinReplicas = 1
	HPAMaxReplicas = 4
	// maxHPATargetRPS bounds --target-rps: the benchmark's own client, the
	// proxy and the pods share the machine.
	maxHPATargetRPS = 500
)

// HPASettingDefault and HPASettingFast name the two settings measured:
// Kubernetes' periods (no annotations: 15 s sync, 15 s metric resolution)
// and Berth's short ones (the berth.io/hpa-* annotations).
const (
	HPASettingDefault = "default"
	HPASettingFast    = "fast"
)

// HPAConfig configures RunHPA. Zero values mean the defaults;
// DefaultHPAConfig returns the defaults of `berth bench hpa`.
type HPAConfig struct {
	// Rounds is how many load steps are timed per setting.
	Rounds int
	// TargetRPS is the HPA's target value of requests_per_second per pod;
	// the load runs at HPALowFactor and HPAHighFactor times it.
	TargetRPS float64
	// Settings lists the settings measured, comma-separated, in order:
	// HPASettingDefault and/or HPASettingFast.
	Settings string
	// FastSyncPeriod and FastMetricResolution are the fast setting's
	// berth.io/hpa-sync-period and berth.io/hpa-metric-resolution.
	FastSyncPeriod       time.Duration
	FastMetricResolution time.Duration
	// ScaleDownWindow is the HPA's scale-down stabilization window (whole
	// seconds).
	ScaleDownWindow time.Duration
	// Timeout bounds each wait: the first scale-up after the step, the
	// expected replicas, the way back to one replica.
	Timeout time.Duration
	// Binary is the berth executable spawned as `berth server` and `berth
	// agent`; os.Executable() when empty.
	Binary string
	// WebApp is the examples/webapp executable the pods run. When empty,
	// it is built from the Berth module of the working directory, or else
	// a "webapp" next to Binary is used.
	WebApp string
	// ClusterCIDR and ServiceCIDR are the server's --cluster-cidr and
	// --service-cidr.
	ClusterCIDR string
	ServiceCIDR string
	// Bridge and AddressLabel are the agent's --cni-bridge and
	// --service-address-label.
	Bridge       string
	AddressLabel string
	// AgentPort is the agent's --agent-port; a free port when zero.
	AgentPort int
	// LogLevel is the level of the benchmark's own messages ("debug",
	// "info", "warn", "error"); empty keeps the Logger's.
	LogLevel string
	// ServerLogLevel, when set, is the spawned server's and agent's
	// --log-level (otherwise error and warn); what they log is shown
	// when they stop.
	ServerLogLevel string
	// JSONOnly leaves out the human-readable summary.
	JSONOnly bool
	// PlotFile, when set, receives a PNG chart of the reaction time of
	// every round per setting.
	PlotFile string
	// Logger receives progress messages; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultHPAConfig returns the configuration of `berth bench hpa` without
// flags.
func DefaultHPAConfig() HPAConfig {
	return HPAConfig{
		Rounds:               DefaultHPARounds,
		TargetRPS:            DefaultHPATargetRPS,
		Settings:             HPASettingDefault + "," + HPASettingFast,
		FastSyncPeriod:       DefaultHPAFastPeriod,
		FastMetricResolution: DefaultHPAFastPeriod,
		ScaleDownWindow:      DefaultHPAScaleDownWindow,
		Timeout:              DefaultHPATimeout,
		ClusterCIDR:          DefaultHPAClusterCIDR,
		ServiceCIDR:          DefaultHPAServiceCIDR,
		Bridge:               DefaultHPABridge,
		AddressLabel:         DefaultHPAAddressLabel,
	}
}

// ParseHPAArgs parses the flags of `berth bench hpa` into a validated
// HPAConfig. Usage and flag errors are written to output. It returns
// flag.ErrHelp for -h.
func ParseHPAArgs(args []string, output io.Writer) (HPAConfig, error) {
	cfg := DefaultHPAConfig()
	fs := newBenchFlagSet("hpa", "Spawns 'berth server' and 'berth agent' (process driver, as root), runs examples/webapp behind\n"+
		"an HTTP-mode Service with an HPA on requests_per_second, drives an open-loop load from this process and\n"+
		"times load step → the Deployment's spec.replicas changing, per setting (default: 15 s sync and metric\n"+
		"resolution; fast: the berth.io/hpa-* annotations), --rounds times each. The last output line is JSON.", output)
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "load steps timed per setting")
	fs.Float64Var(&cfg.TargetRPS, "target-rps", cfg.TargetRPS,
		fmt.Sprintf("the HPA's target requests/s per pod; the load runs at %g× and %g× it", HPALowFactor, HPAHighFactor))
	fs.StringVar(&cfg.Settings, "settings", cfg.Settings, "settings measured, comma-separated, in this order: default and/or fast")
	fs.DurationVar(&cfg.FastSyncPeriod, "fast-sync-period", cfg.FastSyncPeriod, "the fast setting's berth.io/hpa-sync-period")
	fs.DurationVar(&cfg.FastMetricResolution, "fast-metric-resolution", cfg.FastMetricResolution, "the fast setting's berth.io/hpa-metric-resolution")
	fs.DurationVar(&cfg.ScaleDownWindow, "scale-down-window", cfg.ScaleDownWindow, "the HPA's scale-down stabilization window (whole seconds)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit of each wait (first scale-up, expected replicas, back to one replica)")
	fs.StringVar(&cfg.Binary, "binary", "", "berth `executable` spawned as server and agent (default: this one)")
	fs.StringVar(&cfg.WebApp, "webapp", "", "examples/webapp `executable` the pods run (default: built from ./examples/webapp when run in the Berth module, else webapp next to the berth binary)")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "the spawned server's --cluster-cidr (keep it apart from other Berth clusters on this machine)")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", cfg.ServiceCIDR, "the spawned server's --service-cidr (keep it apart from other Berth clusters on this machine)")
	fs.StringVar(&cfg.Bridge, "cni-bridge", cfg.Bridge, "the spawned agent's --cni-bridge (keep it apart from other Berth agents on this machine)")
	fs.StringVar(&cfg.AddressLabel, "service-address-label", cfg.AddressLabel, "the spawned agent's --service-address-label (keep it apart from other Berth agents on this machine)")
	fs.IntVar(&cfg.AgentPort, "agent-port", 0, "the spawned agent's --agent-port (0: a free port)")
	fs.StringVar(&cfg.LogLevel, "log-level", "", "level of the benchmark's progress messages: debug, info, warn, error (default info)")
	fs.StringVar(&cfg.ServerLogLevel, "server-log-level", "", "the spawned server's and agent's --log-level (default error and warn); shown when they stop")
	fs.BoolVar(&cfg.JSONOnly, "json-only", false, "print only the JSON line")
	fs.StringVar(&cfg.PlotFile, "plot", "", "write a PNG chart of the reaction time of every round per setting to `file`")
	if err := parseBenchFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate reports the first invalid setting, naming its flag. Unlike
// RunHPA it does not fill in defaults.
func (c HPAConfig) Validate() error {
	if c.Rounds <= 0 {
		return fmt.Errorf("--rounds: %d is not positive", c.Rounds)
	}
	if !(c.TargetRPS >= 1 && c.TargetRPS <= maxHPATargetRPS) { // also NaN
		return fmt.Errorf("--target-rps: %g is out of range 1..%d", c.TargetRPS, maxHPATargetRPS)
	}
	if _, err := parseHPASettings(c.Settings); err != nil {
		return fmt.Errorf("--settings: %w", err)
	}
	for _, p := range []struct {
		flag string
		d    time.Duration
	}{{"--fast-sync-period", c.FastSyncPeriod}, {"--fast-metric-resolution", c.FastMetricResolution}} {
		if p.d < autoscale.MinPeriod || p.d > autoscale.MaxPeriod {
			return fmt.Errorf("%s: %v is outside [%v, %v] (the annotation's range)", p.flag, p.d, autoscale.MinPeriod, autoscale.MaxPeriod)
		}
	}
	if c.ScaleDownWindow < 0 || c.ScaleDownWindow > time.Hour || c.ScaleDownWindow%time.Second != 0 {
		return fmt.Errorf("--scale-down-window: %v is not whole seconds in [0s, 1h]", c.ScaleDownWindow)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout: %v is not positive", c.Timeout)
	}
	for _, p := range []struct{ flag, v string }{{"--cluster-cidr", c.ClusterCIDR}, {"--service-cidr", c.ServiceCIDR}} {
		if _, err := netip.ParsePrefix(p.v); err != nil {
			return fmt.Errorf("%s: %w", p.flag, err)
		}
	}
	if c.Bridge == "" || len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/: \t\n") {
		return fmt.Errorf("--cni-bridge: %q is not an interface name (at most 15 bytes, no '/', ':' or spaces)", c.Bridge)
	}
	if l := c.AddressLabel; !strings.HasPrefix(l, "lo:") || len(l) < 4 || len(l) > 15 || strings.ContainsAny(l, " /*?") {
		return fmt.Errorf("--service-address-label: %q: want lo: followed by 1 to 12 characters", l)
	}
	if c.AgentPort < 0 || c.AgentPort > 65535 {
		return fmt.Errorf("--agent-port: %d is out of range 0..65535", c.AgentPort)
	}
	for _, p := range []struct{ flag, v string }{{"--log-level", c.LogLevel}, {"--server-log-level", c.ServerLogLevel}} {
		if _, err := parseLogLevel(p.v); err != nil {
			return fmt.Errorf("%s: %w", p.flag, err)
		}
	}
	return nil
}

// withDefaults fills in the zero fields and validates the result.
func (c HPAConfig) withDefaults() (HPAConfig, error) {
	d := DefaultHPAConfig()
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Rounds, c.TargetRPS, c.Settings = cmp.Or(c.Rounds, d.Rounds), cmp.Or(c.TargetRPS, d.TargetRPS), cmp.Or(c.Settings, d.Settings)
	c.FastSyncPeriod, c.FastMetricResolution = cmp.Or(c.FastSyncPeriod, d.FastSyncPeriod), cmp.Or(c.FastMetricResolution, d.FastMetricResolution)
	c.ScaleDownWindow, c.Timeout = cmp.Or(c.ScaleDownWindow, d.ScaleDownWindow), cmp.Or(c.Timeout, d.Timeout)
	c.ClusterCIDR, c.ServiceCIDR = cmp.Or(c.ClusterCIDR, d.ClusterCIDR), cmp.Or(c.ServiceCIDR, d.ServiceCIDR)
	c.Bridge, c.AddressLabel = cmp.Or(c.Bridge, d.Bridge), cmp.Or(c.AddressLabel, d.AddressLabel)
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.LogLevel != "" {
		lvl, _ := parseLogLevel(c.LogLevel) // validated
		c.Logger = slog.New(levelHandler{Handler: c.Logger.Handler(), min: lvl})
	}
	var err error
	if c.Binary, err = berthBinary(c.Binary); err != nil {
		return c, err
	}
	return c, nil
}

// hpaSetting is one HPA setting measured: its name and periods.
type hpaSetting struct {
	name             string
	syncPeriod       time.Duration
	metricResolution time.Duration
	// annotate says whether the periods are set by annotations (fast) or
	// are the defaults without any (default).
	annotate bool
}

// settings returns the settings to measure, in order.
func (c HPAConfig) settings() []hpaSetting {
	names, _ := parseHPASettings(c.Settings) // validated
	out := make([]hpaSetting, 0, len(names))
	for _, n := range names {
		s := hpaSetting{name: n, syncPeriod: autoscale.DefaultSyncPeriod, metricResolution: autoscale.DefaultMetricResolution}
		if n == HPASettingFast {
			s.syncPeriod, s.metricResolution, s.annotate = c.FastSyncPeriod, c.FastMetricResolution, true
		}
		out = append(out, s)
	}
	return out
}

// annotations are the HPA's annotations for the setting (nil for the
// default one).
func (s hpaSetting) annotations() map[string]string {
	if !s.annotate {
		return nil
	}
	return map[string]string{autoscale.AnnotationSyncPeriod: s.syncPeriod.String(), autoscale.AnnotationMetricResolution: s.metricResolution.String()}
}

// hold is how long each steady phase lasts (low load before the step,
// high load once the expected replicas are reached): one sync period and
// one metric resolution, so that the HPA evaluates fresh figures at least
// once, and at least 10 s.
func (s hpaSetting) hold() time.Duration {
	return max(10*time.Second, s.syncPeriod+s.metricResolution)
}

// parseHPASettings splits a comma-separated list of setting names; each
// must be known and appear once.
func parseHPASettings(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n != HPASettingDefault && n != HPASettingFast {
			return nil, fmt.Errorf("%q is not a setting: want %s and/or %s, comma-separated", n, HPASettingDefault, HPASettingFast)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("%s is listed twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseLogLevel parses debug, info, warn or error; "" is info.
func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil || !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(s)) {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}

// levelHandler passes on the records at or above min, whatever the level
// of the handler it wraps.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

// Enabled reports whether a record of level l is passed on.
func (h levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

// WithAttrs returns the handler with attrs added, at the same level.
func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

// WithGroup returns the handler within group name, at the same level.
func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}

// webAppModule is the module examples/webapp is built from.
const webAppModule = "github.com/berth-dev/berth"

// findWebApp returns the examples/webapp executable the pods run: file
// when set; else one built into dir from the Berth module of the working
// directory (so that it matches the source); else a "webapp" next to
// binary.
func findWebApp(ctx context.Context, file, binary, dir string, log *slog.Logger) (string, error) {
	if file != "" {
		abs, err := filepath.Abs(file)
		if err == nil {
			err = checkExecutable(abs)
		}
		if err != nil {
			return "", fmt.Errorf("--webapp: %w", err)
		}
		return abs, nil
	}
	next := filepath.Join(filepath.Dir(binary), "webapp")
	hint := "build it with `CGO_ENABLED=0 go build -o webapp ./examples/webapp` and pass --webapp"
	modDir := ""
	goBin, err := exec.LookPath("go")
	if err == nil {
		out, lerr := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
		path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		if lerr == nil && path == webAppModule {
			modDir = dir
		}
	}
	if modDir == "" {
		if checkExecutable(next) == nil {
			return next, nil
		}
		return "", fmt.Errorf("bench: no examples/webapp executable (the working directory is not in the module %s with a go toolchain, and there is no %s): %s",
			webAppModule, next, hint)
	}
	dst := filepath.Join(dir, "webapp")
	log.Info("building examples/webapp", "module", modDir, "out", dst)
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dst, "./examples/webapp")
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: build examples/webapp: %w: %s (%s)", err, strings.TrimSpace(string(msg)), hint)
	}
	return dst, nil
}

// checkExecutable reports why file is not an executable regular file.
func checkExecutable(file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return errors.New(file + " is not an executable file")
	}
	return nil
}
