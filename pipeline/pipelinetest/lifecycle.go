package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// CheckLifecycle checks the lifecycle contract of the components that make
// returns (each call must return a fresh component): Shutdown without Start,
// Shutdown twice, Start then Shutdown within a deadline, and Start that
// returns quickly. Use it in every component's tests.
func CheckLifecycle(t *testing.T, make func(t *testing.T) pipeline.Component) {
	t.Helper()
	t.Run("shutdown without start", func(t *testing.T) {
		c := make(t)
		if err := c.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown without Start: %v", err)
		}
	})
	t.Run("start returns quickly then shutdown twice", func(t *testing.T) {
		c := make(t)
		startCtx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := c.Start(startCtx, NopHost{}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if startCtx.Err() != nil {
			t.Fatalf("Start did not return before its context ended")
		}
		cancel() // background work must not depend on Start's context
		ctx, cancelStop := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancelStop()
		if err := c.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := c.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
}
