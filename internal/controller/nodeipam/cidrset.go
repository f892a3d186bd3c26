package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// ErrExhausted is returned by CIDRSet.Allocate when every range is in use.
var ErrExhausted = errors.New("nodeipam: no pod CIDR range left in the cluster CIDR")

// maxSubnetBits bounds the node mask size minus the cluster prefix length
// (at most 65536 ranges), as in Kubernetes.
const maxSubnetBits = 16

// CIDRSet hands out the node-sized ranges of a cluster CIDR. It is not
// safe for concurrent use.
type CIDRSet struct {
	cluster  netip.Prefix
	maskSize int
	shift    uint // address bits below the node mask
	count    int
	used     []uint64
	inUse    int
	next     int // where the next search starts, so released ranges are reused last
}

// NewCIDRSet returns an empty set of the /maskSize ranges of cluster.
func NewCIDRSet(cluster netip.Prefix, maskSize int) (*CIDRSet, error) {
	if !cluster.IsValid() {
		return nil, fmt.Errorf("nodeipam: invalid cluster CIDR %v", cluster)
	}
	cluster = cluster.Masked()
	addrBits := cluster.Addr().BitLen()
	switch {
	case maskSize < cluster.Bits():
		return nil, fmt.Errorf("nodeipam: node mask size %d is smaller than the cluster CIDR's prefix length %d", maskSize, cluster.Bits())
	case maskSize > addrBits:
		return nil, fmt.Errorf("nodeipam: node mask size %d exceeds the %d address bits of %v", maskSize, addrBits, cluster)
	case maskSize-cluster.Bits() > maxSubnetBits:
		return nil, fmt.Errorf("nodeipam: node mask size %d splits %v into more than 2^%d ranges", maskSize, cluster, maxSubnetBits)
	}
	count := 1 << (maskSize - cluster.Bits())
	return &CIDRSet{
		cluster: cluster, maskSize: maskSize, shift: uint(addrBits - maskSize), count: count,
		used: make([]uint64, (count+63)/64),
	}, nil
}

// Size is the number of ranges.
func (s *CIDRSet) Size() int { return s.count }

// InUse is the number of ranges in use.
func (s *CIDRSet) InUse() int { return s.inUse }

// Allocate marks the next free range used and returns it, or ErrExhausted.
func (s *CIDRSet) Allocate() (netip.Prefix, error) {
	for n := 0; n < s.count; n++ {
		i := (s.next + n) % s.count
		if !s.isUsed(i) {
			s.set(i, true)
			s.next = (i + 1) % s.count
			return s.subnet(i), nil
		}
	}
	return netip.Prefix{}, ErrExhausted
}

// Occupy marks every range that p overlaps as used (p may be larger or
// smaller than a range). It fails when p lies outside the cluster CIDR.
func (s *CIDRSet) Occupy(p netip.Prefix) error {
	first, last, err := s.indexes(p)
	if err != nil {
		return err
	}
	for i := first; i <= last; i++ {
		s.set(i, true)
	}
	return nil
}

// Release marks every range that p overlaps as free.
func (s *CIDRSet) Release(p netip.Prefix) error {
	first, last, err := s.indexes(p)
	if err != nil {
		return err
	}
	for i := first; i <= last; i++ {
		s.set(i, false)
	}
	return nil
}

// Contains reports whether p lies inside the cluster CIDR.
func (s *CIDRSet) Contains(p netip.Prefix) bool {
	_, _, err := s.indexes(p)
	return err == nil
}

// indexes returns the first and last range p overlaps.
func (s *CIDRSet) indexes(p netip.Prefix) (int, int, error) {
	if !p.IsValid() || p.Addr().BitLen() != s.cluster.Addr().BitLen() {
		return 0, 0, fmt.Errorf("nodeipam: %v is not in cluster CIDR %v", p, s.cluster)
	}
	p = p.Masked()
	if !s.cluster.Contains(p.Addr()) || p.Bits() < s.cluster.Bits() {
		return 0, 0, fmt.Errorf("nodeipam: %v is not in cluster CIDR %v", p, s.cluster)
	}
	first := s.index(p.Addr())
	last := first
	if p.Bits() < s.maskSize {
		last = first + 1<<(s.maskSize-p.Bits()) - 1
	}
	return first, last, nil
}

// index is the number of the range holding a.
func (s *CIDRSet) index(a netip.Addr) int {
	off := new(big.Int).Sub(new(big.Int).SetBytes(a.AsSlice()), new(big.Int).SetBytes(s.cluster.Addr().AsSlice()))
	return int(off.Rsh(off, s.shift).Int64())
}

// subnet returns range i.
func (s *CIDRSet) subnet(i int) netip.Prefix {
	base := s.cluster.Addr().AsSlice()
	v := new(big.Int).SetBytes(base)
	v.Add(v, new(big.Int).Lsh(big.NewInt(int64(i)), s.shift))
	b := v.FillBytes(make([]byte, len(base)))
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, s.maskSize)
}

func (s *CIDRSet) isUsed(i int) bool { return s.used[i/64]&(1<<(uint(i)%64)) != 0 }

// set marks range i used or free, keeping inUse.
func (s *CIDRSet) set(i int, used bool) {
	if s.isUsed(i) == used {
		return
	}
	s.used[i/64] ^= 1 << (uint(i) % 64)
	if used {
		s.inUse++
	} else {
		s.inUse--
	}
}
