package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
)

// defaultWatchTimeout ends watches whose client gave no timeoutSeconds;
// clients re-establish them.
const defaultWatchTimeout = 30 * time.Minute

// initialEventsEnd is the annotation on the bookmark that closes the initial
// events of a WatchList request.
const initialEventsEnd = "k8s.io/initial-events-end"

type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object runtime.Object  `json:"object"`
}

func (s *Server) watch(q *request) error {
	out, err := negotiate(q.r)
	if err != nil {
		return err
	}
	sel, err := parseSelector(q.res, q.r)
	if err != nil {
		return err
	}
	qv := q.r.URL.Query()
	if q.name != "" {
		// GET .../pods/x?watch=true watches one object.
		sel.fields = andName(sel.fields, q.name)
	}
	rv, err := parseRV(qv.Get("resourceVersion"))
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	sendInitial := qv.Get("sendInitialEvents") == "true"
	bookmarks := qv.Get("allowWatchBookmarks") == "true"
	if sendInitial {
		var errs field.ErrorList
		if qv.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires resourceVersionMatch=NotOlderThan"))
		}
		if !bookmarks {
			errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"), "sendInitialEvents requires allowWatchBookmarks=true"))
		}
		if len(errs) > 0 {
			return apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", errs)
		}
	}
	timeout := defaultWatchTimeout
	if t := qv.Get("timeoutSeconds"); t != "" {
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), timeout)
	defer cancel()

	var initial []runtime.Object
	from := rv
	if sendInitial || rv == 0 {
		items, listRev, _, err := s.listObjects(ctx, q.res, q.namespace, listParams{sel: sel, minRev: rv})
		if err != nil {
			return err
		}
		initial, from = items, listRev
	} else {
		cur, err := s.store.CurrentRevision(ctx)
		if err != nil {
			return storeError(err, q.gr(), "")
		}
		if rv > cur {
			return tooLargeResourceVersion()
		}
	}
	// Only a selector needs the previous object of an update (to see it
	// start or stop matching).
	w := s.store.WatchWith(ctx, keyPrefix(q.res, q.namespace), from, store.WatchOptions{PutPrev: !sel.empty()})
	defer w.Stop()

	h := q.w.Header()
	proto := out.kind == asObject && prefersProtobuf(q.r)
	if proto {
		h.Set("Content-Type", protobufContentType+";stream=watch")
	} else {
		h.Set("Content-Type", "application/json;stream=watch")
	}
	h.Set("Cache-Control", "no-cache, private")
	q.w.WriteHeader(http.StatusOK)
	flusher, _ := q.w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush() // clients wait for the headers before they act
	enc := json.NewEncoder(q.w)
	// send writes an event; with now, the events written so far go out.
	// Events are flushed when no further one is waiting, so a burst goes
	// out in few writes (one TLS record, one HTTP/2 frame) instead of one
	// per event.
	send := func(t watch.EventType, obj runtime.Object, e *decodedEntry, now bool) bool {
		var err error
		if proto {
			var raw []byte
			if e != nil {
				raw, err = e.protobuf(obj)
			} else {
				raw, err = encodeProtobuf(obj)
			}
			if err == nil {
				err = writeProtobufEvent(q.w, t, raw)
			}
		} else {
			if obj != nil && t != watch.Bookmark && t != watch.Error {
				obj = out.render(q.res, obj)
			}
			err = enc.Encode(&watchEvent{Type: t, Object: obj})
		}
		if err != nil {
			return false
		}
		if now {
			flush()
		}
		return true
	}
	for i, obj := range initial {
		if !send(watch.Added, obj, nil, i == len(initial)-1 && !sendInitial) {
			return nil
		}
	}
	if sendInitial {
		if !send(watch.Bookmark, s.bookmark(q.res, out, from, true), nil, true) {
			return nil
		}
	}
	events := w.Events()
	pending := false // events written but not flushed
	for ev := range events {
		t, obj, e := s.translate(q.res, sel, ev)
		if obj != nil {
			if !send(t, obj, e, false) {
				return nil
			}
			pending = true
		}
		if pending && len(events) == 0 {
			flush()
			pending = false
		}
	}
	if err := w.Err(); err != nil && ctx.Err() == nil {
		st := storeError(err, q.gr(), "").(apierrors.APIStatus).Status()
		st.Kind, st.APIVersion = "Status", "v1"
		send(watch.Error, &st, nil, true)
	} else if pending {
		flush()
	}
	return nil
}

// translate turns a store event into a watch event for clients with the
// given selector: objects that start matching are ADDED, objects that stop
// matching are DELETED. It returns a nil object for events to skip. The
// object comes from the decoded cache (shared, read-only) with its entry,
// which holds its protobuf encoding for all watches.
func (s *Server) translate(res *registry.Resource, sel selector, ev store.Event) (watch.EventType, runtime.Object, *decodedEntry) {
	var cur, prev runtime.Object
	var curE, prevE *decodedEntry
	if ev.Type == store.Put {
		k := decodedKey{res: res, key: ev.Key, rev: ev.ModRevision}
		curE = s.decodedObjs.add(k, ev.Value)
		obj, err := s.decoded(k, curE)
		if err != nil {
			s.log.Error("watch: decode object", "key", ev.Key, "err", err)
			return "", nil, nil
		}
		cur = obj
	}
	// The previous object decides ADDED or MODIFIED and selector
	// transitions; without a selector a Put needs only to know it exists.
	// A deleted object is handed out with the deletion's revision.
	prevOK := false
	if len(ev.PrevValue) > 0 {
		if ev.Type == store.Put && sel.empty() {
			prevOK = true
		} else {
			k := decodedKey{res: res, key: ev.Key, rev: ev.ModRevision, gone: true}
			prevE = s.decodedObjs.add(k, ev.PrevValue)
			if obj, err := s.decoded(k, prevE); err == nil {
				prev = obj
				prevOK = sel.matches(res, prev)
			}
		}
	}
	curOK := cur != nil && sel.matches(res, cur)
	switch {
	case ev.Type == store.Delete:
		if prevOK {
			return watch.Deleted, prev, prevE
		}
	case curOK && prevOK:
		return watch.Modified, cur, curE
	case curOK && prev == nil && !ev.Created:
		return watch.Modified, cur, curE
	case curOK:
		return watch.Added, cur, curE
	case prevOK:
		return watch.Deleted, prev, prevE
	}
	return "", nil, nil
}

// bookmark returns an object that carries only a resourceVersion.
func (s *Server) bookmark(res *registry.Resource, out output, rev int64, initialEnd bool) runtime.Object {
	var obj runtime.Object
	if out.kind == asMetadata {
		obj = &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}}
	} else {
		obj = res.New()
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersion.WithKind(res.Kind))
	}
	m := accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{initialEventsEnd: "true"})
	}
	return obj
}
