package prober

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fakeClock is a Clock whose time moves only when the test sets it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	return true
}

// set moves the clock to now and fires the timers that are due.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- now
	}
	c.timers = kept
}

// pending returns the number of armed timers and the earliest deadline.
func (c *fakeClock) pending() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, t := range c.timers {
		if first.IsZero() || t.at.Before(first) {
			first = t.at
		}
	}
	return len(c.timers), first
}

// waitFor polls cond (real time) for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// script is an Execer replaying outcomes: "ok", "fail" or "err" (the
// command could not run), recording the clock's time of every call.
type script struct {
	mu    sync.Mutex
	clock *fakeClock
	steps []string
	calls []time.Time
}

func (s *script) exec(context.Context, []string) (int, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, s.clock.Now())
	step := "ok"
	if i := len(s.calls) - 1; i < len(s.steps) {
		step = s.steps[i]
	}
	switch step {
	case "fail":
		return 1, "not yet", nil
	case "err":
		return 0, "", errors.New("runtime unavailable")
	}
	return 0, "fine", nil
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// change is a state change at an offset from the start.
type change struct {
	at     time.Duration
	result Result
}

func TestWorkerTiming(t *testing.T) {
	s := func(secs ...int) []time.Duration {
		out := make([]time.Duration, len(secs))
		for i, v := range secs {
			out[i] = time.Duration(v) * time.Second
		}
		return out
	}
	tests := []struct {
		name       string
		typ        ProbeType
		probe      corev1.Probe
		startedAgo time.Duration
		steps      []string
		wantProbes []time.Duration
		wantChange []change
		wantExit   bool
	}{
		{
			name: "readiness with defaults", typ: Readiness,
			steps:      []string{"ok", "ok", "fail", "fail", "fail", "ok"},
			wantProbes: s(0, 10, 20, 30, 40, 50),
			wantChange: []change{{0, Success}, {40 * time.Second, Failure}, {50 * time.Second, Success}},
		},
		{
			name: "readiness initial delay and success threshold", typ: Readiness,
			probe:      corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 3, SuccessThreshold: 2},
			steps:      []string{"ok", "fail", "ok", "ok"},
			wantProbes: s(5, 8, 11, 14),
			wantChange: []change{{14 * time.Second, Success}},
		},
		{
			name: "liveness fails after failureThreshold in a row", typ: Liveness,
			probe:      corev1.Probe{PeriodSeconds: 2, FailureThreshold: 3},
			steps:      []string{"fail", "fail", "ok", "fail", "fail", "fail"},
			wantProbes: s(0, 2, 4, 6, 8, 10),
			wantChange: []change{{10 * time.Second, Failure}},
			wantExit:   true,
		},
		{
			name: "liveness success is its initial state", typ: Liveness,
			steps:      []string{"ok", "ok"},
			wantProbes: s(0, 10),
		},
		{
			name: "results of probes that could not run are discarded", typ: Liveness,
			probe:      corev1.Probe{FailureThreshold: 2},
			steps:      []string{"fail", "err", "fail"},
			wantProbes: s(0, 10, 20),
			wantChange: []change{{20 * time.Second, Failure}},
			wantExit:   true,
		},
		{
			name: "startup succeeds and stops", typ: Startup,
			probe:      corev1.Probe{PeriodSeconds: 5},
			steps:      []string{"fail", "fail", "ok"},
			wantProbes: s(0, 5, 10),
			wantChange: []change{{10 * time.Second, Success}},
			wantExit:   true,
		},
		{
			name: "startup gives up", typ: Startup,
			probe:      corev1.Probe{FailureThreshold: 2},
			steps:      []string{"fail", "fail"},
			wantProbes: s(0, 10),
			wantChange: []change{{10 * time.Second, Failure}},
			wantExit:   true,
		},
		{
			name: "initial delay counts from the container start", typ: Readiness,
			probe:      corev1.Probe{InitialDelaySeconds: 10},
			startedAgo: 25 * time.Second,
			steps:      []string{"ok", "ok", "ok"},
			wantProbes: s(0, 5, 15),
			wantChange: []change{{0, Success}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			t0 := clock.Now()
			sc := &script{clock: clock, steps: tc.steps}
			var mu sync.Mutex
			var changes []change
			probe := tc.probe
			probe.Exec = &corev1.ExecAction{Command: []string{"check"}}
			w, err := NewWorker(WorkerConfig{
				Type: tc.typ, Container: "app", Probe: &probe, Target: Target{Exec: sc.exec}, Clock: clock,
				StartedAt: t0.Add(-tc.startedAgo),
				OnChange: func(u Update) {
					mu.Lock()
					defer mu.Unlock()
					if u.Container != "app" || u.Type != tc.typ {
						t.Errorf("update %+v", u)
					}
					changes = append(changes, change{u.Time.Sub(t0), u.Result})
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Result(); got != tc.typ.Initial() {
				t.Errorf("initial Result = %v, want %v", got, tc.typ.Initial())
			}
			ctx, cancel := context.WithCancel(context.Background())
			go w.Run(ctx)
			exited := false
			for {
				// Idle: the worker waits on its timer, or has returned.
				waitFor(t, "worker idle", func() bool {
					n, _ := clock.pending()
					return n == 1 || isClosed(w.Done())
				})
				if isClosed(w.Done()) {
					exited = true
					break
				}
				if sc.count() >= len(tc.steps) {
					break
				}
				_, next := clock.pending()
				clock.set(next)
			}
			cancel()
			<-w.Done()
			var got []time.Duration
			for _, c := range sc.calls {
				got = append(got, c.Sub(t0))
			}
			if !slices.Equal(got, tc.wantProbes) {
				t.Errorf("probes at %v, want %v", got, tc.wantProbes)
			}
			if !slices.Equal(changes, tc.wantChange) {
				t.Errorf("changes %v, want %v", changes, tc.wantChange)
			}
			if exited != tc.wantExit {
				t.Errorf("Run returned on its own: %v, want %v", exited, tc.wantExit)
			}
			if len(tc.wantChange) > 0 && w.Result() != tc.wantChange[len(tc.wantChange)-1].result {
				t.Errorf("Result = %v, want the last change", w.Result())
			}
			if tc.typ == Startup {
				started := isClosed(w.Started())
				if want := w.Result() == Success; started != want {
					t.Errorf("Started closed: %v, want %v", started, want)
				}
			}
		})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestStartupGatesLivenessAndReadiness(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	calls := map[string]int{}
	exec := func(_ context.Context, cmd []string) (int, string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[cmd[0]]++
		if cmd[0] == "startup" && calls[cmd[0]] == 1 {
			return 1, "starting", nil
		}
		return 0, "", nil
	}
	count := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[name]
	}
	probe := func(name string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{name}}}}
	}
	c := &corev1.Container{Name: "app", StartupProbe: probe("startup"), LivenessProbe: probe("liveness"), ReadinessProbe: probe("readiness")}
	workers, err := ForContainer(c, WorkerConfig{Target: Target{Exec: exec}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if len(workers) != 3 || workers[0].Type() != Startup || workers[1].Type() != Liveness || workers[2].Type() != Readiness {
		t.Fatalf("workers %v", workers)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	// The startup probe fails once; the others wait.
	waitFor(t, "startup probe armed", func() bool { n, _ := clock.pending(); return n == 1 && count("startup") == 1 })
	if count("liveness") != 0 || count("readiness") != 0 {
		t.Fatalf("probes ran before startup succeeded: %v", calls)
	}
	if workers[1].Result() != Success || workers[2].Result() != Failure {
		t.Fatalf("liveness %v, readiness %v before startup", workers[1].Result(), workers[2].Result())
	}
	// It succeeds; liveness and readiness start at once.
	_, next := clock.pending()
	clock.set(next)
	waitFor(t, "liveness and readiness armed", func() bool { n, _ := clock.pending(); return n == 2 })
	if !isClosed(workers[0].Started()) || count("liveness") != 1 || count("readiness") != 1 {
		t.Fatalf("after startup: started %v, calls %v", isClosed(workers[0].Started()), calls)
	}
	if workers[2].Result() != Success {
		t.Fatalf("readiness %v after a successful probe", workers[2].Result())
	}
}

func TestNewWorkerErrors(t *testing.T) {
	httpProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("web")}}}
	tests := []struct {
		name string
		cfg  WorkerConfig
		want string
	}{
		{"bad port name", WorkerConfig{Type: Readiness, Container: "app", Probe: httpProbe},
			`container "app": readinessProbe.httpGet.port: Invalid value: "web": no container port named "web"`},
		{"liveness success threshold", WorkerConfig{Type: Liveness, Probe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}},
			"livenessProbe.successThreshold: Invalid value: 2: must be 1"},
		{"no probe", WorkerConfig{Type: Startup}, "startupProbe: no probe"},
		{"unknown type", WorkerConfig{Type: "Sometimes", Probe: httpProbe}, `unknown probe type "Sometimes"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWorker(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWorker = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ForContainer(&corev1.Container{Name: "c", LivenessProbe: httpProbe}, WorkerConfig{}); err == nil ||
		!strings.Contains(err.Error(), "livenessProbe.httpGet.port") {
		t.Fatalf("ForContainer = %v", err)
	}
}

func TestWorkerRealClock(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	probes := make(chan Update, 10)
	changes := make(chan Update, 10)
	w, err := NewWorker(WorkerConfig{Type: Readiness, Container: "app",
		Probe:    &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(l.Addr().(*net.TCPAddr).Port))}}},
		Target:   Target{PodIP: "127.0.0.1"},
		OnProbe:  func(u Update) { probes <- u },
		OnChange: func(u Update) { changes <- u },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	select {
	case u := <-changes:
		if u.Result != Success || u.Type != Readiness {
			t.Errorf("change %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no readiness change")
	}
	if u := <-probes; u.Result != Success {
		t.Errorf("probe %+v", u)
	}
	cancel()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
