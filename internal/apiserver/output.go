package apiserver

import (
	"mime"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// outputKind is the representation a client asked for in its Accept header.
type outputKind int

const (
	asObject outputKind = iota
	asTable
	asMetadata
)

// output describes how to render objects for one request.
type output struct {
	kind          outputKind
	tableVersion  string // v1 or v1beta1
	includeObject string // None, Metadata, Object (tables only)
	wide          bool
}

// negotiate reads the Accept header: server-side Tables
// (as=Table;g=meta.k8s.io), metadata-only projections
// (as=PartialObjectMetadata[List]) or plain JSON objects.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	out := output{includeObject: r.URL.Query().Get("includeObject")}
	if out.includeObject == "" {
		out.includeObject = "Metadata"
	}
	if accept == "" {
		return out, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "*/*", "application/*", "application/yaml":
		default:
			continue
		}
		switch params["as"] {
		case "":
			return out, nil
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				out.kind, out.tableVersion = asTable, params["v"]
				return out, nil
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				out.kind = asMetadata
				return out, nil
			}
		}
	}
	return out, statusError(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only application/json is served (with as=Table or as=PartialObjectMetadata); asked for "+accept)
}

// render converts an object for output according to out.
func (o output) render(res *registry.Resource, obj runtime.Object) runtime.Object {
	switch o.kind {
	case asTable:
		return o.table(res, []runtime.Object{obj}, listMeta{})
	case asMetadata:
		return partialMetadata(obj)
	}
	return obj
}

func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	m, _ := meta.Accessor(obj)
	p := &metav1.PartialObjectMetadata{}
	p.APIVersion, p.Kind = "meta.k8s.io/v1", "PartialObjectMetadata"
	if om, ok := m.(*metav1.ObjectMeta); ok {
		p.ObjectMeta = *om
	} else if withMeta, ok := obj.(metav1.ObjectMetaAccessor); ok {
		p.ObjectMeta = *withMeta.GetObjectMeta().(*metav1.ObjectMeta)
	}
	return p
}

// listMeta carries the list-level metadata for tables and lists.
type listMeta struct {
	resourceVersion string
	cont            string
	remaining       *int64
}

// table builds a metav1.Table for objs.
func (o output) table(res *registry.Resource, objs []runtime.Object, lm listMeta) *metav1.Table {
	t := &metav1.Table{}
	t.APIVersion, t.Kind = "meta.k8s.io/"+o.tableVersion, "Table"
	if o.tableVersion == "" {
		t.APIVersion = "meta.k8s.io/v1"
	}
	t.ResourceVersion, t.Continue, t.RemainingItemCount = lm.resourceVersion, lm.cont, lm.remaining
	conv := res.Strategy.Table
	if conv == nil {
		conv = defaultTable
	}
	t.ColumnDefinitions = conv.Columns
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		row := metav1.TableRow{Cells: conv.Row(obj)}
		switch o.includeObject {
		case "Object":
			row.Object.Object = obj
		case "None":
		default:
			row.Object.Object = partialMetadata(obj)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// defaultTable is used for resources without their own columns: name and age.
var defaultTable = &registry.TableConvertor{
	Columns: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
		{Name: "Created At", Type: "date", Description: "CreationTimestamp of the object."},
	},
	Row: func(obj runtime.Object) []interface{} {
		m, _ := meta.Accessor(obj)
		return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")}
	},
}
