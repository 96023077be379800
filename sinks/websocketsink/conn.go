package websocketsink

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientFrame is the largest client frame that is parsed; an ack is far
// smaller. Longer frames are read to their end, discarded and counted as
// ignored (a read limit would make gorilla answer with a close frame).
const maxClientFrame = 512

// errShutdown is the reason connections end when the sink shuts down.
var errShutdown = errors.New("sink shutting down")

// conn is one websocket client. Its handler goroutine writes (events and
// pings), a second goroutine reads (acks, pongs, the client's pings).
type conn struct {
	hub    *hub
	ws     *websocket.Conn
	log    *slog.Logger
	wake   chan struct{} // the queue has events again
	gone   chan struct{} // closed once the connection is dropped
	remote string

	// Guarded by hub.mu.
	dropped   bool
	waiting   bool // registered in hub.waiters
	signalled bool // woken for queued events, not claimed yet
	full      bool // holds max_unacked events; idle again once acks make room
	unacked   int  // events it holds: claimed, or sent and not acked
	claimed   []*entry
}

// ServeHTTP serves GET /channel: it upgrades the request to a websocket
// (any Origin, no subprotocol, no compression) and delivers events on it
// until the client goes away or the sink shuts down. A request that is not
// a websocket upgrade gets gorilla's plain-text 400. After Shutdown the
// TCP connection is closed without an answer, so that clients reconnect
// (to the next process) instead of giving up on an HTTP error.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hub.isClosed() {
		dropRequest(w)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	c := &conn{
		hub: s.hub, ws: ws, log: s.log, remote: r.RemoteAddr,
		wake: make(chan struct{}, 1), gone: make(chan struct{}),
	}
	if !s.hub.register(c) {
		_ = ws.Close()
		return
	}
	defer s.hub.finished()
	s.log.Info("websocket client connected", "remote", c.remote)
	c.run()
}

// dropRequest closes the request's TCP connection without an answer.
func dropRequest(w http.ResponseWriter) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	_ = nc.Close()
}

// run runs the connection until it is dropped.
func (c *conn) run() {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.close(c.readLoop())
	}()
	c.close(c.writeLoop())
	<-readDone
}

// close drops the connection (once): its unacked events go back to the
// queue and the TCP connection is closed. No close frame is ever sent: the
// @atproto/tap client treats one as final and stops reconnecting.
func (c *conn) close(reason error) {
	shutdown := errors.Is(reason, errShutdown)
	if !c.hub.drop(c, !shutdown) {
		return
	}
	close(c.gone)
	_ = c.ws.Close()
	if shutdown {
		return
	}
	c.log.Info("websocket client disconnected", "remote", c.remote, "reason", describe(reason))
}

// describe turns the usual ends of a connection into readable reasons.
func describe(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out (no pong or frame within pong_timeout, or a write exceeded write_timeout): " + err.Error()
	case websocket.IsCloseError(err, websocket.CloseAbnormalClosure) || errors.Is(err, io.EOF):
		return "connection closed by the client"
	}
	return err.Error()
}

// writeLoop writes the events this connection takes from the shared queue,
// and a ping every ping_interval (also while busy). It returns the error
// that ended the connection, nil when it was dropped elsewhere.
func (c *conn) writeLoop() error {
	ping := time.NewTicker(c.hub.set.pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.gone:
			return nil
		case <-ping.C:
			if err := c.pingBusy(); err != nil {
				return err
			}
		default:
		}
		if batch := c.hub.claim(c); len(batch) > 0 {
			n, err := c.writeFrames(batch)
			c.hub.sent(c, n)
			if err != nil {
				return err
			}
			continue
		}
		select {
		case <-c.wake:
		case <-ping.C:
			if err := c.pingBusy(); err != nil {
				return err
			}
		case <-c.gone:
			return nil
		}
	}
}

// writeFrames writes one text frame per event, each within write_timeout,
// and returns how many were written.
func (c *conn) writeFrames(batch []*entry) (int, error) {
	for i, e := range batch {
		if err := c.ws.SetWriteDeadline(time.Now().Add(c.hub.set.writeTimeout)); err != nil {
			return i, err
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, e.json); err != nil {
			return i, err
		}
		c.hub.stats.framesSent.Add(1)
	}
	return len(batch), nil
}

// pingBusy pings the client. A ping can block for up to write_timeout (a
// client behind a dead network path), so the connection stops being idle
// first: it leaves the waiters, and a wake-up it got for queued events
// passes on to another idle connection, instead of the queue waiting for
// this one's ping to end or time out.
func (c *conn) pingBusy() error {
	c.hub.busy(c)
	return c.ping()
}

func (c *conn) ping() error {
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.set.writeTimeout))
}
