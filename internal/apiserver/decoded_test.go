package apiserver

import (
	"fmt"
	"testing"

	"github.com/berth-dev/berth/internal/apiserver/registry"
)

func TestDecodedCacheBounds(t *testing.T) {
	res := &registry.Resource{Resource: "configmaps"}
	key := func(i int) decodedKey { return decodedKey{res: res, key: fmt.Sprintf("k%d", i), rev: int64(i)} }
	tests := []struct {
		name      string
		valueLen  int
		adds      int
		wantFirst int // the oldest key still held
	}{
		{"under both bounds", 100, 1000, 0},
		{"the entry bound evicts the oldest", 10, decodedCacheEntries + 5, 5},
		{"the byte bound evicts the oldest", decodedCacheBytes / 100, 150, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c decodedCache
			for i := range tt.adds {
				c.add(key(i), make([]byte, tt.valueLen))
			}
			if tt.wantFirst > 0 && c.lookup(key(tt.wantFirst-1)) != nil {
				t.Errorf("key %d still held, want it evicted", tt.wantFirst-1)
			}
			for _, i := range []int{tt.wantFirst, tt.adds - 1} {
				if c.lookup(key(i)) == nil {
					t.Errorf("key %d evicted, want it held", i)
				}
			}
			if c.n != len(c.entries) || c.n != tt.adds-tt.wantFirst {
				t.Errorf("%d keys in order, %d entries; want %d", c.n, len(c.entries), tt.adds-tt.wantFirst)
			}
			if c.bytes != c.n*tt.valueLen || c.bytes > decodedCacheBytes {
				t.Errorf("bytes = %d for %d entries of %d", c.bytes, c.n, tt.valueLen)
			}
		})
	}
}

func TestDecodedCacheAddKeepsTheFirstValue(t *testing.T) {
	var c decodedCache
	k := decodedKey{key: "k", rev: 3}
	e := c.add(k, []byte("first"))
	if again := c.add(k, []byte("second")); again != e || string(again.value) != "first" {
		t.Errorf("second add returned %q, want the first entry", again.value)
	}
	if gone := c.lookup(decodedKey{key: "k", rev: 3, gone: true}); gone != nil {
		t.Error("a deleted object's key found the live one")
	}
	big := c.add(decodedKey{key: "big", rev: 1}, make([]byte, decodedCacheBytes+1))
	if big == nil || c.lookup(decodedKey{key: "big", rev: 1}) != nil {
		t.Error("an over-large value was kept (or no entry returned)")
	}
}
