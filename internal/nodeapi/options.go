package nodeapi

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/agent/runtime"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// LogOptionsFromQuery reads the PodLogOptions query parameters (follow,
// previous, sinceSeconds, sinceTime, timestamps, tailLines, limitBytes)
// into the driver's options; now anchors sinceSeconds. A bad value is a
// BadRequest naming the parameter.
func LogOptionsFromQuery(q url.Values, now time.Time) (opts runtime.LogOptions, previous bool, err error) {
	opts.TailLines = -1
	flag := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, apierrors.NewBadRequest(fmt.Sprintf("%s=%q: not a boolean", name, v))
		}
		return b, nil
	}
	number := func(name string, minimum int64) (int64, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < minimum {
			return 0, false, apierrors.NewBadRequest(fmt.Sprintf("%s=%q: must be an integer ≥ %d", name, v, minimum))
		}
		return n, true, nil
	}
	if opts.Follow, err = flag("follow"); err != nil {
		return opts, false, err
	}
	if previous, err = flag("previous"); err != nil {
		return opts, false, err
	}
	if opts.Timestamps, err = flag("timestamps"); err != nil {
		return opts, false, err
	}
	if n, ok, err := number("tailLines", 0); err != nil {
		return opts, false, err
	} else if ok {
		opts.TailLines = n
	}
	if n, ok, err := number("limitBytes", 1); err != nil {
		return opts, false, err
	} else if ok {
		opts.LimitBytes = n
	}
	secs, hasSecs, err := number("sinceSeconds", 1)
	if err != nil {
		return opts, false, err
	}
	if v := q.Get("sinceTime"); v != "" {
		if hasSecs {
			return opts, false, apierrors.NewBadRequest("at most one of sinceTime and sinceSeconds may be given")
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, false, apierrors.NewBadRequest(fmt.Sprintf("sinceTime=%q: not an RFC 3339 time", v))
		}
		opts.Since = t
	} else if hasSecs {
		opts.Since = now.Add(-time.Duration(secs) * time.Second)
	}
	return opts, previous, nil
}

// ExecOptions are an exec request's parameters (the PodExecOptions query).
type ExecOptions struct {
	Command                    []string
	Stdin, Stdout, Stderr, TTY bool
}

// ExecOptionsFromQuery reads command, stdin, stdout, stderr and tty; a
// request without a command or without any stream, or asking for a TTY,
// is a BadRequest.
func ExecOptionsFromQuery(q map[string][]string) (ExecOptions, error) {
	var o ExecOptions
	o.Command = q["command"]
	if len(o.Command) == 0 || o.Command[0] == "" {
		return o, apierrors.NewBadRequest("you must specify at least 1 command")
	}
	for name, dst := range map[string]*bool{"stdin": &o.Stdin, "stdout": &o.Stdout, "stderr": &o.Stderr, "tty": &o.TTY} {
		v := ""
		if vs := q[name]; len(vs) > 0 {
			v = vs[0]
		}
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("%s=%q: not a boolean", name, v))
		}
		*dst = b
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return o, apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr")
	}
	if o.TTY {
		return o, apierrors.NewBadRequest("a TTY is not supported by Berth's agent yet: run kubectl exec without -t")
	}
	return o, nil
}
