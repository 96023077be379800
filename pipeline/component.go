package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Component is the lifecycle every source, stage and sink implements; see
// the package documentation for the contract.
type Component interface {
	// Start begins the component's work and returns quickly.
	Start(ctx context.Context, host Host) error
	// Shutdown stops the component, flushes what it holds and waits for
	// its goroutines, within the deadline of ctx. It is idempotent and
	// works without Start.
	Shutdown(ctx context.Context) error
}

// Next hands an event to the rest of the stage chain.
type Next func(ctx context.Context, ev *Event) error

// Stage is one step of the chain that the lanes run for every event. A stage
// sees the events of one DID one at a time. It passes an event on by calling
// next (zero, one or many times: a filter drops, a verifier turns one commit
// into a Records event, a snapshot becomes many batches) and returns the
// first error that should stop the event.
type Stage interface {
	Component
	Process(ctx context.Context, ev *Event, next Next) error
}

// Delivery is one outbox event handed to a sink.
type Delivery struct {
	// ID is the event id, durable and strictly increasing.
	ID uint64
	// DID is the repo the event belongs to.
	DID string
	// Live is the event's live flag (the ordering rules depend on it).
	Live bool
	// JSON is the complete event JSON, exactly as delivered.
	JSON []byte
}

// Sink delivers events out of tap. Deliver returns nil only when every event
// of the batch is acknowledged by the destination; a *BatchError reports
// per-event outcomes; any other error fails the whole batch. Deliver may be
// called concurrently; the caller retries what failed.
type Sink interface {
	Component
	Deliver(ctx context.Context, batch []Delivery) error
}

// Source produces events into the lanes (through the Submit function it was
// created with) from the moment it is started until it is shut down.
type Source interface {
	Component
}

// Submit puts an event into the lanes; it blocks while they are full.
type Submit func(ctx context.Context, ev *Event) error

// Host gives started components access to the running graph.
type Host interface {
	// Sinks returns the graph's sinks in configuration order, each with its
	// ID; the stage that commits events delivers to them.
	Sinks() []NamedSink
	// Submit puts an event into the lanes, as a source does (e.g. the
	// backfill stage's fetch workers submit snapshots). It blocks while the
	// lanes are full and fails with ErrClosed once they shut down.
	Submit(ctx context.Context, ev *Event) error
}

// NamedSink is a sink with the ID it was configured under.
type NamedSink struct {
	ID   ID
	Sink Sink
}

// ID names a configured component: its type and an optional name, written
// "type" or "type/name" (e.g. "filter/scope").
type ID struct {
	Type string
	Name string
}

// ParseID parses "type" or "type/name".
func ParseID(s string) (ID, error) {
	typ, name, _ := strings.Cut(s, "/")
	if typ == "" || strings.ContainsAny(typ, " \t") || strings.Contains(name, "/") {
		return ID{}, fmt.Errorf("invalid component id %q: want type or type/name", s)
	}
	return ID{Type: typ, Name: name}, nil
}

// String returns the id as written in the configuration.
func (id ID) String() string {
	if id.Name == "" {
		return id.Type
	}
	return id.Type + "/" + id.Name
}

// Settings are given to a factory's create function.
type Settings struct {
	// ID is the component's configured id.
	ID ID
	// Logger is the component's logger, with the component's id attached.
	Logger *slog.Logger
	// Resources are shared services of the application (the store, the
	// identity directory, ...); look them up with Resource.
	Resources []any
}

// Resource returns the first of set.Resources that has type T. It lets the
// application hand components its shared services without this package
// knowing their types.
func Resource[T any](set Settings) (T, error) {
	for _, r := range set.Resources {
		if v, ok := r.(T); ok {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%s: no resource of type %T available", set.ID, zero)
}
