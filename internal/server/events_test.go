package server_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/server"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEventsExpire: events are deleted --event-ttl after their last write
// (an update restarts the clock); other objects stay.
func TestEventsExpire(t *testing.T) {
	skipShort(t)
	const ttl = 2 * time.Second
	srv := start(t, server.Config{EventTTL: ttl})
	cs := clientFor(t, srv)
	ctx := t.Context()
	evs := cs.CoreV1().Events("default")
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1"}, Reason: "Started", Message: "Started container web",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}, Count: 1, Type: corev1.EventTypeNormal}
	created, err := evs.Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Now()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An update restarts the clock: the create's lease (3 s: the TTL
	// rounded up to whole seconds) has expired 3.9 s after the create,
	// the update's not before 4.5 s.
	time.Sleep(time.Until(first.Add(1500 * time.Millisecond)))
	created.Count = 2
	if _, err := evs.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	time.Sleep(time.Until(first.Add(3900 * time.Millisecond)))
	if _, err := evs.Get(ctx, "web.1", metav1.GetOptions{}); err != nil {
		t.Fatalf("event updated 1.5 s after its create, 3.9 s after the create: %v; want it kept", err)
	}

	var gone time.Duration
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := evs.Get(ctx, "web.1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			gone = time.Since(written)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("event still there %v after its last write (TTL %v)", time.Since(written).Round(time.Millisecond), ttl)
		}
	}
	// etcd rounds a lease up to whole seconds and checks expiry every
	// half second or so.
	if gone < ttl-100*time.Millisecond {
		t.Errorf("event deleted %v after its last write, before its TTL %v", gone, ttl)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("a ConfigMap written with the event: %v", err)
	}
	t.Logf("event deleted %v after its last write (TTL %v)", gone.Round(time.Millisecond), ttl)
}
