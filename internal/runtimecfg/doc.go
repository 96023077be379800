// Package runtimecfg holds the settings that the admin API changes while tap
// runs, without a restart: the collection filters (collections.filters,
// TAP_COLLECTION_FILTERS) and the signal collections (scope.signal_collection,
// TAP_SIGNAL_COLLECTION, which the API extends to a list).
//
// Precedence: a value set through the API is persisted (tap_meta) and wins
// over the configuration, also after a restart, until it is reset; then the
// configuration applies again. Startup logs every override in force, and
// each Value says where it comes from (SourceConfig or SourceAPI).
//
// Readers (the filter stages, the crawler) call Control.Get for every event
// or pass: it is one atomic load, and a change is seen by the next event
// processed after Set returns. Values are immutable; a change publishes a new
// one, so a reader may cache what it derives from a Value by its pointer.
//
// What a change means for data tap already processed:
//   - Widening the collection filters does not deliver records that were
//     filtered out before: tap never stored them. Resync the affected repos
//     (Control.RequestResync, POST /repos/resync) to backfill them: the
//     snapshot is compared with the record index, which holds only records
//     that passed the filters, so the newly allowed records arrive as
//     creates (live=false).
//   - Narrowing takes effect for events processed after the change; events
//     already in the outbox are delivered.
//   - A new signal collection makes repos tracked from then on: by the
//     firehose (a commit with an op in it) and by the crawler's next pass
//     (which starts at once). Removing one does not untrack any repo.
//
// With several tap processes on one Postgres database, a change applies at
// once to the process that served it and to the others when they restart.
package runtimecfg
