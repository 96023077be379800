package main

import (
	"io"
	"log/slog"
)

// newLogger returns tap's JSON logger on w at level (already validated),
// with the base attribute system=tap as the reference Tap logs.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("system", "tap")
}
