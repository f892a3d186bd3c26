package registry

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxDataSize is the largest total size (keys plus values) of a ConfigMap's
// or Secret's data, 1 MiB.
const MaxDataSize = 1 << 20

// immutableMsg is the error for changes to objects marked immutable.
const immutableMsg = "field is immutable when `immutable` is set"

var dataPath = field.NewPath("data")

func configMapResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "configmaps", Singular: "configmap", Kind: "ConfigMap", Namespaced: true,
		ShortNames: []string{"cm"},
		New:        func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy: Strategy{
			Validate: func(obj runtime.Object) field.ErrorList {
				cm := obj.(*corev1.ConfigMap)
				errs := validateMeta(&cm.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateConfigMapData(cm)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				cm, o := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
				errs := validateMetaUpdate(&cm.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateConfigMapData(cm)...)
				if o.Immutable != nil && *o.Immutable {
					if cm.Immutable == nil || !*cm.Immutable {
						errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
					}
					if !semanticEqual(cm.Data, o.Data) {
						errs = append(errs, field.Forbidden(dataPath, immutableMsg))
					}
					if !semanticEqual(cm.BinaryData, o.BinaryData) {
						errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableMsg))
					}
				}
				return errs
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Data", "integer", "Number of keys in the config map.", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					cm := obj.(*corev1.ConfigMap)
					return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), since(cm.CreationTimestamp)}
				},
			},
		},
	}
}

// validateConfigMapData checks keys, duplicates between data and binaryData,
// and the total size.
func validateConfigMapData(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range cm.Data {
		errs = append(errs, msgs(dataPath.Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(k) + len(v)
	}
	bp := field.NewPath("binaryData")
	for k, v := range cm.BinaryData {
		errs = append(errs, msgs(bp.Key(k), k, validation.IsConfigMapKey(k))...)
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(bp.Key(k), k, "duplicate of key present in data"))
		}
		size += len(k) + len(v)
	}
	if size > MaxDataSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxDataSize))
	}
	return errs
}

func secretResource() *Resource {
	return &Resource{
		GroupVersion: coreV1, Resource: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true,
		New:     func() runtime.Object { return &corev1.Secret{} },
		NewList: func() runtime.Object { return &corev1.SecretList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultSecret(obj.(*corev1.Secret)) },
			Validate: func(obj runtime.Object) field.ErrorList {
				s := obj.(*corev1.Secret)
				errs := validateMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
				return append(errs, validateSecretData(s)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				s, o := obj.(*corev1.Secret), old.(*corev1.Secret)
				errs := validateMetaUpdate(&s.ObjectMeta, &o.ObjectMeta)
				errs = append(errs, validateSecretData(s)...)
				errs = append(errs, immutable(s.Type, o.Type, field.NewPath("type"))...)
				if o.Immutable != nil && *o.Immutable {
					if s.Immutable == nil || !*s.Immutable {
						errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
					}
					if !semanticEqual(s.Data, o.Data) {
						errs = append(errs, field.Forbidden(dataPath, immutableMsg))
					}
				}
				return errs
			},
			FieldSet: func(obj runtime.Object) fields.Set {
				return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
			},
			Table: &TableConvertor{
				Columns: []metav1.TableColumnDefinition{
					nameColumn(""),
					column("Type", "string", "The type of the secret", 0),
					column("Data", "integer", "The number of entries in the data", 0),
					ageColumn(),
				},
				Row: func(obj runtime.Object) []interface{} {
					s := obj.(*corev1.Secret)
					return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), since(s.CreationTimestamp)}
				},
			},
		},
	}
}

// defaultSecret sets type Opaque and merges the write-only stringData into
// data, as the Kubernetes API does.
func defaultSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

// validateSecretData checks keys, size and the keys each secret type needs.
func validateSecretData(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range s.Data {
		errs = append(errs, msgs(dataPath.Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(k) + len(v)
	}
	if size > MaxDataSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxDataSize))
	}
	require := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	requireJSON := func(key string) {
		v, ok := s.Data[key]
		if !ok {
			require(key)
			return
		}
		var parsed map[string]interface{}
		if err := json.Unmarshal(v, &parsed); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metaPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		requireJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		requireJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, p := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !p {
			require(corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		require(corev1.SSHAuthPrivateKey)
	case corev1.SecretTypeTLS:
		require(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return errs
}
