// Package sdk is the only package a tap sink plugin imports.
//
// A sink plugin is a separate executable that receives tap's events and
// delivers them somewhere (a file, a message broker, ...). Its author
// implements Sink and calls Serve from main:
//
//	func main() { sdk.Serve(&mySink{}) }
//
// tap (the "plugin" sink, package sinks/pluginsink) starts the executable,
// calls Configure once with the config map of the sink's YAML, then Deliver
// with batches of events, and Shutdown when it stops. The transport
// (hashicorp/go-plugin over gRPC with mutual TLS, a versioned handshake and
// a bound on the message size) is hidden here.
//
// # Delivery semantics
//
// Deliver returns one Result per event of the batch, in order. Acked means
// the event is safely stored at the destination: tap will not send it
// again. Retry asks tap to deliver the event again soon (with backoff);
// Failed reports a permanent failure with its message: tap logs and counts
// it and tries again only after its longest backoff (order stage retry_max,
// 10 s by default) — tap never drops an event on its own, so to skip one
// for good, store it somewhere of your own and Ack it. Delivery is at least
// once: if the plugin
// crashes, tap restarts it and delivers the unacked events again, so a
// destination should tolerate duplicates (Event.ID is unique and strictly
// increasing and can serve to deduplicate).
//
// Deliver may be called concurrently, from several batches in flight.
//
// # Logging
//
// Whatever the plugin writes to stderr ends up in tap's log. Stdout is
// reserved for the handshake and must not be written to.
package sdk
