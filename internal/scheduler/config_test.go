package scheduler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"default-scheduler": "priority", "fcfs": "fcfs", "sjf": "sjf", "round-robin": "round-robin", "priority": "priority"}
	if len(cfg.Profiles) != len(want) {
		t.Fatalf("%d profiles, want %d", len(cfg.Profiles), len(want))
	}
	for _, p := range cfg.Profiles {
		if want[p.SchedulerName] != p.Queue || p.Placement != PlacementSpread {
			t.Errorf("profile %+v", p)
		}
		if *p.Preemption != (p.Queue == "priority") {
			t.Errorf("profile %s: preemption %v", p.SchedulerName, *p.Preemption)
		}
	}
	if cfg.PodInitialBackoff.Duration != time.Second || cfg.PodMaxBackoff.Duration != 10*time.Second ||
		cfg.MaxUnschedulableWait.Duration != time.Minute || cfg.BindConcurrency != 128 || cfg.PercentageOfNodesToScore != 0 {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestParseConfig(t *testing.T) {
	good := `
apiVersion: berth.io/v1alpha1
kind: SchedulerConfiguration
percentageOfNodesToScore: 30
podInitialBackoff: 200ms
podMaxBackoff: 2s
profiles:
- schedulerName: batch
  queue: sjf
  placement: bin-pack
  sjf: {defaultDuration: 10m, agingFactor: 0.5}
- schedulerName: tenants
  queue: round-robin
  preemption: true
  roundRobin: {queueLabel: team}
  scoreWeights: {NodeResourcesBalancedAllocation: 3, WorkloadSpread: 0}
`
	cfg, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PercentageOfNodesToScore != 30 || cfg.PodInitialBackoff.Duration != 200*time.Millisecond || len(cfg.Profiles) != 2 {
		t.Fatalf("parsed %+v", cfg)
	}
	qc := cfg.Profiles[0].queueConfig()
	if qc.SJF.DefaultDuration != 10*time.Minute || qc.SJF.AgingFactor != 0.5 {
		t.Errorf("sjf config %+v", qc.SJF)
	}
	if cfg.Profiles[1].queueConfig().RoundRobin.QueueLabel != "team" || !*cfg.Profiles[1].Preemption {
		t.Errorf("round-robin profile %+v", cfg.Profiles[1])
	}

	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "profiles: [{schedulerName: a, queue: fcfs, colour: red}]", `unknown field "colour"`},
		{"no profiles", "percentageOfNodesToScore: 5", "no profiles"},
		{"bad policy", "profiles: [{schedulerName: a, queue: lifo}]", `unknown queue policy "lifo"`},
		{"missing name", "profiles: [{queue: fcfs}]", "profiles[0]: schedulerName is required"},
		{"duplicate", "profiles: [{schedulerName: a, queue: fcfs}, {schedulerName: a, queue: sjf}]", `schedulerName "a" appears twice`},
		{"placement", "profiles: [{schedulerName: a, queue: fcfs, placement: pack}]", `placement "pack"`},
		{"weight plugin", "profiles: [{schedulerName: a, queue: fcfs, scoreWeights: {Nope: 1}}]", `unknown score plugin "Nope"`},
		{"weight range", "profiles: [{schedulerName: a, queue: fcfs, scoreWeights: {WorkloadSpread: -1}}]", "want 0..100"},
		{"percentage", "percentageOfNodesToScore: 101\nprofiles: [{schedulerName: a, queue: fcfs}]", "percentageOfNodesToScore 101"},
		{"backoff order", "podInitialBackoff: 5s\npodMaxBackoff: 1s\nprofiles: [{schedulerName: a, queue: fcfs}]", "want 0 < initial <= max"},
		{"aging", "profiles: [{schedulerName: a, queue: sjf, sjf: {agingFactor: -1}}]", "agingFactor -1 must not be negative"},
		{"kind", "kind: Pod\nprofiles: [{schedulerName: a, queue: fcfs}]", `kind "Pod"`},
		{"bad duration", "podMaxBackoff: soon\nprofiles: [{schedulerName: a, queue: fcfs}]", "scheduler config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	f := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(f, []byte("profiles: [{schedulerName: default-scheduler, queue: fcfs}]"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(f)
	if err != nil || cfg.Profiles[0].Queue != "fcfs" {
		t.Fatalf("cfg %+v err %v", cfg, err)
	}
}
