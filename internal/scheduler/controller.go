package scheduler

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/controller"
)

// Factory returns a controller.Factory that runs a scheduler with cfg
// inside the controller manager (so under its leader election and with its
// shared informers). Events name "default-scheduler" as their source.
func Factory(cfg Config) controller.Factory {
	return func(c *controller.Context) (controller.Controller, error) {
		b, rec := controller.NewRecorder(c.Client, "default-scheduler")
		s, err := New(Options{
			Client: c.Client, Informers: c.Informers, Recorder: rec, Config: cfg,
			Metrics: c.Metrics, Logger: c.Logger,
		})
		if err != nil {
			b.Shutdown()
			return nil, fmt.Errorf("scheduler: %w", err)
		}
		return &runner{s: s, shutdown: b.Shutdown}, nil
	}
}

type runner struct {
	s        *Scheduler
	shutdown func()
}

func (r *runner) Name() string { return "scheduler" }

func (r *runner) Run(ctx context.Context, _ int) {
	defer r.shutdown()
	r.s.Run(ctx)
}
