// Package filterstage is the `filter` stage in its two modes.
//
// Scope mode (`filter/scope`, first in the chain) is the network boundary:
// raw firehose events of tracked repos pass; events of other repos are
// dropped, and, depending on the configuration, their repo becomes tracked
// (state pending, so the backfill stage fetches it):
//
//   - full network: any #commit, #sync or #identity, and an #account with
//     active=true, tracks its repo;
//   - signal collection: a #commit with an op in that collection tracks its
//     repo;
//   - otherwise only repos added through the API (or the crawler) pass.
//
// The event that caused the tracking is dropped: the backfill fetches the
// whole repo anyway. Non-firehose events (snapshots, verified records,
// identity changes) always pass.
//
// Collections mode (`filter/collections`, after verify) keeps the record ops
// whose collection matches one of the filters: an exact NSID, a prefix
// ending in ".*" that matches at a segment boundary ("app.bsky.*" matches
// "app.bsky.feed.post", not "app.bskyx.y"), or "*". A filter such as
// "app.bsky.feed*" is rejected at startup rather than guessed at (the
// reference Tap's code matched it as a plain string prefix, so it also
// matched "app.bsky.feedgen", while its README said it did not). Identity
// events always pass; a commit whose ops are all filtered out still passes
// (empty) so that the repo's rev and data are recorded.
//
// Runtime control: with a *runtimecfg.Control resource (tap always gives
// one), the scope stage reads the signal collections (a list; any of them
// tracks a repo) and the collections stage the filters from it for every
// event, so a change through the admin API (/config/signal-collections,
// /config/collection-filters) applies to the next event processed, without
// a restart. A collections stage with its own `filters` in the YAML keeps
// them: the API changes the global setting only. Records filtered out
// before a filter widens are not delivered retroactively; see package
// runtimecfg for how a resync backfills them.
//
// Filtering is not an error: dropped events are counted, never logged one
// by one.
package filterstage
