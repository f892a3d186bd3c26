package process

import (
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
)

// monitor is the driver's one background goroutine: on SIGCHLD, on a
// nudge and every PollInterval it records the exits of container
// processes and copies their new output into the logs. Close stops it;
// it then closes the log pumps of the running containers.
func (d *Driver) monitor() {
	defer close(d.monitorDone)
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			for _, c := range d.running() {
				if c.pump != nil {
					c.pump.close(false)
					c.pump = nil
				}
			}
			return
		case <-t.C:
		case <-d.sigch:
		case <-d.wake:
		}
		d.poll()
	}
}

// running lists the running containers.
func (d *Driver) running() []*container {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*container
	for _, c := range d.containers {
		if c.rec.Status.State == runtime.StateRunning {
			out = append(out, c)
		}
	}
	return out
}

// poll checks every running container once.
func (d *Driver) poll() {
	for _, c := range d.running() {
		d.mu.Lock()
		pid, startTime, child := c.rec.Status.PID, c.rec.StartTime, c.child
		d.mu.Unlock()
		if exited, ex := probe(pid, startTime, child); exited {
			d.finish(c, ex)
			continue
		}
		if c.pump != nil {
			if err := c.pump.step(false); err != nil {
				d.log.Warn("cannot copy container output to its log", "container", c.id, "err", err)
			}
		}
	}
}
