package sdk

import (
	"context"
	"encoding/json"
)

// Sink is what a plugin implements.
type Sink interface {
	// Configure is called once, before any Deliver, with the "config" map
	// of the sink's configuration (nil when there is none). An error stops
	// tap's start-up with its message.
	Configure(ctx context.Context, config map[string]any) error
	// Deliver delivers a batch and returns one Result per event, in the
	// order of batch. A missing result counts as Retry.
	Deliver(ctx context.Context, batch []Event) []Result
	// Shutdown flushes what the sink holds and releases its resources;
	// no Deliver follows.
	Shutdown(ctx context.Context) error
}

// Event types.
const (
	// TypeRecord is a record event (a create, update or delete).
	TypeRecord = "record"
	// TypeIdentity is an identity event (a handle or account change).
	TypeIdentity = "identity"
)

// Event is one tap event. The fields are decoded from JSON, which holds the
// event exactly as tap's websocket and webhook deliver it.
type Event struct {
	// ID is the event id, unique and strictly increasing.
	ID uint64
	// Type is TypeRecord or TypeIdentity.
	Type string
	// DID is the repository the event belongs to.
	DID string
	// Live is false for events from a backfill, true for the firehose.
	Live bool

	// Collection, RKey, Action ("create", "update", "delete"), Rev, CID
	// and Record are set for record events.
	Collection, RKey, Action, Rev, CID string
	// Record is the record's JSON (nil on delete).
	Record json.RawMessage

	// Handle, Status and IsActive are set for identity events.
	Handle, Status string
	// IsActive tells whether the account is active.
	IsActive bool

	// JSON is the exact event JSON.
	JSON []byte
}

// ResultStatus is the outcome of one event.
type ResultStatus int

// The outcomes of an event.
const (
	// Retry asks tap to deliver the event again later. It is the zero
	// value, so an unset Result is retried.
	Retry ResultStatus = iota
	// Acked means the event is delivered.
	Acked
	// Failed reports a permanent failure: tap logs and counts it and
	// retries the event only after its longest backoff (it never drops an
	// event; Ack what you want to skip).
	Failed
)

// String returns "retry", "acked" or "failed".
func (s ResultStatus) String() string {
	switch s {
	case Acked:
		return "acked"
	case Failed:
		return "failed"
	default:
		return "retry"
	}
}

// Result is the outcome of one event; Message says why for Retry and
// Failed.
type Result struct {
	Status  ResultStatus
	Message string
}

// Ack returns an Acked result.
func Ack() Result { return Result{Status: Acked} }

// RetryLater returns a Retry result with a message.
func RetryLater(msg string) Result { return Result{Status: Retry, Message: msg} }

// Fail returns a Failed result with a message.
func Fail(msg string) Result { return Result{Status: Failed, Message: msg} }
