// Package httpapi serves tap's admin and delivery HTTP API: the routes of the reference Tap
// (spec/tap-compat.md B§2) on a plain net/http ServeMux, with the responses of the reference's
// Echo server reproduced byte for byte, plus the fixes and additions of Part A.
//
// Routes:
//
//	GET  /health                 {"status":"ok"} (no database check)
//	GET  /channel                event delivery (Options.Channel), else 503
//	POST /repos/add              {"dids":[...]} → 200, empty body
//	POST /repos/remove           {"dids":[...]} → 200, empty body
//	GET  /repos                  tracked repos, paged by DID (our addition, Part A 18)
//	GET  /resolve/{did}          DID document reconstructed from the resolved identity
//	GET  /info/{did}             repo state, account status, rev, record count
//	GET  /stats/repo-count       {"repo_count":N}
//	GET  /stats/record-count     {"record_count":N}
//	GET  /stats/outbox-buffer    {"outbox_buffer":N}
//	GET  /stats/resync-buffer    {"resync_buffer":N}
//	GET  /stats/cursors          {"firehose":N,"list_repos":"..."}
//
// Runtime control (our addition; Options.Control, else 503; see control.go and package
// runtimecfg for the semantics):
//
//	POST   /repos/resync               {"dids":[...]} → {"queued":N,"unknown":[...]}
//	GET    /config/collection-filters  {"collection_filters":[...],"source":"config|api"}
//	PUT    /config/collection-filters  {"collection_filters":[...]} → applied, persisted, as GET
//	DELETE /config/collection-filters  back to the configured value, as GET
//	GET|PUT|DELETE /config/signal-collections  the same with "signal_collections"
//
// Conventions shared with the reference (Echo): JSON bodies end with a newline and carry
// Content-Type "application/json; charset=UTF-8"; errors are {"message":"<text>"}; an unknown
// path answers 404 {"message":"Not Found"}, a known path with another method 405
// {"message":"Method Not Allowed"} with an Allow header; a "pretty" query parameter indents
// any JSON answer. GET routes also answer HEAD (net/http convention).
//
// When an admin password is set, HTTP Basic auth (user "admin") guards every path, including
// /health, /channel, unknown paths and the Options.Extra handlers (tap's /metrics and
// /debug/pprof/ when served on the API port), with indigo's exact 401 answer.
//
// Differences from the reference, each deliberate:
//   - Every DID of /repos/add and /repos/remove is validated first; any invalid one answers 400
//     naming the bad values and nothing is applied. An empty list is a 200 no-op.
//   - /info/{did} validates the DID (400) and adds the account "status" key.
//   - /resolve/{did} answers 404 for every "DID not found" error, also wrapped ones.
//   - A request body without Content-Type is read as JSON (the reference answers 415); any
//     other non-JSON Content-Type answers 415. Bodies are bounded (413 beyond the limit) and must
//     arrive within Options.ReadBodyTimeout (408 after it).
//   - An empty chunked body counts as an empty list, like an empty body with Content-Length 0.
//   - A POST that a browser sends from another origin (Sec-Fetch-Site cross-site, or an Origin
//     whose host is not the Host) answers 403 {"message":"cross-origin request refused"}
//     (net/http.CrossOriginProtection): with a body read as JSON without Content-Type, a page
//     could otherwise add or remove repos with the credentials a browser cached.
//   - Path DIDs are taken as sent (percent escapes kept, as Echo does, so did:web DIDs with a
//     %3A port separator work); a value that is not a DID as sent is percent-decoded once and
//     tried again, so clients that escape the whole DID work too.
//   - DID document entries are sorted by id, so /resolve answers are stable.
package httpapi
