package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/apiserver/registry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeJSON writes v as JSON with the given status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	writeJSONRaw(w, code, v)
}

// writeJSONRaw writes v as JSON, keeping a Content-Type already set.
func writeJSONRaw(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"encode response","code":500}`)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// readBody reads the request body up to the configured limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("reading request body: " + err.Error())
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(
			"request body is larger than the limit of " + itoa(s.cfg.MaxBodyBytes) + " bytes")
	}
	return body, nil
}

// fieldValidation returns the request's fieldValidation directive (Strict,
// Warn or Ignore); kubectl always sends one. The default is Warn, as in
// Kubernetes.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "":
		return "Warn", nil
	case "Strict", "Warn", "Ignore":
		return v, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation parameter unsupported: %q (supported: Strict, Warn, Ignore)", v))
}

// toJSON converts a YAML or JSON body to JSON according to the content type.
func toJSON(r *http.Request, body []byte) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "", "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json":
		return body, nil
	case "application/vnd.kubernetes.protobuf":
		return protobufToJSON(body)
	case "application/yaml", "application/x-yaml", "text/yaml":
		j, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid YAML body: " + err.Error())
		}
		return j, nil
	}
	return nil, statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, "the body of the request was in an unknown format: "+ct+" (supported: application/json, application/yaml)")
}

// protobufCodec decodes Kubernetes protobuf envelopes of every k8s.io/api
// type; client-go's typed clients send request bodies this way by default.
var protobufCodec = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// protobufToJSON converts a protobuf request body to JSON, so the rest of the
// request path handles one format.
func protobufToJSON(body []byte) ([]byte, error) {
	obj, gvk, err := protobufCodec.Decode(body, nil, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest("the body of the request could not be decoded as protobuf: " + err.Error())
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return json.Marshal(obj)
}

// decodeInto decodes JSON into obj honouring fieldValidation: Strict
// rejects unknown and duplicate fields with 400, Warn adds Warning headers,
// Ignore drops them.
func decodeInto(w http.ResponseWriter, data []byte, obj any, validation string) error {
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return apierrors.NewBadRequest("the body of the request was in an unknown format or could not be decoded: " + cleanJSONError(err))
	}
	if len(strictErrs) == 0 {
		return nil
	}
	msgs := make([]string, len(strictErrs))
	for i, e := range strictErrs {
		msgs[i] = e.Error()
	}
	switch validation {
	case "Strict":
		return apierrors.NewBadRequest("strict decoding error: " + strings.Join(msgs, ", "))
	case "Warn":
		for _, m := range msgs {
			w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(m, `"`, `\"`)+`"`)
		}
	}
	return nil
}

func cleanJSONError(err error) string {
	if ok, off := sigsjson.SyntaxErrorOffset(err); ok {
		return fmt.Sprintf("%v (at byte offset %d)", err, off)
	}
	return err.Error()
}

// decodeObject decodes a request body into a new object of the resource's
// served type and checks apiVersion and kind against the path.
func (s *Server) decodeObject(q *request, body []byte) (runtime.Object, error) {
	validation, err := fieldValidation(q.r)
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type")); mt == protobufContentType {
		obj := q.res.New()
		if _, _, err := protobufCodec.Decode(body, nil, obj); err != nil {
			return nil, apierrors.NewBadRequest("the body of the request could not be decoded as protobuf: " + err.Error())
		}
		if err := checkKind(q.res, obj); err != nil {
			return nil, err
		}
		return obj, nil
	}
	data, err := toJSON(q.r, body)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, apierrors.NewBadRequest("the request body is empty")
	}
	obj := q.res.New()
	if err := decodeInto(q.w, data, obj, validation); err != nil {
		return nil, err
	}
	if err := checkKind(q.res, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// checkKind verifies that the decoded apiVersion/kind, when given, match the
// resource, then sets them.
func checkKind(res *registry.Resource, obj runtime.Object) error {
	gvk := obj.GetObjectKind().GroupVersionKind()
	want := res.GroupVersion.WithKind(res.Kind)
	if gvk.Kind != "" && gvk.Kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind %q of the body does not match the resource %q (expected kind %q)", gvk.Kind, res.Resource, want.Kind))
	}
	if v := obj.GetObjectKind().GroupVersionKind().GroupVersion(); !v.Empty() && v != res.GroupVersion {
		return apierrors.NewBadRequest(fmt.Sprintf("the apiVersion %q of the body does not match the path (expected %q)", v.String(), res.GroupVersion.String()))
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	return nil
}
