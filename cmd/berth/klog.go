package main

import (
	"context"
	"errors"
	"log/slog"

	"k8s.io/klog/v2"
)

// routeClientGoLogs sends client-go's klog output (leader election,
// informers, request errors) to logger, tagged source=client-go. A
// record whose error is only a cancelled context — the process stopping,
// or a request it gave up — is logged at debug level: client-go reports
// the watches and requests a shutdown cuts short as errors.
func routeClientGoLogs(logger *slog.Logger) {
	klog.SetSlogLogger(slog.New(cancelQuiet{logger.Handler()}).With("source", "client-go"))
}

// cancelQuiet lowers records carrying a context.Canceled error to debug.
type cancelQuiet struct{ slog.Handler }

// Enabled lets every level through: Handle decides once it has seen the
// record's error.
func (h cancelQuiet) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelDebug)
}

// Handle passes r on, at debug level when its error is a cancellation.
func (h cancelQuiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && canceled(r) {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the handler with attrs.
func (h cancelQuiet) WithAttrs(attrs []slog.Attr) slog.Handler {
	return cancelQuiet{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the handler with the group.
func (h cancelQuiet) WithGroup(name string) slog.Handler {
	return cancelQuiet{h.Handler.WithGroup(name)}
}

// canceled reports whether one of r's attributes is an error that is a
// context cancellation.
func canceled(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, context.Canceled) {
			found = true
			return false
		}
		return true
	})
	return found
}
