package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// signature starts every version 2 header.
var signature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// Transport protocols.
const (
	TCP = 0x1
	UDP = 0x2
)

// Header returns the header of a proxied connection from src to dst
// (the address the client connected to) over TCP or UDP. Addresses must
// both be IPv4 or both IPv6 (IPv4-mapped IPv6 addresses count as IPv4).
func Header(src, dst netip.AddrPort, proto byte) ([]byte, error) {
	if proto != TCP && proto != UDP {
		return nil, errors.New("proxyproto: transport must be TCP or UDP")
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	var family byte
	var addrLen int
	switch {
	case s.Is4() && d.Is4():
		family, addrLen = 0x1, 12
	case s.Is6() && d.Is6():
		family, addrLen = 0x2, 36
	default:
		return nil, errors.New("proxyproto: source and destination must be of the same address family")
	}
	b := make([]byte, 16+addrLen)
	copy(b, signature[:])
	b[12] = 0x21 // version 2, command PROXY
	b[13] = family<<4 | proto
	binary.BigEndian.PutUint16(b[14:], uint16(addrLen))
	if family == 0x1 {
		s4, d4 := s.As4(), d.As4()
		copy(b[16:], s4[:])
		copy(b[20:], d4[:])
		binary.BigEndian.PutUint16(b[24:], src.Port())
		binary.BigEndian.PutUint16(b[26:], dst.Port())
	} else {
		s16, d16 := s.As16(), d.As16()
		copy(b[16:], s16[:])
		copy(b[32:], d16[:])
		binary.BigEndian.PutUint16(b[48:], src.Port())
		binary.BigEndian.PutUint16(b[50:], dst.Port())
	}
	return b, nil
}

// Parse reads a version 2 header from the start of b and returns the
// source and destination it carries and the header's length (for tests
// and for backends written in Go). A LOCAL command returns invalid
// addresses.
func Parse(b []byte) (src, dst netip.AddrPort, n int, err error) {
	if len(b) < 16 || [12]byte(b[:12]) != signature {
		return src, dst, 0, errors.New("proxyproto: no version 2 signature")
	}
	if b[12]>>4 != 2 {
		return src, dst, 0, errors.New("proxyproto: not version 2")
	}
	l := int(binary.BigEndian.Uint16(b[14:]))
	if len(b) < 16+l {
		return src, dst, 0, errors.New("proxyproto: truncated header")
	}
	n = 16 + l
	if b[12]&0xF == 0 { // LOCAL
		return src, dst, n, nil
	}
	switch b[13] >> 4 {
	case 0x1:
		if l < 12 {
			return src, dst, 0, errors.New("proxyproto: short IPv4 addresses")
		}
		src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(b[24:]))
		dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[20:24])), binary.BigEndian.Uint16(b[26:]))
	case 0x2:
		if l < 36 {
			return src, dst, 0, errors.New("proxyproto: short IPv6 addresses")
		}
		src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[16:32])), binary.BigEndian.Uint16(b[48:]))
		dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[32:48])), binary.BigEndian.Uint16(b[50:]))
	default:
		return src, dst, 0, errors.New("proxyproto: unsupported address family")
	}
	return src, dst, n, nil
}
