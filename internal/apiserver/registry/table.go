package registry

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
)

// nameColumn is the first column of every table.
func nameColumn(description string) metav1.TableColumnDefinition {
	if description == "" {
		description = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated."
	}
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: description}
}

// ageColumn is the usual Age column.
func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is represented in RFC3339 form and is in UTC."}
}

// column returns a column definition; priority 1 means "-o wide" only.
func column(name, typ, description string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description, Priority: priority}
}

// since renders the time elapsed since t the way kubectl does ("5m", "3d2h"),
// or "<unknown>" for a zero time.
func since(t metav1.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// sinceMicro is since for MicroTime values.
func sinceMicro(t metav1.MicroTime) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// containersAndImages joins the container names and images of a pod spec.
func containersAndImages(spec *corev1.PodSpec) (string, string) {
	names := make([]string, 0, len(spec.Containers))
	images := make([]string, 0, len(spec.Containers))
	for _, c := range spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// selectorString renders a label selector like kubectl ("app=web", "<none>").
func selectorString(s *metav1.LabelSelector) string {
	return metav1.FormatLabelSelector(s)
}

// mapSelectorString renders a map selector sorted by key, or "<none>".
func mapSelectorString(m map[string]string) string {
	if len(m) == 0 {
		return none
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// joinMax joins at most max items with sep and appends " + N more..." for
// the rest; empty lists render as empty.
func joinMax(items []string, sep string, max int) string {
	if len(items) <= max {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], sep), len(items)-max)
}

// workloadWideColumns are the Containers, Images and Selector columns shared
// by the workload tables.
func workloadWideColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Containers", "string", "Names of each container in the template.", 1),
		column("Images", "string", "Images referenced by each container in the template.", 1),
		column("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1),
	}
}

// workloadWideCells returns the cells for workloadWideColumns.
func workloadWideCells(spec *corev1.PodSpec, sel *metav1.LabelSelector) []interface{} {
	names, images := containersAndImages(spec)
	return []interface{}{names, images, selectorString(sel)}
}
