package websocketsink

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tapkit/tap/pipeline"
)

// Sink delivers events to the websocket clients of GET /channel. It is a
// pipeline.Sink and the http.Handler of the /channel route.
type Sink struct {
	set      settings
	log      *slog.Logger
	hub      *hub
	upgrader websocket.Upgrader

	mu         sync.Mutex
	started    bool
	stopReaper context.CancelFunc
}

var (
	_ pipeline.Sink = (*Sink)(nil)
	_ http.Handler  = (*Sink)(nil)
)

// New returns a sink configured by cfg, which should be validated and
// resolved (Config.Resolve); zero values take the Default* constants and
// an unset DisableAcks means ack mode. A nil logger discards.
func New(cfg Config, log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := cfg.settings()
	return &Sink{
		set: set,
		log: log,
		hub: newHub(set),
		upgrader: websocket.Upgrader{
			CheckOrigin:       func(*http.Request) bool { return true },
			EnableCompression: false,
		},
	}
}

// Start starts the retry loop (ack mode). Clients may connect and Deliver
// may be called before Start; events then wait in the queue, and are not
// resent after the retry timeout until Start.
func (s *Sink) Start(context.Context, pipeline.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	if s.hub.isClosed() {
		return fmt.Errorf("websocket sink: %w", pipeline.ErrClosed)
	}
	s.started = true
	s.log.Info("websocket sink started", "mode", s.mode(), "retry_timeout", s.set.retryTimeout,
		"ping_interval", s.set.pingInterval, "pong_timeout", s.set.pongTimeout,
		"write_timeout", s.set.writeTimeout)
	if s.set.disableAcks || !s.hub.track() {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopReaper = cancel
	go func() {
		defer s.hub.finished()
		s.retryLoop(ctx)
	}()
	return nil
}

func (s *Sink) mode() string {
	if s.set.disableAcks {
		return "fire-and-forget"
	}
	return "ack"
}

// Shutdown stops accepting clients, closes every connection's TCP
// connection (no close frame), makes pending Deliver calls return
// pipeline.ErrClosed, and waits for the connection handlers within the
// deadline of ctx. It is idempotent.
func (s *Sink) Shutdown(ctx context.Context) error {
	for _, c := range s.hub.close() {
		c.close(errShutdown)
	}
	s.mu.Lock()
	if s.stopReaper != nil {
		s.stopReaper()
	}
	s.mu.Unlock()
	select {
	case <-s.hub.stopped:
		return nil
	default:
	}
	select {
	case <-s.hub.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("websocket sink shutdown: %w", ctx.Err())
	}
}

// Deliver sends the batch, one event per text frame, to whichever clients
// take it, and returns nil once every event is acknowledged: acked by a
// client (on any connection) in ack mode, written to a client in
// fire-and-forget mode. With no client connected the events wait. When ctx
// ends or the sink shuts down, Deliver gives up on what is not acked yet:
// it returns the cause (ctx's error, with pipeline.ErrNotConnected when no
// client is connected, or pipeline.ErrClosed), or a *pipeline.BatchError
// when part of the batch was acked. The JSON slices are only read, but may
// still be read by a frame being written as Deliver gives up: callers must
// not modify them.
func (s *Sink) Deliver(ctx context.Context, batch []pipeline.Delivery) error {
	if len(batch) == 0 {
		return nil
	}
	w, err := s.hub.enqueue(batch)
	if err != nil {
		return fmt.Errorf("websocket sink: %w", err)
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		cause := ctx.Err()
		if connected, _, _, _, _ := s.hub.snapshot(); connected == 0 {
			cause = fmt.Errorf("websocket sink: no client connected: %w: %w", pipeline.ErrNotConnected, cause)
		}
		return s.hub.abandon(w, cause)
	case <-s.hub.closedCh:
		return s.hub.abandon(w, fmt.Errorf("websocket sink: %w", pipeline.ErrClosed))
	}
}

// retryLoop re-queues each event that is not acked retry_timeout after its
// last send. It sleeps until the oldest send is due, so an unacked event is
// resent once per retry_timeout, never once per tick.
func (s *Sink) retryLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if next, ok := s.hub.expire(time.Now()); ok {
			timer.Reset(next)
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-s.hub.kick:
		case <-due:
		}
	}
}

// Stats are the sink's gauges and counters.
type Stats struct {
	// Connected is the number of clients connected now.
	Connected int
	// Idle is the number of connected clients waiting for events.
	Idle int
	// Full is the number of clients holding max_unacked events: they take
	// no more until they ack.
	Full int
	// Queued is the number of events waiting for a client to take them.
	Queued int
	// InFlight is the number of events sent and waiting for their ack.
	InFlight int
	// FramesSent counts event frames written, resends included.
	FramesSent uint64
	// Resends counts events taken for a second or later send (after the
	// retry timeout, or after the client holding them was dropped).
	Resends uint64
	// Acks counts acks that completed an event.
	Acks uint64
	// UnknownAcks counts acks for ids not being delivered (unknown, or
	// already acked); they are harmless.
	UnknownAcks uint64
	// IgnoredFrames counts client frames that are not an ack.
	IgnoredFrames uint64
	// DroppedClients counts connections that ended other than by Shutdown:
	// the client left, or was found dead (no pong or frame within
	// pong_timeout, a write beyond write_timeout).
	DroppedClients uint64
}

// Stats returns the current statistics.
func (s *Sink) Stats() Stats {
	connected, idle, full, queued, inflight := s.hub.snapshot()
	st := &s.hub.stats
	return Stats{
		Connected: connected, Idle: idle, Full: full, Queued: queued, InFlight: inflight,
		FramesSent: st.framesSent.Load(), Resends: st.resends.Load(), Acks: st.acks.Load(),
		UnknownAcks: st.unknownAcks.Load(), IgnoredFrames: st.ignored.Load(), DroppedClients: st.dropped.Load(),
	}
}
