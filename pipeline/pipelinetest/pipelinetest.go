// Package pipelinetest has fakes and checks for code built on the pipeline
// kernel: recording, nop and failing sinks and stages, a nop host, and the
// lifecycle check every component must pass.
package pipelinetest

import (
	"context"
	"slices"
	"sync"

	"github.com/tapkit/tap/pipeline"
)

// NopHost is a Host with no sinks whose lanes accept nothing.
type NopHost struct{}

// Sinks returns nil.
func (NopHost) Sinks() []pipeline.NamedSink { return nil }

// Submit refuses the event with pipeline.ErrClosed.
func (NopHost) Submit(context.Context, *pipeline.Event) error { return pipeline.ErrClosed }

// Lifecycle counts Start and Shutdown calls; embed it in fakes.
type Lifecycle struct {
	mu        sync.Mutex
	starts    int
	shutdowns int
}

// Start counts the call.
func (l *Lifecycle) Start(context.Context, pipeline.Host) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts++
	return nil
}

// Shutdown counts the call.
func (l *Lifecycle) Shutdown(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shutdowns++
	return nil
}

// Counts returns how often Start and Shutdown were called.
func (l *Lifecycle) Counts() (starts, shutdowns int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.starts, l.shutdowns
}

// RecordingSink acks everything and records what it was given.
type RecordingSink struct {
	Lifecycle
	mu     sync.Mutex
	events []pipeline.Delivery
}

// Deliver records the batch and acks it.
func (s *RecordingSink) Deliver(_ context.Context, batch []pipeline.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range batch {
		d.JSON = slices.Clone(d.JSON)
		s.events = append(s.events, d)
	}
	return nil
}

// Events returns a copy of everything delivered so far, in delivery order.
func (s *RecordingSink) Events() []pipeline.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// NopSink acks everything and keeps nothing.
type NopSink struct{ Lifecycle }

// Deliver acks the batch.
func (*NopSink) Deliver(context.Context, []pipeline.Delivery) error { return nil }

// ErrorSink fails every delivery with Err.
type ErrorSink struct {
	Lifecycle
	Err error
}

// Deliver returns s.Err.
func (s *ErrorSink) Deliver(context.Context, []pipeline.Delivery) error { return s.Err }

// FuncStage is a stage whose Process is a function; nil passes everything on.
type FuncStage struct {
	Lifecycle
	Fn func(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error
}

// Process calls Fn, or next when Fn is nil.
func (s *FuncStage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	if s.Fn == nil {
		return next(ctx, ev)
	}
	return s.Fn(ctx, ev, next)
}

// RecordingStage records every event it sees and passes it on.
type RecordingStage struct {
	Lifecycle
	mu     sync.Mutex
	events []*pipeline.Event
}

// Process records ev and calls next.
func (s *RecordingStage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	return next(ctx, ev)
}

// Events returns a copy of the events seen so far, in processing order.
func (s *RecordingStage) Events() []*pipeline.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}
