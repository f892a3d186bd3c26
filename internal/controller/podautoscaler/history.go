package podautoscaler

import (
	"context"

	"github.com/berth-dev/berth/internal/autoscale/predict"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A predictive HPA's history is kept in a ConfigMap in its namespace,
// owned by the HPA (deleted with it), so that it survives a restart of the
// controller or a change of leader.
const (
	// historyPrefix + the HPA's name is the ConfigMap's name.
	historyPrefix = "berth-hpa-history-"
	// historyKey is the ConfigMap key holding the serialized history.
	historyKey = "history.json"
	// LabelHistoryOf on the ConfigMap names its HPA.
	LabelHistoryOf = "berth.io/hpa-history-of"
)

// HistoryConfigMapName is the name of the ConfigMap holding the history of
// the HPA named hpaName.
func HistoryConfigMapName(hpaName string) string {
	n := historyPrefix + hpaName
	if len(n) > 253 {
		n = n[:253]
	}
	return n
}

// restoreHistory loads the HPA's history once, when it is predictive.
func (c *Controller) restoreHistory(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, st *hpaState) {
	if _, on := h.Annotations[predict.AnnotationModel]; !on {
		return
	}
	cm, err := c.client.CoreV1().ConfigMaps(h.Namespace).Get(ctx, HistoryConfigMapName(h.Name), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.log.Warn("cannot read the HPA's history; retrying next sync", "hpa", h.Namespace+"/"+h.Name, "err", err)
		return
	}
	st.restored = true
	if err != nil {
		return
	}
	if err := st.RestoreHistory([]byte(cm.Data[historyKey])); err != nil {
		c.log.Warn("ignoring the HPA's unreadable history", "hpa", h.Namespace+"/"+h.Name, "err", err)
	}
}

// saveHistory writes the HPA's history when a step was completed since
// the last write.
func (c *Controller) saveHistory(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, st *hpaState) {
	p := st.Predictor()
	if p == nil || p.Steps() == st.savedSteps {
		return
	}
	data, err := p.MarshalJSON()
	if err != nil {
		return
	}
	name := HistoryConfigMapName(h.Name)
	cms := c.client.CoreV1().ConfigMaps(h.Namespace)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		t := true
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: h.Namespace, Labels: map[string]string{LabelHistoryOf: h.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Name: h.Name, UID: h.UID, Controller: &t}},
		}, Data: map[string]string{historyKey: string(data)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	case err == nil:
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[historyKey] = string(data)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		c.log.Warn("cannot save the HPA's history", "hpa", h.Namespace+"/"+h.Name, "err", err)
		return
	}
	st.savedSteps = p.Steps()
}
