// Package webhooksink delivers events to an HTTP endpoint, as the reference
// Tap does in webhook mode (TAP_WEBHOOK_URL), plus three opt-in extensions.
//
// # Delivery
//
// Every event is POSTed to the configured URL (url, else delivery.webhook_url)
// with the event JSON, byte for byte, as the body and these headers:
//
//	Content-Type: application/json
//	User-Agent: tap/<version>
//	Authorization: Basic base64("admin:" + password)   (only when a password is set)
//
// The password is server.admin_password (TAP_ADMIN_PASSWORD), the same one
// that protects tap's API, unless the sink's basic_auth sets another one
// (or "" for none).
//
// Any 2xx answer acknowledges the event. Anything else — another status, a
// transport error, no answer within timeout — means the event is sent again,
// for ever by default, as the reference does. Unlike the reference:
//
//   - At most max_concurrency requests are in flight at once, across
//     everything the sink is delivering (the reference starts one goroutine
//     per event, without limit).
//   - The delay between attempts grows from retry_min to retry_max (1 s,
//     2 s, 4 s, 8 s, 10 s, 10 s, … by default, with jitter) and cannot
//     overflow however long the endpoint stays down (the reference's 2^n
//     overflows after about 63 attempts and retries in a hot loop).
//   - A 429 or 503 answer with Retry-After (seconds or an HTTP date) is
//     honoured: the next attempt waits that long (at most an hour).
//   - Waiting stops at once when tap shuts down; unacknowledged events stay
//     in the outbox and are sent again after the restart.
//   - 301, 302 and 303 redirects are not followed (they would turn the POST
//     into a GET and lose the event); they count as failures. 307 and 308
//     are followed.
//
// Delivery is at least once: an event may arrive more than once (a timeout
// after the receiver processed it, a restart). Receivers deduplicate by the
// event's id, which is unique and strictly increasing.
//
// # Extension: batching (batch_size)
//
// With batch_size N > 1, up to N events ready at the same time are sent in
// one POST whose body is a JSON array of the events, in id order:
//
//	[{"id":1,"type":"record","record":{…}},{"id":2,"type":"identity","identity":{…}}]
//
// The body is always an array in this mode, also for a single event. A 2xx
// answer acknowledges every event of the array; any failure retries the
// whole array. The default, 1, sends one event per POST with the event
// itself as the body (the reference's format).
//
// # Extension: signatures (hmac_secret)
//
// With hmac_secret set, every request carries
//
//	X-Tap-Signature: sha256=<hex of HMAC-SHA256(secret, body)>
//
// computed over the exact bytes of the body. A receiver verifies it by
// computing the same HMAC over the raw body, before parsing it, and
// comparing in constant time, e.g. in Go:
//
//	body, _ := io.ReadAll(r.Body)
//	mac := hmac.New(sha256.New, []byte(secret))
//	mac.Write(body)
//	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
//	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Tap-Signature"))) {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//
// or in Node.js with crypto.createHmac("sha256", secret).update(rawBody)
// .digest("hex") and crypto.timingSafeEqual. The signature proves the body
// came from a holder of the secret unaltered; it carries no timestamp, so a
// captured request can be replayed — which at-least-once receivers already
// handle by deduplicating ids. Answer a bad signature with a 4xx: tap
// retries it (it never treats a 4xx as final), so a secret mismatch shows up
// as a stuck delivery and in the sink's error statistics, never as loss.
//
// # Extension: dead letters (dead_letter_after)
//
// With dead_letter_after N > 0, an event whose delivery failed N times in a
// row is written to the database table webhook_dead_letters (id, did, data,
// attempts, last_error, created_at) and counted as delivered, so that one
// event the receiver keeps rejecting no longer holds back the events of its
// repo that come after it. data is the event JSON as it would have been
// sent; replay it by POSTing it yourself and deleting the row. If the row
// cannot be written the event is not given up on: delivery goes on and the
// next failure tries to store it again. Attempts are counted while the
// sink holds the event and start over when its delivery is interrupted (a
// shutdown, a restart). 0, the default, retries for ever (the reference's
// behaviour).
//
// # Statistics
//
// Sink.Stats counts requests by outcome (the status label of
// tap_webhook_requests_total: success, non_2xx, error), acknowledged,
// retried and dead-lettered events, and the last error.
package webhooksink
