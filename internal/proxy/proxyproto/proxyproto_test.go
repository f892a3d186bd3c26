package proxyproto

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestHeader(t *testing.T) {
	// The IPv4 TCP example: 192.0.2.1:56324 → 198.51.100.7:80.
	src, dst := netip.MustParseAddrPort("192.0.2.1:56324"), netip.MustParseAddrPort("198.51.100.7:80")
	h, err := Header(src, dst, TCP)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, signature[:]...), 0x21, 0x11, 0x00, 0x0C,
		192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x00, 0x50)
	if !bytes.Equal(h, want) {
		t.Fatalf("header\n% x\nwant\n% x", h, want)
	}
	tests := []struct {
		src, dst string
		proto    byte
		ok       bool
	}{
		{"192.0.2.1:1", "10.43.0.10:80", TCP, true},
		{"[2001:db8::1]:443", "[2001:db8::2]:8443", UDP, true},
		{"[::ffff:192.0.2.1]:5", "10.0.0.1:6", TCP, true}, // mapped counts as IPv4
		{"192.0.2.1:1", "[2001:db8::2]:80", TCP, false},
		{"192.0.2.1:1", "10.0.0.1:80", 7, false},
	}
	for _, tc := range tests {
		s, d := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		h, err := Header(s, d, tc.proto)
		if (err == nil) != tc.ok {
			t.Errorf("%s→%s: err %v", tc.src, tc.dst, err)
			continue
		}
		if err != nil {
			continue
		}
		gs, gd, n, err := Parse(append(h, "payload"...))
		if err != nil || n != len(h) || gs != netip.AddrPortFrom(s.Addr().Unmap(), s.Port()) || gd != d {
			t.Errorf("%s→%s: parsed %v→%v n=%d err %v", tc.src, tc.dst, gs, gd, n, err)
		}
	}
	if _, _, _, err := Parse([]byte("GET / HTTP/1.1\r\n\r\n")); err == nil {
		t.Error("parsed a non-PROXY stream")
	}
}
