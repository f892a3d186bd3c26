package nodeipam

import (
	"errors"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// popcount is the number of used ranges, recomputed from the bitmap.
func popcount(s *CIDRSet) int {
	n := 0
	for _, w := range s.used {
		n += bits.OnesCount64(w)
	}
	return n
}

func TestNewCIDRSet(t *testing.T) {
	tests := []struct {
		cluster string
		mask    int
		size    int
		err     string
	}{
		{"10.42.0.0/16", 24, 256, ""},
		{"10.42.7.9/16", 24, 256, ""}, // host bits are ignored
		{"10.0.0.0/30", 31, 2, ""},
		{"10.0.0.0/24", 24, 1, ""},
		{"fd00::/48", 64, 65536, ""},
		{"10.42.0.0/16", 8, 0, "smaller than the cluster CIDR's prefix length 16"},
		{"10.42.0.0/16", 33, 0, "exceeds the 32 address bits"},
		{"10.0.0.0/8", 25, 0, "more than 2^16 ranges"},
	}
	for _, tc := range tests {
		t.Run(tc.cluster, func(t *testing.T) {
			s, err := NewCIDRSet(netip.MustParsePrefix(tc.cluster), tc.mask)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("NewCIDRSet = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || s.Size() != tc.size {
				t.Fatalf("NewCIDRSet = %v (size %d), want size %d", err, s.Size(), tc.size)
			}
		})
	}
}

func TestCIDRSetAllocate(t *testing.T) {
	type op struct {
		kind string // "alloc", "occupy", "release"
		cidr string // occupy/release argument, or the expected allocation ("full" for ErrExhausted)
		err  bool   // occupy/release should fail
	}
	tests := []struct {
		name    string
		cluster string
		mask    int
		ops     []op
		inUse   int
	}{
		{"sequential", "10.42.0.0/16", 24, []op{{"alloc", "10.42.0.0/24", false}, {"alloc", "10.42.1.0/24", false}, {"alloc", "10.42.2.0/24", false}}, 3},
		{"occupied ranges are skipped", "10.42.0.0/16", 24, []op{
			{"occupy", "10.42.0.0/24", false}, {"occupy", "10.42.2.0/24", false},
			{"alloc", "10.42.1.0/24", false}, {"alloc", "10.42.3.0/24", false}}, 4},
		{"a larger prefix occupies several ranges", "10.42.0.0/16", 24, []op{
			{"occupy", "10.42.0.0/23", false}, {"alloc", "10.42.2.0/24", false}}, 3},
		{"a smaller prefix occupies its range", "10.42.0.0/16", 24, []op{
			{"occupy", "10.42.0.128/25", false}, {"alloc", "10.42.1.0/24", false}}, 2},
		{"outside the cluster CIDR", "10.42.0.0/16", 24, []op{
			{"occupy", "10.43.0.0/24", true}, {"occupy", "10.0.0.0/8", true}, {"occupy", "fd00::/64", true}}, 0},
		{"exhausted", "10.0.0.0/30", 31, []op{{"alloc", "10.0.0.0/31", false}, {"alloc", "10.0.0.2/31", false}, {"alloc", "full", false}}, 2},
		{"released ranges are reused last", "10.0.0.0/29", 31, []op{
			{"alloc", "10.0.0.0/31", false}, {"alloc", "10.0.0.2/31", false}, {"release", "10.0.0.0/31", false},
			{"alloc", "10.0.0.4/31", false}, {"alloc", "10.0.0.6/31", false}, {"alloc", "10.0.0.0/31", false}, {"alloc", "full", false}}, 4},
		{"ipv6", "fd00:42::/48", 64, []op{{"occupy", "fd00:42::/64", false}, {"alloc", "fd00:42:0:1::/64", false}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewCIDRSet(netip.MustParsePrefix(tc.cluster), tc.mask)
			if err != nil {
				t.Fatal(err)
			}
			var got []netip.Prefix
			for i, o := range tc.ops {
				switch o.kind {
				case "alloc":
					p, err := s.Allocate()
					if o.cidr == "full" {
						if !errors.Is(err, ErrExhausted) {
							t.Fatalf("op %d: Allocate = %v, %v; want ErrExhausted", i, p, err)
						}
						continue
					}
					if err != nil || p != netip.MustParsePrefix(o.cidr) {
						t.Fatalf("op %d: Allocate = %v, %v; want %s", i, p, err, o.cidr)
					}
					if slices.Contains(got, p) {
						t.Fatalf("op %d: %v handed out twice", i, p)
					}
					got = append(got, p)
				case "occupy", "release":
					f := s.Occupy
					if o.kind == "release" {
						f = s.Release
						got = slices.DeleteFunc(got, func(p netip.Prefix) bool { return p.String() == o.cidr })
					}
					if err := f(netip.MustParsePrefix(o.cidr)); (err != nil) != o.err {
						t.Fatalf("op %d: %s(%s) = %v, want error %v", i, o.kind, o.cidr, err, o.err)
					}
				}
			}
			if s.InUse() != tc.inUse || popcount(s) != tc.inUse {
				t.Errorf("InUse = %d (bitmap %d), want %d", s.InUse(), popcount(s), tc.inUse)
			}
		})
	}
}

func TestCIDRSetEveryRangeOnce(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Prefix]bool{}
	for range s.Size() {
		p, err := s.Allocate()
		if err != nil || seen[p] || !s.Contains(p) {
			t.Fatalf("Allocate = %v, %v (seen %v)", p, err, seen[p])
		}
		seen[p] = true
	}
	if _, err := s.Allocate(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Allocate after %d = %v", s.Size(), err)
	}
}
