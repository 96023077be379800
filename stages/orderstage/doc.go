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
// # Delivery
//
// After each committed transaction the committer hands the committed events, in id order, to
// the delivery engine, which releases them to every sink of the graph (pipeline.Host.Sinks).
// An event is in flight from its release until every sink acked it (Sink.Deliver returned nil
// for it); then, and only then, it leaves the outbox. The rules, for any outbox.parallelism:
//
//  1. Historical events (live=false) of a DID may be in flight together.
//     [TestHistoricalInFlightTogether]
//  2. A live event is released only when nothing else of its DID is in flight, and while it
//     is in flight nothing else of its DID is released: H1,H2,L1,H3,H4,L2,H5 go out as
//     {H1,H2} → L1 → {H3,H4} → L2 → H5, and consecutive live events one per ack.
//     [TestLiveBarrierExample, TestConsecutiveLive]
//  3. Strict FIFO per DID: nothing overtakes an earlier event of its DID. A live event waiting
//     at the head of its DID's queue holds back the historical events behind it.
//     [TestLiveBlocksLaterHistorical]
//  4. DIDs are independent: one held back by a live event holds back no other. A DID has
//     state (queue, in-flight set, barrier flag, in a sharded map) only while it has events
//     pending or in flight: an idle DID is evicted at once. [TestDIDsIndependent]
//  5. The rules hold whatever the sink batch size, the number of concurrent Deliver calls,
//     the number of sinks or clients, and with acks arriving out of order from many
//     goroutines, failures and restarts in between. [TestConcurrentClients, TestDeliveryModel]
//  6. Each sink has its own dispatcher: it batches what is released (up to sink_batch events)
//     and keeps at most max_in_flight_batches Deliver calls running. What a sink fails is
//     retried for that sink alone, while the other sinks go on: after a *pipeline.BatchError
//     only the failed events, after any other error the whole batch, following a capped,
//     jittered pipeline.Backoff (retry_min to retry_max), or the delay the sink asked for with
//     pipeline.RetryAfter. A pipeline.Permanent error is counted and retried too, after
//     retry_max: at-least-once comes first, and dead-lettering is the sink's own policy.
//     Because an event is in flight until every sink acked it, a failing sink holds back the
//     live events of a DID (and what follows them) for every sink.
//     [TestTwoSinksOneFailing, TestBatchErrorRetriesOnlyFailed, TestPermanentAndRetryAfter]
//  7. An event's outbox row is deleted once every sink acked it, in batches (delete_batch ids
//     or every delete_interval). A failed delete is logged and retried; a row whose delete
//     never happened is delivered again after a restart (at-least-once).
//     [TestTwoSinksOneFailing, TestRestartRedelivers]
//  8. Memory is bounded by capacity: the events held (pending + in flight). While it is
//     reached, Process waits before committing, which holds its lane and, through the lanes'
//     own bound, the sources (the firehose read pauses). A commit is admitted whenever the
//     engine is below capacity, however many events it carries: a large snapshot batch never
//     waits for room it cannot get, nor for its own DID's unacked events. The engine may so
//     hold up to capacity plus one batch per lane. [TestCapacityBackPressure,
//     TestLargeBatchBelowCapacity]
//  9. Startup: the rows left in the outbox (unacked before a restart or a crash, or written by
//     the reference Tap) are loaded in id order, in pages within capacity, and Process waits
//     until the last page is in the engine. All of them have ids below the first id this
//     process commits, so a DID's new events are released after its old ones.
//     [TestRestartRedelivers, TestBacklogBeforeNewCommits]
//  10. Shutdown stops releasing and lets the Deliver calls in progress finish for up to a
//     second (acks on their way), or until its deadline if that comes first; then it cancels
//     them, so that a consumer that is gone cannot hold shutdown hostage, and flushes the
//     pending deletes. Unacked events stay in the outbox for the next run.
//     [TestShutdownKeepsUnacked, TestShutdownGraceCancelsStuckDeliveries,
//     TestShutdownDeadlineCancelsDeliveries]
//  11. Without sinks nothing is released and nothing is held: committed events stay in the
//     outbox, for an outbox-only process to deliver. [TestNoSinksKeepsOutbox]
//
// # Outbox-only mode
//
// With outbox.only (WithOutboxOnly) the stage delivers the rows that other tap processes commit
// to the same database (Postgres, or a shared SQLite file) instead of its own, polling every
// follow_interval. [TestOutboxOnlyFollows, TestOutboxOnlyOutOfOrderIDs,
// TestOutboxOnlyNoDuplicateWhileInFlight]
//
//   - Ids may become visible out of order: writers reserve ids in blocks (id_block_size), so a
//     process may commit id 5 after another one committed id 1005. There is therefore no
//     watermark to follow: each poll reads the id list from the lowest id, in one statement
//     (one consistent snapshot), and takes the ids it has not handed to the engine yet, lowest
//     first, as many as the capacity leaves room for. A late low id is found by the next poll.
//   - A row is never handed to the engine twice while this process holds it: its id stays
//     known until its delete is seen to have completed before a poll's snapshot was taken.
//     A poll reads at most (known ids + room) ids, so its cost is bounded by the capacity,
//     not by the size of the outbox.
//   - Per-DID order assumes that one process at a time writes a DID's events (ingestion
//     partitioned by DID). Such a process commits its ids in increasing order, so every
//     snapshot shows a prefix of the DID's events, and taking unseen ids lowest first
//     releases them in order.
//   - One process delivers a database's outbox: the others ingest without sinks (D11). Two
//     delivering processes would delete each other's rows.
package orderstage
