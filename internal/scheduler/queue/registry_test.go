package queue

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewPolicy(t *testing.T) {
	cases := []struct {
		name    string
		cfg     PolicyConfig
		wantErr string // substring; "" = no error
	}{
		{"fcfs", PolicyConfig{}, ""},
		{"priority", PolicyConfig{}, ""},
		{"sjf", PolicyConfig{}, ""},
		{"sjf", DefaultPolicyConfig(), ""},
		{"round-robin", PolicyConfig{RoundRobin: RoundRobinConfig{QueueLabel: "team"}}, ""},
		{"sjf", PolicyConfig{SJF: SJFConfig{AgingFactor: -1}}, "aging factor"},
		{"sjf", PolicyConfig{SJF: SJFConfig{AgingFactor: math.Inf(1)}}, "aging factor"},
		{"sjf", PolicyConfig{SJF: SJFConfig{DefaultDuration: -time.Second}}, "default duration"},
		{"fcfs", PolicyConfig{SJF: SJFConfig{AgingFactor: -1}}, ""}, // only the used part counts
		{"FCFS", PolicyConfig{}, `"FCFS"`},
		{"", PolicyConfig{}, "fcfs, sjf, round-robin, priority"},
		{"lifo", PolicyConfig{}, "fcfs, sjf, round-robin, priority"},
	}
	for _, tc := range cases {
		p, err := NewPolicy(tc.name, tc.cfg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewPolicy(%q, %+v) error = %v, want one containing %q", tc.name, tc.cfg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewPolicy(%q, %+v): %v", tc.name, tc.cfg, err)
			continue
		}
		if p.Name() != tc.name {
			t.Errorf("NewPolicy(%q).Name() = %q", tc.name, p.Name())
		}
	}
}

func TestPolicyNames(t *testing.T) {
	want := []string{"fcfs", "sjf", "round-robin", "priority"}
	if !slices.Equal(PolicyNames, want) {
		t.Errorf("PolicyNames = %v, want %v", PolicyNames, want)
	}
	for _, p := range []Policy{NewFCFS(), NewSJF(SJFConfig{}), NewRoundRobin(RoundRobinConfig{}), NewPriority()} {
		if !slices.Contains(PolicyNames, p.Name()) {
			t.Errorf("%q not in PolicyNames", p.Name())
		}
	}
}

func TestNewPolicyUsesConfig(t *testing.T) {
	// The round-robin part: queues by label.
	p, err := NewPolicy("round-robin", PolicyConfig{RoundRobin: RoundRobinConfig{QueueLabel: "team"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Push(ptQP("a", "1", 0, 1, ptLabel("team", "x")))
	p.Push(ptQP("b", "1", 1, 2, ptLabel("team", "x")))
	p.Push(ptQP("a", "2", 2, 3, ptLabel("team", "y")))
	if got := ptDrain(p); !slices.Equal(got, []string{"a/1", "a/2", "b/1"}) {
		t.Errorf("round-robin by label: %v", got)
	}
	// The SJF part: aging on with the default config.
	p, err = NewPolicy("sjf", DefaultPolicyConfig())
	if err != nil {
		t.Fatal(err)
	}
	p.Push(ptQP("ns", "short", 7200, 1, ptDur("1m")))
	p.Push(ptQP("ns", "long", 0, 2, ptDur("1h")))
	if got := ptDrain(p); !slices.Equal(got, []string{"ns/long", "ns/short"}) {
		t.Errorf("sjf with default config: %v", got)
	}
}
