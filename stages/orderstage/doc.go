// Package orderstage is the order stage, the last stage of the chain and tap's commit point.
//
// # Invariants
//
// Each rule below has a scenario test in this package (named in brackets).
//
//  1. One transaction per batch, all or nothing. Everything a Records or IdentityChange event
//     writes — record index rows, outbox rows, repos.rev/prev_data, handle/status, the removal
//     of a deleted account — is written in one transaction together with its outbox rows. If the
//     transaction fails, nothing of any event in it is written. [TestFailedTransactionWritesNothing]
//  2. Process returns nil only once the event is committed (or had nothing to write). On error
//     nothing of it was written, and the lanes retry it. The one exception is a Process whose
//     context ends while the transaction runs: it returns the context's error and the event may
//     still commit, so a retry can deliver it twice — at-least-once, never lost. Shutdown commits
//     what is queued before it returns, unless its deadline passes first: then the queued events
//     fail. [TestShutdownFlushes, TestShutdownDeadline]
//  3. Event ids are strictly increasing and never reused: across restarts, also when the outbox
//     was empty at boot, and above the ids of a database written by the reference Tap. Ids are
//     assigned by the single committer in commit order, so a later commit has higher ids. Ids
//     taken by a failed transaction are skipped. [TestIDsAcrossRestart, TestIDsAboveReferenceOutbox]
//  4. Concurrent lanes share transactions (group commit): the committer takes everything queued
//     (up to max_batch_events events and max_batch_rows rows) into one transaction.
//     [TestGroupCommitBatchesConcurrentLanes]
//  5. An event of a repo that is not tracked when its transaction runs (removed mid-flight, or
//     deleted by an earlier event) writes nothing — no index rows, no outbox rows, no repo row —
//     and succeeds; it is counted in Stats.Untracked. [TestRemovedRepoMidFlight]
//  6. A create or update whose record cannot be rendered as JSON the @atproto/tap client accepts
//     (see internal/eventjson) is applied to the record index but emits no event: sending it would
//     stall the repo behind an event the client rejects and never acks. It is counted in
//     Stats.Unrenderable and logged at warn with did, path and cid. [TestUnrenderableRecord]
//  7. An identity change with status deleted deletes the repo row, its record index and its
//     resync buffer in the same transaction; the identity event itself stays in the outbox.
//     [TestDeletedAccount]
//  8. The final batch of a commit or snapshot (Records.Final) records repos.rev = Records.Rev and
//     repos.prev_data = Records.DataCID in the same transaction. [TestFinalSetsRev]
//  9. Identity events are stored with outbox live = true: for the delivery ordering rules they are
//     barriers, so an account change never overtakes (nor is overtaken by) record events of its
//     repo. (The reference stores them as historical, spec B§15.19.) Record events keep the live
//     flag of their event. [TestEventJSON]
//
// # Events
//
// KindRecords and KindIdentityChange are committed and not passed on: nothing may run after the
// commit point, where a failure could no longer be retried without duplicating the event. Every
// other kind passes to next unchanged. An IdentityChange with an empty or invalid handle renders
// handle.invalid (and leaves repos.handle as it was when empty); a status outside active,
// takendown, suspended, deactivated, deleted is a permanent error.
//
// # Release
//
// After each committed transaction the committer hands the committed events, in id order, to the
// release hook (WithRelease). Releasing events to sinks under the per-DID ordering rules is not
// part of this package yet: until it is, committed rows stay in outbox_buffers.
package orderstage
