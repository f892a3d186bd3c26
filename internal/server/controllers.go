package server

import (
	"github.com/berth-dev/berth/internal/controller"
	"github.com/berth-dev/berth/internal/controller/gc"
)

// DefaultControllers lists the controllers `berth server` runs.
func DefaultControllers() []controller.Factory {
	return []controller.Factory{
		gc.New,
	}
}
