package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

func TestLogsOptions(t *testing.T) {
	since := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name      string
		in        runtime.LogOptions
		tail      string
		since     string
		ok        bool
		follow    bool
		timestamp bool
	}{
		{name: "all", in: runtime.LogOptions{TailLines: -1}, tail: "all", ok: true},
		{name: "tail 0", in: runtime.LogOptions{TailLines: 0}, ok: false},
		{name: "tail 0 follow", in: runtime.LogOptions{TailLines: 0, Follow: true}, tail: "0", ok: true, follow: true},
		{name: "tail 5", in: runtime.LogOptions{TailLines: 5}, tail: "5", ok: true},
		{name: "since and timestamps", in: runtime.LogOptions{TailLines: -1, Since: since, Timestamps: true},
			tail: "all", since: "1735787045.000000006", ok: true, timestamp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := logsOptions(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if !o.ShowStdout || !o.ShowStderr || o.Tail != tc.tail || o.Since != tc.since || o.Follow != tc.follow || o.Timestamps != tc.timestamp {
				t.Errorf("options %+v, want tail %q since %q follow %v timestamps %v", o, tc.tail, tc.since, tc.follow, tc.timestamp)
			}
		})
	}
}

func TestUnixNano(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1, 5), "1.000000005"},
		{time.Unix(1700000000, 999999999), "1700000000.999999999"},
		{time.Unix(-1, 5e8), "-1.500000000"},
	}
	for _, tc := range tests {
		if got := unixNano(tc.t); got != tc.want {
			t.Errorf("unixNano(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestLimitWriter(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64
		writes []string
		want   string
		hitAt  int // index of the write that reports runtime.ErrLogLimit (-1: none)
	}{
		{name: "no limit", limit: 0, writes: []string{"abc", "def"}, want: "abcdef", hitAt: -1},
		{name: "cut in a write", limit: 4, writes: []string{"abc", "def"}, want: "abcd", hitAt: 1},
		{name: "exactly", limit: 3, writes: []string{"abc"}, want: "abc", hitAt: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			w := runtime.LimitWriter(&b, tc.limit)
			hit := -1
			for i, s := range tc.writes {
				if _, err := w.Write([]byte(s)); errors.Is(err, runtime.ErrLogLimit) {
					hit = i
					break
				}
			}
			if b.String() != tc.want || hit != tc.hitAt {
				t.Errorf("wrote %q (limit hit at %d), want %q (at %d)", b.String(), hit, tc.want, tc.hitAt)
			}
		})
	}
}

func TestStatsOf(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	read := now.Add(-time.Second)
	decode := func(s string) container.StatsResponse {
		var r container.StatsResponse
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name     string
		in       container.StatsResponse
		cpu, mem uint64
		ts       time.Time
	}{
		{name: "cgroup v1", in: decode(`{"read":"2024-12-31T23:59:59Z","cpu_stats":{"cpu_usage":{"total_usage":123}},
			"memory_stats":{"usage":1000,"stats":{"total_inactive_file":300,"inactive_file":100}}}`), cpu: 123, mem: 700, ts: read},
		{name: "cgroup v2", in: decode(`{"read":"2024-12-31T23:59:59Z","cpu_stats":{"cpu_usage":{"total_usage":5}},
			"memory_stats":{"usage":1000,"stats":{"inactive_file":400}}}`), cpu: 5, mem: 600, ts: read},
		{name: "inactive above usage", in: decode(`{"read":"2024-12-31T23:59:59Z","memory_stats":{"usage":10,"stats":{"inactive_file":40}}}`), ts: read},
		{name: "stopped container", in: decode(`{"read":"0001-01-01T00:00:00Z"}`), ts: now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := statsOf(tc.in, now)
			if got.CPUUsageNanos != tc.cpu || got.MemoryWorkingSetBytes != tc.mem || !got.Timestamp.Equal(tc.ts) {
				t.Errorf("statsOf = %+v, want cpu %d mem %d at %v", got, tc.cpu, tc.mem, tc.ts)
			}
		})
	}
}
