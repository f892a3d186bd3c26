package prober

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ProbeType is the kind of a container probe.
type ProbeType string

const (
	// Startup is the startupProbe: until it succeeds, liveness and
	// readiness probes do not run; when it fails failureThreshold times in
	// a row the container is to be restarted.
	Startup ProbeType = "Startup"
	// Liveness is the livenessProbe: when it fails failureThreshold times
	// in a row the container is to be restarted.
	Liveness ProbeType = "Liveness"
	// Readiness is the readinessProbe: it decides whether the container is
	// ready to serve.
	Readiness ProbeType = "Readiness"
)

// FieldName is the container field holding a probe of type t, such as
// "livenessProbe".
func (t ProbeType) FieldName() string {
	switch t {
	case Startup:
		return "startupProbe"
	case Liveness:
		return "livenessProbe"
	case Readiness:
		return "readinessProbe"
	}
	return "probe"
}

// probeOf returns c's probe of type t.
func (t ProbeType) probeOf(c *corev1.Container) *corev1.Probe {
	switch t {
	case Startup:
		return c.StartupProbe
	case Liveness:
		return c.LivenessProbe
	case Readiness:
		return c.ReadinessProbe
	}
	return nil
}

// Initial is the state of a Worker of type t before its thresholds are
// met: Failure for readiness (not ready), Success for liveness (alive),
// Unknown for startup (not yet started).
func (t ProbeType) Initial() Result {
	switch t {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

// Defaults of a probe's unset (zero) timing fields, as in Kubernetes.
const (
	// DefaultPeriod is the interval between probes (periodSeconds).
	DefaultPeriod = 10 * time.Second
	// DefaultSuccessThreshold is the successes in a row that make a
	// failed probe succeed (successThreshold).
	DefaultSuccessThreshold = 1
	// DefaultFailureThreshold is the failures in a row that make a
	// successful probe fail (failureThreshold).
	DefaultFailureThreshold = 3
)

// Update is a probe result or a state change of a Worker.
type Update struct {
	// Container is WorkerConfig.Container.
	Container string
	// Type is the probe's type.
	Type ProbeType
	// Result is the probe's result (OnProbe) or the Worker's new state,
	// Success or Failure (OnChange).
	Result Result
	// Message is the message of the probe that produced the update.
	Message string
	// Time is when the probe finished, by the Worker's clock.
	Time time.Time
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Type is the probe's type.
	Type ProbeType
	// Container names the probed container in updates.
	Container string
	// Probe is the probe spec; NewWorker validates it against
	// Target.Ports.
	Probe *corev1.Probe
	// Target is what the probe runs against.
	Target Target
	// StartedAt is when the container started; initialDelaySeconds count
	// from it (default: when NewWorker was called).
	StartedAt time.Time
	// Gate, when set, holds the Worker back until it is closed: pass the
	// startup Worker's Started() to liveness and readiness Workers.
	Gate <-chan struct{}
	// OnChange is called, from Run's goroutine, with every change of the
	// Worker's state (after a threshold was met). It may be nil.
	OnChange func(Update)
	// OnProbe is called, from Run's goroutine, with the result of every
	// probe, for events such as "Liveness probe failed". It may be nil.
	OnProbe func(Update)
	// Clock is the time source (default RealClock).
	Clock Clock
}

// Worker repeats one probe of one container and keeps its state. Run it
// once, in a goroutine owned by the caller; read the state with Result.
// A Worker is for one container instance: after a restart of the
// container, create a new one.
type Worker struct {
	cfg                 WorkerConfig
	probe               corev1.Probe
	clock               Clock
	period              time.Duration
	initialDelay        time.Duration
	successes, failures int
	startedOnce         sync.Once
	started             chan struct{}
	mu                  sync.Mutex
	state               Result
	lastResult          Result // only Run's goroutine uses lastResult and run
	run                 int
	stopped             chan struct{}
	stoppedOnce         sync.Once
}

// NewWorker validates cfg and returns a Worker in its initial state. The
// error names the invalid field of the probe (such as
// "readinessProbe.httpGet.port"), for the agent to report on the pod.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch cfg.Type {
	case Startup, Liveness, Readiness:
	default:
		return nil, fmt.Errorf("prober: unknown probe type %q", cfg.Type)
	}
	if cfg.Probe == nil {
		return nil, fmt.Errorf("prober: %s: no probe", cfg.Type.FieldName())
	}
	fp := field.NewPath(cfg.Type.FieldName())
	errs := validateProbe(cfg.Probe, cfg.Target.Ports, fp)
	if cfg.Type != Readiness && cfg.Probe.SuccessThreshold > 1 {
		errs = append(errs, field.Invalid(fp.Child("successThreshold"), cfg.Probe.SuccessThreshold, "must be 1 for "+cfg.Type.FieldName()))
	}
	if err := errs.ToAggregate(); err != nil {
		return nil, fmt.Errorf("prober: container %q: %w", cfg.Container, err)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = cfg.Clock.Now()
	}
	w := &Worker{
		cfg: cfg, probe: *cfg.Probe.DeepCopy(), clock: cfg.Clock,
		period:       time.Duration(cfg.Probe.PeriodSeconds) * time.Second,
		initialDelay: time.Duration(cfg.Probe.InitialDelaySeconds) * time.Second,
		successes:    int(cfg.Probe.SuccessThreshold),
		failures:     int(cfg.Probe.FailureThreshold),
		started:      make(chan struct{}),
		stopped:      make(chan struct{}),
		state:        cfg.Type.Initial(),
		lastResult:   Unknown,
	}
	if w.period <= 0 {
		w.period = DefaultPeriod
	}
	if w.successes <= 0 {
		w.successes = DefaultSuccessThreshold
	}
	if w.failures <= 0 {
		w.failures = DefaultFailureThreshold
	}
	return w, nil
}

// ForContainer returns Workers for c's probes (startup first), built from
// template with Type, Probe and Target.Ports set from c and liveness and
// readiness gated on the startup Worker when c has a startup probe. The
// error names every invalid probe field under c's probe fields.
func ForContainer(c *corev1.Container, template WorkerConfig) ([]*Worker, error) {
	if err := ValidateContainer(c, nil); err != nil {
		return nil, fmt.Errorf("prober: container %q: %w", c.Name, err)
	}
	var out []*Worker
	gate := template.Gate
	for _, t := range []ProbeType{Startup, Liveness, Readiness} {
		p := t.probeOf(c)
		if p == nil {
			continue
		}
		cfg := template
		cfg.Type, cfg.Probe, cfg.Target.Ports, cfg.Gate = t, p, c.Ports, gate
		if cfg.Container == "" {
			cfg.Container = c.Name
		}
		w, err := NewWorker(cfg)
		if err != nil {
			return nil, err
		}
		if t == Startup {
			gate = w.Started()
		}
		out = append(out, w)
	}
	return out, nil
}

// Type returns the Worker's probe type.
func (w *Worker) Type() ProbeType { return w.cfg.Type }

// Result returns the Worker's current state: the initial state of its
// type until a threshold is met, then Success or Failure.
func (w *Worker) Result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Started is closed once a startup Worker's probe has succeeded; it is
// never closed for other types.
func (w *Worker) Started() <-chan struct{} { return w.started }

// Done is closed when Run has returned.
func (w *Worker) Done() <-chan struct{} { return w.stopped }

// Run probes until ctx is done. It returns early once a startup probe
// succeeded (it is not run again) and once a startup or liveness probe
// failed failureThreshold times (the container is to be restarted; a new
// container gets a new Worker). Call Run at most once.
func (w *Worker) Run(ctx context.Context) {
	defer w.stoppedOnce.Do(func() { close(w.stopped) })
	if w.cfg.Gate != nil {
		select {
		case <-ctx.Done():
			return
		case <-w.cfg.Gate:
		}
	}
	next := w.cfg.StartedAt.Add(w.initialDelay)
	for {
		if !w.sleepUntil(ctx, next) {
			return
		}
		if w.probeOnce(ctx) {
			return
		}
		// Keep the period's phase; skip beats a slow probe overran.
		now := w.clock.Now()
		for next = next.Add(w.period); !next.After(now); next = next.Add(w.period) {
		}
	}
}

// sleepUntil waits until t; false means ctx is done.
func (w *Worker) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(w.clock.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := w.clock.NewTimer(d)
	select {
	case <-ctx.Done():
		tm.Stop()
		return false
	case <-tm.C():
		return true
	}
}

// probeOnce runs the probe and applies the thresholds; true means Run
// should return.
func (w *Worker) probeOnce(ctx context.Context) bool {
	res, msg := Probe(ctx, &w.probe, w.cfg.Target)
	if ctx.Err() != nil {
		return true
	}
	u := Update{Container: w.cfg.Container, Type: w.cfg.Type, Result: res, Message: msg, Time: w.clock.Now()}
	if w.cfg.OnProbe != nil {
		w.cfg.OnProbe(u)
	}
	if res == Unknown {
		return false // the probe could not run: no evidence either way
	}
	r := Failure
	if res.Passed() {
		r = Success
	}
	if r == w.lastResult {
		w.run++
	} else {
		w.lastResult, w.run = r, 1
	}
	if (r == Success && w.run < w.successes) || (r == Failure && w.run < w.failures) {
		return false
	}
	if w.setState(r) && w.cfg.OnChange != nil {
		u.Result = r
		w.cfg.OnChange(u)
	}
	switch {
	case w.cfg.Type == Startup && r == Success:
		w.startedOnce.Do(func() { close(w.started) })
		return true
	case w.cfg.Type != Readiness && r == Failure:
		return true
	}
	return false
}

// setState sets the state and reports whether it changed.
func (w *Worker) setState(r Result) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := w.state != r
	w.state = r
	return changed
}
