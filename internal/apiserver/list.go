package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"github.com/berth-dev/berth/internal/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
)

// listBatch is how many keys one etcd range read returns while listing.
const listBatch = 1000

func (s *Server) get(q *request) error {
	out, err := negotiate(q.r)
	if err != nil {
		return err
	}
	obj, _, err := s.getObject(q.r.Context(), q.res, q.namespace, q.name)
	if err != nil {
		return err
	}
	if out.kind == asObject {
		writeObject(q.w, q.r, http.StatusOK, obj)
		return nil
	}
	writeJSON(q.w, http.StatusOK, out.render(q.res, obj))
	return nil
}

// selector is a parsed label and field selector pair; nil parts (the zero
// value) select everything.
type selector struct {
	labels labels.Selector
	fields fields.Selector
}

func (sel selector) empty() bool {
	return (sel.labels == nil || sel.labels.Empty()) && (sel.fields == nil || sel.fields.Empty())
}

func (sel selector) matches(res *registry.Resource, obj runtime.Object) bool {
	if sel.empty() {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if sel.labels != nil && !sel.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	return sel.fields == nil || sel.fields.Empty() || sel.fields.Matches(res.Fields(obj))
}

// parseSelector reads labelSelector and fieldSelector; unknown fields are
// rejected like Kubernetes does.
func parseSelector(res *registry.Resource, r *http.Request) (selector, error) {
	qv := r.URL.Query()
	ls, err := labels.Parse(qv.Get("labelSelector"))
	if err != nil {
		return selector{}, apierrors.NewBadRequest(fmt.Sprintf("unable to parse labelSelector %q: %v", qv.Get("labelSelector"), err))
	}
	fs, err := fields.ParseSelector(qv.Get("fieldSelector"))
	if err != nil {
		return selector{}, apierrors.NewBadRequest(fmt.Sprintf("unable to parse fieldSelector %q: %v", qv.Get("fieldSelector"), err))
	}
	for _, req := range fs.Requirements() {
		if !res.KnownField(req.Field) {
			return selector{}, apierrors.NewBadRequest(fmt.Sprintf("%q is not a known field selector: only %q", req.Field, "metadata.name, metadata.namespace"))
		}
		if req.Operator != selection.Equals && req.Operator != selection.DoubleEquals && req.Operator != selection.NotEquals {
			return selector{}, apierrors.NewBadRequest(fmt.Sprintf("unsupported operator %q in fieldSelector", req.Operator))
		}
	}
	return selector{labels: ls, fields: fs}, nil
}

// continueToken is the decoded form of a list's opaque continue parameter.
type continueToken struct {
	Rev   int64  `json:"rv"`
	After string `json:"after"`
}

func encodeContinue(rev int64, after string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev <= 0 {
		return t, apierrors.NewBadRequest("invalid continue token")
	}
	return t, nil
}

// listParams are the parsed query parameters of a list.
type listParams struct {
	sel     selector
	limit   int64
	rev     int64 // revision to read at; 0 = latest
	after   string
	minRev  int64 // resourceVersionMatch=NotOlderThan / legacy semantics
	hasCont bool
}

func parseListParams(res *registry.Resource, r *http.Request) (listParams, error) {
	qv := r.URL.Query()
	var p listParams
	var err error
	if p.sel, err = parseSelector(res, r); err != nil {
		return p, err
	}
	if l := qv.Get("limit"); l != "" {
		if p.limit, err = strconv.ParseInt(l, 10, 64); err != nil || p.limit < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", l))
		}
	}
	rv, err := parseRV(qv.Get("resourceVersion"))
	if err != nil {
		return p, apierrors.NewBadRequest(err.Error())
	}
	if c := qv.Get("continue"); c != "" {
		if qv.Get("resourceVersion") != "" && qv.Get("resourceVersion") != "0" {
			return p, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		t, err := decodeContinue(c)
		if err != nil {
			return p, err
		}
		p.rev, p.after, p.hasCont = t.Rev, t.After, true
		return p, nil
	}
	switch qv.Get("resourceVersionMatch") {
	case "Exact":
		if rv == 0 {
			return p, apierrors.NewBadRequest("resourceVersionMatch=Exact requires a non-zero resourceVersion")
		}
		p.rev = rv
	case "", "NotOlderThan":
		p.minRev = rv
	default:
		return p, apierrors.NewBadRequest(fmt.Sprintf("unsupported resourceVersionMatch %q", qv.Get("resourceVersionMatch")))
	}
	return p, nil
}

// listObjects reads the objects of res in ns matching p. It returns the
// revision the list was read at and a continue token when more remain.
func (s *Server) listObjects(ctx context.Context, res *registry.Resource, ns string, p listParams) ([]runtime.Object, int64, string, error) {
	prefix := keyPrefix(res, ns)
	rev, after := p.rev, p.after
	if after != "" {
		after = prefix + after
	}
	var items []runtime.Object
	for {
		batch := int64(listBatch)
		if p.limit > 0 && p.limit-int64(len(items)) < batch && p.sel.empty() {
			batch = p.limit - int64(len(items)) + 1 // one more tells whether more remain
		}
		kvs, readRev, more, err := s.store.List(ctx, prefix, store.ListOptions{Revision: rev, StartAfter: after, Limit: batch})
		if err != nil {
			if p.hasCont && err == store.ErrCompacted {
				return nil, 0, "", apierrors.NewResourceExpired("the provided continue parameter is too old to display a consistent list result; start a new list without continue")
			}
			return nil, 0, "", storeError(err, grOf(res), "")
		}
		rev = readRev
		if p.minRev > rev {
			return nil, 0, "", tooLargeResourceVersion()
		}
		for i, kv := range kvs {
			if p.limit > 0 && int64(len(items)) == p.limit {
				// A further matching object may exist: hand out a token.
				return items, rev, encodeContinue(rev, relKey(prefix, kvs[i-1].Key)), nil
			}
			obj, err := s.decodeStored(res, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, 0, "", err
			}
			if p.sel.matches(res, obj) {
				items = append(items, obj)
			}
		}
		if !more || len(kvs) == 0 {
			return items, rev, "", nil
		}
		after = kvs[len(kvs)-1].Key
		if p.limit > 0 && int64(len(items)) == p.limit {
			return items, rev, encodeContinue(rev, relKey(prefix, after)), nil
		}
	}
}

func relKey(prefix, key string) string {
	if len(key) >= len(prefix) && key[:len(prefix)] == prefix {
		return key[len(prefix):]
	}
	return key
}

func (s *Server) list(q *request) error {
	out, err := negotiate(q.r)
	if err != nil {
		return err
	}
	p, err := parseListParams(q.res, q.r)
	if err != nil {
		return err
	}
	items, rev, cont, err := s.listObjects(q.r.Context(), q.res, q.namespace, p)
	if err != nil {
		return err
	}
	lm := listMeta{resourceVersion: strconv.FormatInt(rev, 10), cont: cont}
	switch out.kind {
	case asTable:
		writeJSON(q.w, http.StatusOK, out.table(q.res, items, lm))
	case asMetadata:
		l := &metav1.PartialObjectMetadataList{}
		l.APIVersion, l.Kind = "meta.k8s.io/v1", "PartialObjectMetadataList"
		l.ResourceVersion, l.Continue = lm.resourceVersion, cont
		for _, it := range items {
			l.Items = append(l.Items, *partialMetadata(it))
		}
		writeJSON(q.w, http.StatusOK, l)
	default:
		list := q.res.NewList()
		for _, it := range items {
			it.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		}
		if err := meta.SetList(list, items); err != nil {
			return err
		}
		lacc, _ := meta.ListAccessor(list)
		lacc.SetResourceVersion(lm.resourceVersion)
		lacc.SetContinue(cont)
		list.GetObjectKind().SetGroupVersionKind(q.res.GroupVersion.WithKind(q.res.Kind + "List"))
		writeObject(q.w, q.r, http.StatusOK, list)
	}
	return nil
}

func andName(fs fields.Selector, name string) fields.Selector {
	one := fields.OneTermEqualSelector("metadata.name", name)
	if fs.Empty() {
		return one
	}
	return fields.AndSelectors(fs, one)
}
