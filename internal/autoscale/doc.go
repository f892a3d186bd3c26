// Package autoscale holds Berth's autoscaling algorithms as pure code,
// shared by the HPA controller (internal/controller/podautoscaler) and the
// simulator (internal/sim): hpa is Kubernetes' rule, forecast the models,
// predict the predictive layer. This package itself reads the per-HPA
// settings Berth adds through annotations.
package autoscale
