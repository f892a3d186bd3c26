package server

import (
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/deployment"
	"github.com/berth-dev/berth/internal/controller/endpoints"
	"github.com/berth-dev/berth/internal/controller/endpointslice"
	"github.com/berth-dev/berth/internal/controller/gc"
	"github.com/berth-dev/berth/internal/controller/job"
	"github.com/berth-dev/berth/internal/controller/namespace"
	"github.com/berth-dev/berth/internal/controller/podautoscaler"
	"github.com/berth-dev/berth/internal/controller/replicaset"
	"github.com/berth-dev/berth/internal/controller/servicelb"
)

// DefaultControllers lists the controllers `berth server` runs.
func DefaultControllers() []controller.Factory {
	return []controller.Factory{
		gc.New,
		replicaset.New,
		deployment.New,
		job.New,
		namespace.New,
		endpoints.New,
		endpointslice.New,
		servicelb.New,
		podautoscaler.New,
	}
}
