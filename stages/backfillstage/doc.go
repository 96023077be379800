// Package backfillstage is the `backfill` stage: it gates events by repo
// state and fetches whole repos.
//
// In the lanes, for each event of a repo:
//   - a live #commit of an active repo passes; of a repo in any other state
//     (pending, resyncing, desynchronized, error) it is buffered durably in
//     resync_buffers (the raw commit, so it is verified when released);
//   - a #sync of a repo that is not active is dropped (the fetch covers it);
//   - identity and account events pass in any state;
//   - a snapshot (submitted by the fetch workers) passes to verify; once it
//     is committed, the repo's buffered commits are released in arrival
//     order, each verified like a live commit and deleted once applied (an
//     unreadable row is discarded, never left behind), and the repo becomes
//     active. All of this happens in one turn of the DID's lane, so no live
//     commit can overtake the snapshot or the buffered commits.
//
// Fetch workers (backfill.parallelism of them; none in outbox-only mode)
// claim repos in pending, desynchronized or error state (once retry_after
// passed; Postgres claims with FOR UPDATE SKIP LOCKED), refresh the repo's
// identity, and stream com.atproto.sync.getRepo from its PDS into a
// snapshot event. A failure sets state error with the message and retries
// after 1 min, 2, 4 … capped at 1 h (with jitter); an HTTP 429 backs off
// the whole PDS host (Retry-After, else 10 s) and leaves the repo
// desynchronized until then. A repo removed mid-resync ends without error.
package backfillstage
