// Package sim runs Berth's real control code against models instead of a
// cluster. Autoscale replays a load trace (internal/sim/trace) through the
// HPA controller's decision code (podautoscaler.State.Decide, the same
// code the controller runs) against a model of a Deployment's replicas
// (a fixed capacity in requests per second each, a start-up delay before a
// new replica is ready) and reports SLO-violation minutes, replica-hours
// and scale events, with a PNG plot.
package sim
