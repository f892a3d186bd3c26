package expectations

import (
	"testing"
	"time"
)

// step advances the clock by advance, then runs do (when set), then checks
// Satisfied and Pending of the case's key.
type step struct {
	what    string
	advance time.Duration
	do      func(e *Expectations)
	ok      bool
	wait    time.Duration
	adds    int
	dels    int
}

func TestExpectations(t *testing.T) {
	const k = "ns/owner"
	create := func(n int) func(*Expectations) { return func(e *Expectations) { e.ExpectCreations(k, n) } }
	del := func(pods ...string) func(*Expectations) { return func(e *Expectations) { e.ExpectDeletions(k, pods) } }
	created := func(e *Expectations) { e.CreationObserved(k) }
	deleted := func(pod string) func(*Expectations) { return func(e *Expectations) { e.DeletionObserved(k, pod) } }
	forget := func(e *Expectations) { e.Forget(k) }

	for _, tc := range []struct {
		name  string
		opts  []Option
		steps []step
	}{{
		name: "replace (ReplicaSet)",
		steps: []step{
			{what: "unknown key", ok: true},
			{what: "2 creations pending", do: create(2), wait: TTL, adds: 2},
			{what: "1 creation pending", do: created, wait: TTL, adds: 1},
			{what: "all creations observed", do: created, ok: true},
			{what: "an extra observation (e.g. a timed-out create that succeeded)", do: created, ok: true, adds: -1},
			{what: "2 deletions pending", do: del("ns/a", "ns/b"), wait: TTL, dels: 2},
			{what: "1 deletion observed", do: deleted("ns/a"), wait: TTL, dels: 1},
			{what: "graceful deletion: update then delete", do: deleted("ns/a"), wait: TTL, dels: 1},
			{what: "an unrelated pod", do: deleted("ns/unrelated"), wait: TTL, dels: 1},
			{what: "all deletions observed", do: deleted("ns/b"), ok: true},
			{what: "5 creations pending", do: create(5), wait: TTL, adds: 5},
			{what: "not expired at the TTL", advance: TTL, adds: 5},
			{what: "expired after the TTL", advance: time.Second, ok: true, adds: 5},
			{what: "new creation after expiry", do: create(1), wait: TTL, adds: 1},
			{what: "forget", do: forget, ok: true},
			{what: "observation without a record creates none", do: created, ok: true},
		},
	}, {
		name: "accumulate, expire at TTL (Job)",
		opts: []Option{Accumulate(), ExpireAtTTL()},
		steps: []step{
			{what: "no record", ok: true},
			{what: "2 creations pending", do: create(2), wait: TTL, adds: 2},
			{what: "and 1 deletion", do: del("ns/p1"), wait: TTL, adds: 2, dels: 1},
			{what: "1 creation observed", do: created, wait: TTL, adds: 1, dels: 1},
			{what: "2 creations observed", do: created, wait: TTL, dels: 1},
			{what: "all observed", do: deleted("ns/p1"), ok: true},
			{what: "deletion seen twice (update, then delete)", do: deleted("ns/p1"), ok: true},
			{what: "a pod the controller did not create", do: created, ok: true, adds: -1},
			{what: "a stray observation must not pre-satisfy new creations", do: create(1), wait: TTL, adds: 1},
			{what: "expired record", advance: TTL + time.Second, ok: true, adds: 1},
			{what: "forget", do: forget, ok: true},
		},
	}, {
		name: "replace drops the previous record",
		steps: []step{
			{do: create(2), wait: TTL, adds: 2},
			{do: del("ns/a"), wait: TTL, dels: 1},
			{advance: time.Minute, do: create(1), wait: TTL, adds: 1},
		},
	}, {
		name: "accumulate adds to the record and refreshes it",
		opts: []Option{Accumulate()},
		steps: []step{
			{do: create(2), wait: TTL, adds: 2},
			{do: del("ns/a"), wait: TTL, adds: 2, dels: 1},
			{advance: time.Minute, do: create(1), wait: TTL, adds: 3, dels: 1},
			{do: del("ns/b", "ns/a"), wait: TTL, adds: 3, dels: 2},
		},
	}, {
		name: "trusted at exactly the TTL by default",
		steps: []step{
			{do: create(1), wait: TTL, adds: 1},
			{advance: TTL - time.Second, wait: time.Second, adds: 1},
			{advance: time.Second, adds: 1},
			{advance: time.Nanosecond, ok: true, adds: 1},
		},
	}, {
		name: "ExpireAtTTL expires at exactly the TTL",
		opts: []Option{ExpireAtTTL()},
		steps: []step{
			{do: create(1), wait: TTL, adds: 1},
			{advance: TTL - time.Second, wait: time.Second, adds: 1},
			{advance: time.Second, ok: true, adds: 1},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			e := New(func() time.Time { return now }, tc.opts...)
			for i, s := range tc.steps {
				now = now.Add(s.advance)
				if s.do != nil {
					s.do(e)
				}
				if ok, wait := e.Satisfied(k); ok != s.ok || wait != s.wait {
					t.Errorf("step %d (%s): Satisfied = %v, %v; want %v, %v", i, s.what, ok, wait, s.ok, s.wait)
				}
				if adds, dels := e.Pending(k); adds != s.adds || dels != s.dels {
					t.Errorf("step %d (%s): Pending = %d, %d; want %d, %d", i, s.what, adds, dels, s.adds, s.dels)
				}
			}
		})
	}
}

func TestNewDefaultsToTimeNow(t *testing.T) {
	e := New(nil)
	e.ExpectCreations("ns/a", 1)
	if ok, wait := e.Satisfied("ns/a"); ok || wait <= 0 || wait > TTL {
		t.Fatalf("Satisfied = %v, %v; want false and a wait within the TTL", ok, wait)
	}
}
