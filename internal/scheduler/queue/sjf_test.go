package queue

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestParseExpectedDuration(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"90s", 90, true},
		{"1h30m", 5400, true},
		{"1m30s", 90, true},
		{"500ms", 0.5, true},
		{"0s", 0, true},
		{"90", 90, true},
		{" 90 ", 90, true},
		{"1.5", 1.5, true},
		{"0", 0, true},
		{"1e3", 1000, true},
		{"", 0, false},
		{"abc", 0, false},
		{"90x", 0, false},
		{"-5s", 0, false},
		{"-5", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e30", 0, false},           // beyond the longest time.Duration
		{"9999999999999h", 0, false}, // time.ParseDuration overflow
	}
	for _, tc := range cases {
		got, ok := parseExpectedDuration(tc.in)
		if ok != tc.ok || (ok && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("parseExpectedDuration(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSJF(t *testing.T) {
	noAging := SJFConfig{DefaultDuration: time.Hour}
	cases := []struct {
		cfg SJFConfig
		ptCase
	}{
		{noAging, ptCase{name: "empty", steps: []ptStep{ptPop("", 0), ptDelete("ns/a", false, 0)}}},
		{noAging, ptCase{
			name: "annotation formats; missing, malformed and negative mean the default",
			pods: []*QueuedPod{
				ptQP("ns", "missing", 0, 1),
				ptQP("ns", "2h", 0, 2, ptDur("2h")),
				ptQP("ns", "90s", 0, 3, ptDur("90s")),
				ptQP("ns", "bad", 0, 4, ptDur("soon")),
				ptQP("ns", "60", 0, 5, ptDur("60")),
				ptQP("ns", "1h30m", 0, 6, ptDur("1h30m")),
				ptQP("ns", "neg", 0, 7, ptDur("-1m")),
				ptQP("ns", "59m", 0, 8, ptDur("59m")),
				ptQP("ns", "61m", 0, 9, ptDur("61m")),
				ptQP("ns", "1.5", 0, 10, ptDur("1.5")),
			},
			// "missing", "bad" and "neg" are 1h each: equal keys, equal
			// requests, so seq.
			want: []string{"ns/1.5", "ns/60", "ns/90s", "ns/59m", "ns/missing", "ns/bad", "ns/neg", "ns/61m", "ns/1h30m", "ns/2h"},
		}},
		{SJFConfig{DefaultDuration: time.Minute}, ptCase{
			name: "custom default duration",
			pods: []*QueuedPod{
				ptQP("ns", "90s", 0, 1, ptDur("90s")),
				ptQP("ns", "missing", 0, 2),
				ptQP("ns", "30s", 0, 3, ptDur("30s")),
			},
			want: []string{"ns/30s", "ns/missing", "ns/90s"},
		}},
		{noAging, ptCase{
			name: "no aging: a short job beats an older long one",
			pods: []*QueuedPod{
				ptQP("ns", "old-long", -86400, 1, ptDur("2h")),
				ptQP("ns", "new-short", 0, 2, ptDur("1m")),
			},
			want: []string{"ns/new-short", "ns/old-long"},
		}},
		{noAging, ptCase{
			name: "ties: smaller cpu, then smaller memory, then seq",
			pods: []*QueuedPod{
				ptQP("ns", "big-cpu", 0, 1, ptReq("2", "1Gi")),
				ptQP("ns", "none", 0, 2),
				ptQP("ns", "small-cpu-big-mem", 0, 3, ptReq("100m", "4Gi")),
				ptQP("ns", "small-cpu-small-mem", 0, 4, ptReq("100m", "1Gi")),
				ptQP("ns", "small-cpu-small-mem-2", 0, 5, ptReq("100m", "1Gi")),
				ptQP("ns", "mem-only", 0, 6, ptReq("", "1Mi")),
				// Same-second creation: the sub-second part does not count.
				ptQP("ns", "later-in-second", 0, 0, ptNanos(500_000_000), ptReq("2", "1Gi")),
			},
			want: []string{"ns/none", "ns/mem-only", "ns/small-cpu-small-mem", "ns/small-cpu-small-mem-2", "ns/small-cpu-big-mem", "ns/later-in-second", "ns/big-cpu"},
		}},
		{DefaultSJFConfig(), ptCase{
			name: "aging: 1h job goes before a 1m job created more than 59m later",
			pods: []*QueuedPod{
				ptQP("ns", "short-59m-later", 59*60, 1, ptDur("1m")),
				ptQP("ns", "short-59m1s-later", 59*60+1, 2, ptDur("1m")),
				ptQP("ns", "long", 0, 3, ptDur("1h")),
			},
			// long and short-59m-later tie (same key, same requests): seq.
			want: []string{"ns/short-59m-later", "ns/long", "ns/short-59m1s-later"},
		}},
		{DefaultSJFConfig(), ptCase{
			name: "aging with pods without annotation: FCFS",
			pods: []*QueuedPod{
				ptQP("ns", "c", 2, 1),
				ptQP("ns", "a", 0, 3),
				ptQP("ns", "b", 1, 2),
			},
			want: []string{"ns/a", "ns/b", "ns/c"},
		}},
		{SJFConfig{AgingFactor: 0.5}, ptCase{
			name: "aging factor 0.5: 1h beats 1m created more than 7080s later",
			pods: []*QueuedPod{
				ptQP("ns", "short-7079", 7079, 1, ptDur("1m")),
				ptQP("ns", "short-7081", 7081, 2, ptDur("1m")),
				ptQP("ns", "long", 0, 3, ptDur("1h")),
			},
			want: []string{"ns/short-7079", "ns/long", "ns/short-7081"},
		}},
		{SJFConfig{AgingFactor: -3}, ptCase{
			name: "negative aging factor acts as 0",
			pods: []*QueuedPod{
				ptQP("ns", "old-long", -86400, 1, ptDur("2h")),
				ptQP("ns", "new-short", 0, 2, ptDur("1m")),
			},
			want: []string{"ns/new-short", "ns/old-long"},
		}},
		{SJFConfig{AgingFactor: math.NaN()}, ptCase{
			name: "NaN aging factor acts as 0",
			pods: []*QueuedPod{
				ptQP("ns", "old-long", -86400, 1, ptDur("2h")),
				ptQP("ns", "new-short", 0, 2, ptDur("1m")),
			},
			want: []string{"ns/new-short", "ns/old-long"},
		}},
		{noAging, ptCase{
			name: "update changes the expected duration",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1, ptDur("10m")),
				ptQP("ns", "b", 0, 2, ptDur("20m")),
				ptQP("ns", "c", 0, 3, ptDur("30m")),
			},
			steps: []ptStep{
				ptUpdate(ptQP("ns", "c", 0, 3, ptDur("1m")), true, 3),
				ptUpdate(ptQP("ns", "a", 0, 1, ptNoDur()), true, 3), // default 1h
				ptUpdate(ptQP("ns", "z", 0, 9, ptDur("1s")), false, 3),
			},
			want: []string{"ns/c", "ns/b", "ns/a"},
		}},
		{noAging, ptCase{
			name: "update changes the requests",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1, ptReq("1", "")),
				ptQP("ns", "b", 0, 2, ptReq("2", "")),
			},
			steps: []ptStep{ptUpdate(ptQP("ns", "b", 0, 2, ptReq("500m", "")), true, 2)},
			want:  []string{"ns/b", "ns/a"},
		}},
		{DefaultSJFConfig(), ptCase{
			name: "delete and interleaved push and pop",
			pods: []*QueuedPod{
				ptQP("ns", "a", 0, 1, ptDur("10m")),
				ptQP("ns", "b", 0, 2, ptDur("5m")),
				ptQP("ns", "c", 0, 3, ptDur("1m")),
			},
			steps: []ptStep{
				ptDelete("ns/c", true, 2), ptDelete("ns/c", false, 2),
				ptPop("ns/b", 1),
				ptPush(ptQP("ns", "d", 60, 4, ptDur("30s")), 2),
				ptPop("ns/d", 1),
			},
			want: []string{"ns/a"},
		}},
	}
	for _, tc := range cases {
		ptRun(t, func() Policy { return NewSJF(tc.cfg) }, []ptCase{tc.ptCase})
	}
}

// TestSJFAging shows that aging keeps a long job from starving: created a
// day ago, a 6h job beats a stream of 1m jobs submitted now; without aging
// the short jobs always win.
func TestSJFAging(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  SJFConfig
		want string
	}{
		{"default config", DefaultSJFConfig(), "batch/long"},
		{"aging factor 1", SJFConfig{DefaultDuration: time.Hour, AgingFactor: 1}, "batch/long"},
		{"no aging", SJFConfig{DefaultDuration: time.Hour}, "batch/short-0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewSJF(tc.cfg)
			p.Push(ptQP("batch", "long", -86400, 1, ptDur("6h")))
			for i := range 100 {
				p.Push(ptQP("batch", fmt.Sprintf("short-%d", i), 0, uint64(10+i), ptDur("1m")))
			}
			if got := p.Pop().Key; got != tc.want {
				t.Errorf("first pop %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSJFConfigDefaults(t *testing.T) {
	d := DefaultSJFConfig()
	if d.DefaultDuration != time.Hour || d.AgingFactor != 1 {
		t.Errorf("DefaultSJFConfig() = %+v", d)
	}
	z := SJFConfig{}.withDefaults()
	if z.DefaultDuration != time.Hour || z.AgingFactor != 0 {
		t.Errorf("zero config with defaults = %+v", z)
	}
	for _, f := range []float64{-1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := (SJFConfig{AgingFactor: f}).withDefaults().AgingFactor; got != 0 {
			t.Errorf("AgingFactor %v sanitized to %v", f, got)
		}
	}
}
