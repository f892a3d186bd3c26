package docker

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/agent/runtime"
	"github.com/berth-dev/berth/internal/agent/runtime/runtimetest"
)

func TestConformance(t *testing.T) {
	e := dockerEnv(t)
	runtimetest.Run(t, func(t *testing.T) runtime.Driver {
		d := newDriver(t, nil)
		return &imageDriver{Driver: d, image: e.image}
	}, runtimetest.Capabilities{Exec: true, Stats: true})
}

// imageDriver runs the harness's containers (image "busybox") in the test
// image.
type imageDriver struct {
	*Driver
	image string
}

func (d *imageDriver) CreateAndStart(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	spec.Image = d.image
	return d.Driver.CreateAndStart(ctx, spec)
}
