// Package predict is the predictive half of Berth's autoscaler: it keeps
// the history of each metric of an HPA as a demand series (in replicas: the
// metric's usage ratio times the pods it was measured over, i.e. how many
// replicas the Kubernetes rule would want), forecasts it with a
// forecast.Model over the time a new pod needs to become ready, and tracks
// the forecasts' recent error so the autoscaler can fall back to the
// reactive rule while the model is wrong.
//
// Everything here is a pure function of its inputs and the times passed
// in: the controller and the simulator drive it with the same calls.
package predict
