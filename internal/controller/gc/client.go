package gc

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// metadataAccept asks for metadata-only answers (any JSON object is
// decoded into PartialObjectMetadata as well).
const metadataAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

// apiClient does the collector's reads and writes for any resource through
// one REST client, with absolute paths.
type apiClient struct{ rc rest.Interface }

// get reads the metadata of one object.
func (c apiClient) get(ctx context.Context, r *resource, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	body, err := c.rc.Get().AbsPath(r.urlPath(namespace, name)).
		SetHeader("Accept", metadataAccept).Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var m metav1.PartialObjectMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", r, namespace, name, err)
	}
	return &m, nil
}

// delete deletes o with policy, only if it still has o's UID.
func (c apiClient) delete(ctx context.Context, o object, policy metav1.DeletionPropagation) error {
	uid := o.uid
	body, err := json.Marshal(metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &uid},
	})
	if err != nil {
		return err
	}
	return c.rc.Delete().AbsPath(o.res.urlPath(o.namespace, o.name)).
		SetHeader("Content-Type", "application/json").
		SetHeader("Accept", metadataAccept).
		Body(body).Do(ctx).Error()
}

// patch applies a strategic-merge patch to o.
func (c apiClient) patch(ctx context.Context, o object, data []byte) error {
	return c.rc.Patch(types.StrategicMergePatchType).AbsPath(o.res.urlPath(o.namespace, o.name)).
		SetHeader("Accept", metadataAccept).
		Body(data).Do(ctx).Error()
}

// stripPatch removes the references to owners from the object with uid
// (a strategic-merge patch keyed on the owner UIDs, so it needs no
// resourceVersion; the uid makes it fail on a re-created object).
func stripPatch(uid types.UID, owners []types.UID) ([]byte, error) {
	refs := make([]map[string]any, 0, len(owners))
	for _, o := range owners {
		refs = append(refs, map[string]any{"$patch": "delete", "uid": o})
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"uid": uid, "ownerReferences": refs}})
}

// finalizerPatch removes finalizer from the object with uid.
func finalizerPatch(uid types.UID, finalizer string) ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":                                 uid,
		"$deleteFromPrimitiveList/finalizers": []string{finalizer},
	}})
}
