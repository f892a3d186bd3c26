// Package forecast holds the pure forecasting models behind Berth's
// predictive autoscaler.
//
// A Model turns the recent history of a metric, sampled at a fixed step,
// into the value expected h steps ahead. Two models are provided:
// HoltWinters (additive triple exponential smoothing, for load with a daily
// or weekly rhythm) and Linear (a least-squares trend, for steadily growing
// or shrinking load). SMAPE scores past forecasts against what actually
// happened, so that callers can decide whether a model is trustworthy
// enough to act on.
//
// Everything here is a pure function of its arguments: models keep no state
// between calls, results are deterministic, and forecasts are never NaN or
// infinite.
package forecast
