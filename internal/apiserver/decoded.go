package apiserver

import (
	"sync"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"k8s.io/apimachinery/pkg/runtime"
)

// The decoded cache remembers recently written and recently watched stored
// values by key and mod revision, and decodes each at most once per served
// resource. A key's value at a given mod revision never changes (revisions
// are unique in the etcd cluster), so an entry is never stale; it only
// stops being the current value, which the revision preconditions of
// writes detect. It saves, per write:
//
//   - the decoding in every watch but the first that sees the event (and
//     the protobuf encoding of the event's object, shared the same way);
//   - the read before an update whose client sends the resourceVersion it
//     last saw, when this server wrote or watched that revision (the
//     update's revision precondition still guards the write, and a
//     conflict retries with a real read);
//   - the decoding in a GET of an object this server wrote or watched
//     (the GET still reads etcd, linearizably, for the current revision).
//
// Objects handed out by the cache are shared and read-only: readers that
// may change them take a deep copy.

// Bounds of the decoded cache: the oldest entries go first when either is
// exceeded. The byte bound counts stored (encoded) values; decoded objects
// take a few times that.
const (
	decodedCacheEntries = 8192
	decodedCacheBytes   = 4 << 20
)

// decodedKey identifies one stored value as one served resource sees it.
type decodedKey struct {
	res *registry.Resource
	key string // relative to the store prefix
	rev int64  // the mod revision (for gone, the revision of the change)
	// gone marks the value the key had before the change at rev (a
	// deletion, or an update a selector watch compares with), which a
	// watch hands out with resourceVersion rev.
	gone bool
}

// decodedEntry is one stored value and, once asked for, its decoded
// object and that object's protobuf encoding.
type decodedEntry struct {
	value []byte

	once sync.Once
	obj  runtime.Object
	err  error

	pbOnce sync.Once
	pb     []byte
	pbErr  error
}

// decodedCache is a FIFO-bounded map of decoded entries.
type decodedCache struct {
	mu      sync.Mutex
	entries map[decodedKey]*decodedEntry
	order   []decodedKey // ring of keys in insertion order
	first   int          // index of the oldest key in order
	n       int          // keys in order
	bytes   int          // sum of the entries' value lengths
}

// add returns the entry for k, adding one holding value when there is none.
// value must not change afterwards.
func (c *decodedCache) add(k decodedKey, value []byte) *decodedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		return e
	}
	if c.entries == nil {
		c.entries = make(map[decodedKey]*decodedEntry)
		c.order = make([]decodedKey, decodedCacheEntries)
	}
	e := &decodedEntry{value: value}
	if len(value) > decodedCacheBytes {
		return e // too big to keep; decoded once for this caller only
	}
	for c.n > 0 && (c.n == len(c.order) || c.bytes+len(value) > decodedCacheBytes) {
		old := c.order[c.first]
		c.order[c.first] = decodedKey{}
		c.bytes -= len(c.entries[old].value)
		delete(c.entries, old)
		c.first = (c.first + 1) % len(c.order)
		c.n--
	}
	c.order[(c.first+c.n)%len(c.order)] = k
	c.n++
	c.bytes += len(value)
	c.entries[k] = e
	return e
}

// lookup returns the entry for k, or nil.
func (c *decodedCache) lookup(k decodedKey) *decodedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

// decoded returns the entry's object (shared: read-only), decoding it on
// first use.
func (s *Server) decoded(k decodedKey, e *decodedEntry) (runtime.Object, error) {
	e.once.Do(func() { e.obj, e.err = s.decodeStored(k.res, e.value, k.rev) })
	return e.obj, e.err
}

// cachedCopy returns a private copy of the cache's object for k and its
// stored value, when the cache holds k.
func (s *Server) cachedCopy(k decodedKey) (runtime.Object, []byte, bool) {
	e := s.decodedObjs.lookup(k)
	if e == nil {
		return nil, nil, false
	}
	obj, err := s.decoded(k, e)
	if err != nil {
		return nil, nil, false
	}
	return obj.DeepCopyObject(), e.value, true
}

// protobuf returns the protobuf encoding of obj, the entry's decoded object,
// encoding it on first use.
func (e *decodedEntry) protobuf(obj runtime.Object) ([]byte, error) {
	e.pbOnce.Do(func() { e.pb, e.pbErr = encodeProtobuf(obj) })
	return e.pb, e.pbErr
}
