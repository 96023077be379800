// Package pipeline is tap's kernel: the event model, the Source, Stage and
// Sink interfaces, the factories that build them, the DID-partitioned lanes
// that run the stage chain, the graph that starts and stops everything, and
// the error vocabulary shared by every component.
//
// It holds no atproto wire code and no SQL: stages and sinks bring those.
//
// # Lifecycle contract
//
// Every component (source, stage, sink) follows the same contract, checked
// for each of them by pipelinetest.CheckLifecycle:
//
//   - Start returns quickly. Long-running work runs in goroutines on a
//     context that Shutdown cancels, never on the context given to Start
//     (that one only bounds Start itself).
//   - Shutdown is idempotent, works when Start was never called, flushes
//     what the component holds, waits for its goroutines and honours the
//     deadline of its context.
//   - The graph starts sinks first, then stages from the last to the first,
//     then the lanes, then sources; it stops in the reverse order, so that
//     nothing produces into a component that is already stopped.
//
// # Ordering
//
// Events enter the lanes through Lanes.Submit. Events of one DID run through
// the whole stage chain one at a time, in submission order; events of
// different DIDs run in parallel on up to Lanes.Workers goroutines. The
// number of queued events is bounded: Submit blocks when the lanes are full,
// which is how back-pressure reaches the sources.
//
// # Errors
//
// A stage that filters an event out returns nil without calling next: that
// is not an error. Errors are classified with Permanent, RetryAfter and
// ErrNotConnected; anything else is retryable. Only the framework retries:
// components return errors and never loop on their own.
package pipeline
