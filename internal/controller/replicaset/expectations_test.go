package replicaset

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := t0
	e := newExpectations(func() time.Time { return now })
	const k = "ns/web"
	if !e.satisfied(k) {
		t.Fatal("unknown key must be satisfied")
	}
	e.expectCreations(k, 2)
	if e.satisfied(k) {
		t.Fatal("satisfied with 2 creations pending")
	}
	e.creationObserved(k)
	if e.satisfied(k) {
		t.Fatal("satisfied with 1 creation pending")
	}
	e.creationObserved(k)
	if !e.satisfied(k) {
		t.Fatal("not satisfied after all creations were observed")
	}
	e.creationObserved(k) // an extra event (e.g. a timed-out create that succeeded)
	if !e.satisfied(k) {
		t.Fatal("not satisfied after an extra observation")
	}

	e.expectDeletions(k, []string{"ns/a", "ns/b"})
	e.deletionObserved(k, "ns/a")
	e.deletionObserved(k, "ns/a") // graceful deletion: update then delete
	if e.satisfied(k) {
		t.Fatal("a repeated observation of one pod satisfied two deletions")
	}
	if adds, dels := e.pending(k); adds != 0 || dels != 1 {
		t.Fatalf("pending = %d, %d; want 0, 1", adds, dels)
	}
	e.deletionObserved(k, "ns/unrelated")
	if e.satisfied(k) {
		t.Fatal("an unrelated pod satisfied a deletion")
	}
	e.deletionObserved(k, "ns/b")
	if !e.satisfied(k) {
		t.Fatal("not satisfied after all deletions were observed")
	}

	e.expectCreations(k, 5)
	now = now.Add(expectationsTTL)
	if e.satisfied(k) {
		t.Fatal("expired too early")
	}
	now = now.Add(time.Second)
	if !e.satisfied(k) {
		t.Fatal("expectations did not expire after the TTL")
	}

	e.expectCreations(k, 1)
	e.forget(k)
	if !e.satisfied(k) {
		t.Fatal("not satisfied after forget")
	}
	e.creationObserved(k) // no record: must not panic or create one
	if adds, _ := e.pending(k); adds != 0 {
		t.Fatalf("observation without a record created one: %d", adds)
	}
}
