// Package crawlersource is the "crawler" source: it enumerates the network
// boundary on the relay and starts tracking every repo it finds (rows in
// state pending, which the backfill stage picks up). It submits nothing
// into the lanes itself.
//
// # Modes
//
// The mode comes from tap's global configuration:
//
//   - scope.signal_collection set: com.atproto.sync.listReposByCollection
//     for that collection, cursor in collection_cursors(url, collection);
//   - else scope.full_network: com.atproto.sync.listRepos, skipping repos
//     with active == false, cursor in list_repos_cursors(url);
//   - else nothing to enumerate: the source idles until shutdown.
//
// With a *runtimecfg.Control resource (tap always gives one) the signal
// collections are a list that the admin API changes at runtime
// (/config/signal-collections; scope.signal_collection is its one-element
// default): a pass enumerates listReposByCollection for each of them, in
// order, each with its own cursor, and a change of the list starts a new
// pass at once (also from idle); an empty list falls back to full network
// or idling as above. Removing a collection untracks no repo.
//
// Both listings are read from the relay URL. In outbox-only mode
// (outbox.only) the source does nothing.
//
// # Passes and cursors
//
// A pass pages to the END of the listing: a page with no repos but a
// cursor continues (the reference Tap stopped at the first page without an
// active repo, spec Part A 14); the pass ends only when the relay returns no
// cursor or the cursor it was given. After each page the next cursor is
// saved, so a restart mid-pass resumes where it stopped. When a pass is
// complete the saved cursor is reset to "", so the next pass (after
// recrawl_interval, 24 h by default) starts over from the beginning and
// sees repos created behind the old cursor; a restart after a complete
// pass therefore also starts a new pass at once (the reference resumed
// from its last saved page). A failed request or database write ends the
// pass; it is retried from the saved cursor after a capped, jittered
// backoff (retry_delay doubling up to retry_max_delay).
package crawlersource
