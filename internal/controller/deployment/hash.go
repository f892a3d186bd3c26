package deployment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// Label and annotation keys the controller reads and writes; they are the
// ones Kubernetes and kubectl use.
const (
	// HashLabel carries the pod-template hash on a ReplicaSet, its
	// selector, its template and so its pods.
	HashLabel = appsv1.DefaultDeploymentUniqueLabelKey
	// RevisionAnnotation is the rollout revision of a ReplicaSet, and on
	// the Deployment the revision of its current ReplicaSet.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists, comma separated, the revisions a
	// reused ReplicaSet had before.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas+maxSurge when the ReplicaSet
	// was last scaled; proportional scaling uses it.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// ChangeCauseAnnotation is the change cause kubectl rollout history
	// shows; it is copied from the Deployment to its new ReplicaSet.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// RestartedAtAnnotation is the template annotation kubectl rollout
	// restart sets.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// safeAlphabet renders hashes without vowels and look-alike characters.
const safeAlphabet = "bcdfghjkmnpqrstvwxz2456789"

// ComputeHash returns the pod-template hash of template and the
// Deployment's collisionCount: FNV-32a over the template's JSON encoding
// (deterministic: struct fields in order, map keys sorted) and the count
// as four little-endian bytes, its decimal form rendered in the safe
// alphabet.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	data, err := json.Marshal(template)
	if err != nil { // API types always encode; keep the hash defined anyway
		data = fmt.Appendf(nil, "%#v", template)
	}
	_, _ = h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		_, _ = h.Write(b[:])
	}
	return safeEncode(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// safeEncode maps every byte of s onto safeAlphabet.
func safeEncode(s string) string {
	out := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = safeAlphabet[int(s[i])%len(safeAlphabet)]
	}
	return string(out)
}

// EqualIgnoreHash reports whether two pod templates are semantically equal
// when their pod-template-hash labels are ignored.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	if !sameLabelsIgnoringHash(a.Labels, b.Labels) {
		return false
	}
	ac, bc := *a, *b // shallow copies: only the label maps are swapped out
	ac.Labels, bc.Labels = nil, nil
	return apiequality.Semantic.DeepEqual(&ac, &bc)
}

// sameLabelsIgnoringHash compares two label sets without HashLabel.
func sameLabelsIgnoringHash(a, b map[string]string) bool {
	n := 0
	for k, v := range a {
		if k == HashLabel {
			continue
		}
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
		n++
	}
	_, bHash := b[HashLabel]
	return n == len(b)-btoi(bHash)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
