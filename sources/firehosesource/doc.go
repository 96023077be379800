// Package firehosesource is the "firehose" source: it follows the relay's
// com.atproto.sync.subscribeRepos stream and submits every #commit, #sync,
// #identity and #account message into the DID lanes as a live event.
//
// # Cursor
//
// The cursor saved in firehose_cursors (keyed by the relay URL exactly as
// configured) is the highest seq S such that every event with seq ≤ S is
// done: committed, filtered, or given up with a permanent error (spec Part
// A 9). Events finish in any order across DIDs; an atproto.CursorTracker
// keeps the saved cursor below the oldest event still in flight, so a crash
// replays and never skips. An event cut short by shutdown is not done.
//
// The cursor is saved every cursor_save_interval when it changed, and once
// more on Shutdown, on Shutdown's own context (the reference Tap saved on a
// cancelled context, so its final save failed). Before that final save,
// Shutdown waits up to shutdown_drain for the events it already submitted
// to finish (the lanes keep running until after the sources are stopped).
//
// # Connecting
//
// At start the stream resumes after the saved cursor (the live head when
// there is none, or always with relay.no_replay). After a dropped
// connection it resumes after the last seq it submitted in this process,
// so nothing is replayed twice into the lanes and nothing is skipped; with
// relay.no_replay it reconnects at the live head, as the reference does.
//
// In outbox-only mode (outbox.only) the source does nothing.
package firehosesource
