package testnet

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// relay serves the firehose and the repo listings of the whole network.
type relay struct {
	net *Network
	srv *httpServer

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{} // closed by close (ends hostile-fault waits)
	wg     sync.WaitGroup
}

// subscriber is one open subscribeRepos connection.
type subscriber struct {
	conn *websocket.Conn
	// dropAt, when positive, is one more than the log position after
	// whose frame the connection is cut without a close frame (faults).
	dropAt atomic.Int64
}

const (
	relayBatch        = 256
	relayWriteTimeout = 10 * time.Second
)

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 64 << 10}

func startRelay(n *Network) (*relay, error) {
	r := &relay{net: n, subs: make(map[*subscriber]struct{}), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /xrpc/com.atproto.sync.subscribeRepos", r.handleSubscribe)
	mux.HandleFunc("GET /xrpc/com.atproto.sync.listRepos", n.handleListRepos(nil))
	mux.HandleFunc("GET /xrpc/com.atproto.sync.listReposByCollection", n.handleListReposByCollection)
	mux.HandleFunc("GET /xrpc/com.atproto.sync.getLatestCommit", n.handleGetLatestCommit(nil))
	srv, err := listenHTTP(n.opts.Host, mux, n.log.With("server", "relay"))
	if err != nil {
		return nil, err
	}
	r.srv = srv
	return r, nil
}

// close stops the HTTP server and cuts every firehose connection.
func (r *relay) close() {
	r.mu.Lock()
	if !r.closed {
		close(r.done)
	}
	r.closed = true
	for s := range r.subs {
		_ = s.conn.NetConn().Close()
	}
	r.mu.Unlock()
	r.srv.close()
	r.wg.Wait()
}

func (r *relay) handleSubscribe(w http.ResponseWriter, req *http.Request) {
	cursor, ok := parseCursor(w, req)
	if !ok || r.net.relayFaults.refuse(w) {
		return
	}
	conn, err := upgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader already answered
	}
	sub := &subscriber{conn: conn}
	if !r.register(sub) {
		_ = conn.NetConn().Close()
		return
	}
	defer r.unregister(sub)
	conn.SetPingHandler(r.net.relayFaults.pingHandler(conn, r.done))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go discardReads(conn, cancel)
	if err := r.serve(ctx, sub, cursor); err != nil {
		r.net.log.Debug("firehose subscriber done", "err", err)
	}
}

func parseCursor(w http.ResponseWriter, req *http.Request) (*int64, bool) {
	raw := req.URL.Query().Get("cursor")
	if raw == "" {
		return nil, true
	}
	c, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || c < 0 {
		writeXRPCError(w, http.StatusBadRequest, "InvalidRequest", "cursor must be a non-negative integer")
		return nil, false
	}
	return &c, true
}

func (r *relay) register(s *subscriber) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.subs[s] = struct{}{}
	r.wg.Add(1)
	return true
}

func (r *relay) unregister(s *subscriber) {
	r.mu.Lock()
	delete(r.subs, s)
	r.mu.Unlock()
	_ = s.conn.NetConn().Close()
	r.wg.Done()
}

// discardReads keeps reading so pings are answered; it cancels the
// subscription when the client goes away.
func discardReads(conn *websocket.Conn, cancel context.CancelFunc) {
	defer cancel()
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// serve replays from cursor, then follows the log until ctx ends.
func (r *relay) serve(ctx context.Context, sub *subscriber, cursor *int64) error {
	pos, outdated, future := r.net.events.start(cursor)
	if future {
		frame, _ := errorFrame("FutureCursor", "cursor is ahead of the stream")
		return r.write(sub, logEntry{frame: frame})
	}
	if outdated {
		frame, _ := infoFrame("OutdatedCursor", "cursor is older than the replay window; streaming from the oldest kept event")
		if err := r.write(sub, logEntry{frame: frame}); err != nil {
			return err
		}
	}
	if r.net.relayFaults.armDrop(sub, pos) {
		_ = sub.conn.NetConn().Close()
		return errDropped
	}
	for {
		batch, next, wake, gone := r.net.events.read(pos, relayBatch)
		if gone {
			return errSlowConsumer
		}
		for i, e := range batch {
			if err := r.net.relayFaults.waitStall(ctx, r.done); err != nil {
				return err
			}
			if err := r.write(sub, r.net.relayFaults.rewrite(e)); err != nil {
				return err
			}
			if at := sub.dropAt.Load(); at > 0 && int64(pos+i)+1 >= at {
				_ = sub.conn.NetConn().Close()
				return errDropped
			}
		}
		pos = next
		if len(batch) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// write sends one frame.
func (r *relay) write(sub *subscriber, e logEntry) error {
	typ := websocket.BinaryMessage
	if e.text {
		typ = websocket.TextMessage
	}
	_ = sub.conn.SetWriteDeadline(time.Now().Add(relayWriteTimeout))
	return sub.conn.WriteMessage(typ, e.frame)
}

// dropAll arms the connection-drop fault on every current subscriber:
// each is cut once it has been sent the afterFrames-th frame appended
// from now on (at once if afterFrames <= 0).
func (r *relay) dropAll(afterFrames int) int {
	at := int64(r.net.events.head() + afterFrames - 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		if afterFrames <= 0 {
			_ = s.conn.NetConn().Close()
			continue
		}
		s.dropAt.Store(at + 1)
	}
	return len(r.subs)
}

// dropSome arms the connection-drop fault on at most n current
// subscribers, as dropAll does, and returns how many it armed.
func (r *relay) dropSome(afterFrames, n int) int {
	at := int64(r.net.events.head() + afterFrames - 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	armed := 0
	for s := range r.subs {
		if armed == n {
			break
		}
		armed++
		if afterFrames <= 0 {
			_ = s.conn.NetConn().Close()
			continue
		}
		s.dropAt.Store(at + 1)
	}
	return armed
}

// subscribers returns how many firehose connections are open.
func (r *relay) subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// Subscribers returns how many subscribeRepos connections are open (tests
// wait on it before emitting live events).
func (n *Network) Subscribers() int { return n.relay.subscribers() }
