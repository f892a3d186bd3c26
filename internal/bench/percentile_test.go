package bench

import (
	"runtime"
	"testing"
	"time"
)

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"single p50", []float64{7}, 50, 7},
		{"single p99", []float64{7}, 99, 7},
		{"p50 of 1..100", seq(100), 50, 50},
		{"p99 of 1..100", seq(100), 99, 99},
		{"p100 of 1..100", seq(100), 100, 100},
		{"p99 of 1..10 is the max", seq(10), 99, 10},
		{"p50 of 1..10 is the lower middle", seq(10), 50, 5},
		{"p50 of 1..5 is the middle", seq(5), 50, 3},
		{"p90 of 1..5", seq(5), 90, 5},
		{"p0 is the min", seq(5), 0, 1},
		{"negative p is the min", seq(5), -3, 1},
		{"p above 100 is the max", seq(5), 150, 5},
		{"p99 of 1..1000", seq(1000), 99, 990},
		{"duplicates", []float64{1, 2, 2, 2, 9}, 60, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.values, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.values, tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		values []float64
		want   float64
	}{
		{[]float64{3}, 3},
		{[]float64{1, 5, 9}, 5},
		{[]float64{1, 2, 3, 4, 100}, 3},
		{[]float64{1, 2}, 1},
	}
	for _, tt := range tests {
		if got := Median(tt.values); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

func TestSortedMillis(t *testing.T) {
	got := SortedMillis([]time.Duration{3 * time.Millisecond, 1500 * time.Microsecond, time.Second})
	want := []float64{1.5, 3, 1000}
	if len(got) != len(want) {
		t.Fatalf("SortedMillis: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("SortedMillis: got %v, want %v", got, want)
		}
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		x    float64
		d    int
		want float64
	}{
		{1.23456, 3, 1.235},
		{1.23449, 3, 1.234},
		{1234.56, 1, 1234.6},
		{0, 2, 0},
	}
	for _, tt := range tests {
		if got := round(tt.x, tt.d); got != tt.want {
			t.Errorf("round(%v, %d) = %v, want %v", tt.x, tt.d, got, tt.want)
		}
	}
}

func TestOtherCPUPercent(t *testing.T) {
	tests := []struct {
		name string
		a, b cpuSample
		secs float64
		want float64
	}{
		{"quiet", cpuSample{busy: 1000, self: 300, server: 200, ok: true}, cpuSample{busy: 1200, self: 400, server: 300, ok: true}, 10, 0},
		{"one other CPU busy", cpuSample{ok: true}, cpuSample{busy: 1500, self: 200, server: 300, ok: true}, 10, 100},
		{"unknown", cpuSample{}, cpuSample{busy: 10, ok: true}, 1, -1},
		{"own above busy (sampling skew)", cpuSample{ok: true}, cpuSample{busy: 100, self: 105, ok: true}, 1, 0},
	}
	for _, tt := range tests {
		if got := otherCPUPercent(tt.a, tt.b, tt.secs); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := cpuSeconds(cpuSample{ok: true}, cpuSample{self: 150, server: 325, ok: true}); got != (CPUSeconds{Client: 1.5, Server: 3.25}) {
		t.Errorf("cpuSeconds = %+v", got)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if s := sampleCPU(0); !s.ok || s.busy == 0 {
		t.Errorf("sampleCPU on this machine: %+v", s)
	}
}
