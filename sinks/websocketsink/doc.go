// Package websocketsink is the "websocket" sink: the GET /channel endpoint
// of the reference Tap, with acks (default) or fire-and-forget delivery.
//
// The Sink is both a pipeline.Sink and the http.Handler of /channel (the
// application mounts it behind the admin auth middleware). In webhook mode
// the application mounts WebhookModeHandler there instead.
//
// # Invariants
//
// Each rule has a scenario test in this package (named in brackets).
//
//  1. One event per text frame; the payload is Delivery.JSON, unchanged.
//     [TestDeliverReturnsAfterAcks]
//  2. Deliver returns nil only when every event of its batch is
//     acknowledged: in ack mode by a {"type":"ack","id":N} frame, matched by
//     id across all connections (an ack may arrive on another connection,
//     also one opened later); in fire-and-forget mode by a successful write
//     of its frame. [TestDeliverReturnsAfterAcks, TestAckOnAnotherConnection,
//     TestFireAndForget]
//  3. Connected clients compete for one shared queue: each send of an event
//     goes to exactly one client. Queued events are handed to idle clients
//     first, so that clients share the load; a client whose ping is blocked
//     (a dead network path, until write_timeout drops it) is not idle and
//     holds back no queued event. [TestShardingAcrossClients,
//     TestStuckIdleClientDoesNotHoldQueue]
//  4. Ack mode: an event not acked retry_timeout after its LAST send is sent
//     again (possibly to another client), and its send time is refreshed: one
//     resend per timeout, no resend storm (Part A 5).
//     [TestRetryTimeoutRefreshesSentTime] While another client is idle, the
//     resend goes to it rather than back to the client that did not ack: that
//     one is slow or stuck, and a second copy would wait behind the first.
//     [TestTimedOutEventGoesToAnotherClient, TestStressMixedClients]
//  5. A connection that ends — the client left, sent nothing (no pong, no
//     frame) within pong_timeout while the server pings every
//     ping_interval, or did not take a frame within write_timeout — is
//     dropped, and every event it held unacked goes back to the front of the
//     queue at once, without waiting for the retry timeout (Part A 16).
//     [TestDisconnectRequeuesPromptly, TestDeadClientDetected,
//     TestPingsKeepClientsConnected]
//  6. Fire-and-forget: a failed write re-queues the event instead of leaving
//     it stuck (Part A 4). [TestFireAndForgetRequeuesFailedWrite]
//  7. A client frame that is not an ack (not JSON, another type, an id that
//     is not a non-negative JSON integer, an oversized frame) is ignored and
//     counted, never a disconnect; unknown and repeated acks are harmless.
//     The read loop always runs, so client pings are answered at once.
//     [TestGarbageFramesIgnored, TestPingsKeepClientsConnected]
//  8. The server never initiates a close frame, on shutdown or on errors: it
//     closes the TCP connection, which makes the @atproto/tap client
//     reconnect (a close frame would make it stop). After Shutdown a new
//     client's TCP connection is closed without an HTTP answer, for the same
//     reason. [TestShutdownSendsNoCloseFrame]
//  9. With no client connected events wait in the queue; Deliver blocks
//     until they are acked, its ctx ends (ctx's error, wrapping
//     pipeline.ErrNotConnected when no client is connected) or the sink shuts
//     down (pipeline.ErrClosed). Events it gives up on leave the queue; a
//     partly acked batch gets a *pipeline.BatchError.
//     [TestNoClientWaits, TestContextCancellation, TestShutdownSendsNoCloseFrame]
//  10. Ack mode: a connection holds at most max_unacked events (claimed, or
//     sent and not acked). At the limit it takes nothing more until its acks
//     bring it a send queue below, so a client that stopped reading pins at
//     most that many while the others carry on. [TestMaxUnackedHoldsBack]
//
// Two close frames remain gorilla's, by the protocol: when a client sends a
// close frame (it is closing on purpose) gorilla echoes it, and a client
// that violates the websocket protocol (reserved bits, unmasked frames, bad
// close codes) gets a 1002 close frame. The @atproto/tap client does
// neither by accident.
//
// # Memory
//
// The queue holds only what Deliver calls hand in (the delivery engine
// bounds that); each connection takes at most send_queue events at a time
// and holds at most max_unacked.
// Client frames are read into a fixed buffer (acks are tiny); longer frames
// are discarded as they are read, not buffered.
package websocketsink
