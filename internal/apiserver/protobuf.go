package apiserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Kubernetes' protobuf envelope (runtime.Unknown behind a 4-byte magic
// number) is used for stored objects and, for clients that prefer it (the
// typed client-go clients do), for request and response bodies. It is much
// cheaper to encode and decode than JSON for the same k8s.io/api types.

const protobufContentType = "application/vnd.kubernetes.protobuf"

// protobufMagic starts every Kubernetes protobuf envelope.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// encodeProtobuf serializes obj (whose GroupVersionKind must be set).
func encodeProtobuf(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := protobufCodec.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("apiserver: protobuf encode %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// decodeStoredBytes decodes a stored value into into: protobuf, or JSON as
// written by earlier versions of Berth.
func decodeStoredBytes(value []byte, into runtime.Object) error {
	if bytes.HasPrefix(value, protobufMagic) {
		_, _, err := protobufCodec.Decode(value, nil, into)
		return err
	}
	return json.Unmarshal(value, into)
}

// prefersProtobuf reports whether the client's Accept header lists protobuf
// before JSON.
func prefersProtobuf(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case mt == protobufContentType && params["as"] == "":
			return true
		case mt == "application/json" || mt == "*/*" || mt == "application/*":
			return false
		}
	}
	return false
}

// writeObject writes an API object as protobuf when the client prefers it
// and the object is a plain API object, else as JSON.
func writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	if prefersProtobuf(r) && !obj.GetObjectKind().GroupVersionKind().Empty() {
		if b, err := encodeProtobuf(obj); err == nil {
			w.Header().Set("Content-Type", protobufContentType)
			w.WriteHeader(code)
			_, _ = w.Write(b)
			return
		}
	}
	writeJSON(w, code, obj)
}

// writeProtobufEvent writes one event of a protobuf watch stream, framed as
// Kubernetes does: a 4-byte big-endian length, then a metav1.WatchEvent in
// plain protobuf (no envelope) whose object is raw, the enveloped object.
func writeProtobufEvent(w io.Writer, t watch.EventType, raw []byte) error {
	ev := metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: raw}}
	size := ev.Size()
	buf := make([]byte, 4+size)
	binary.BigEndian.PutUint32(buf, uint32(size))
	if _, err := ev.MarshalToSizedBuffer(buf[4:]); err != nil {
		return fmt.Errorf("apiserver: protobuf watch event: %w", err)
	}
	_, err := w.Write(buf)
	return err
}
