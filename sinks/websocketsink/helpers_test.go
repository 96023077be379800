package websocketsink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/websocketsink"
)

// long is a timeout that a test never reaches when the sink works.
const long = 10 * time.Second

func ptr[T any](v T) *T { return &v }

// testConfig has short timeouts; the retry timeout is long unless a test is
// about it, so that redeliveries seen in a test have another cause.
func testConfig() websocketsink.Config {
	return websocketsink.Config{
		DisableAcks:  ptr(false),
		RetryTimeout: time.Minute,
		PingInterval: 50 * time.Millisecond,
		PongTimeout:  time.Second,
		WriteTimeout: time.Second,
		SendQueue:    4,
	}
}

// startSink starts a sink behind an httptest server on 127.0.0.1 and
// returns it with its ws:// URL. Cleanup shuts both down.
func startSink(t testing.TB, cfg websocketsink.Config) (*websocketsink.Sink, string) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	s := websocketsink.New(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, s.Start(t.Context(), nil))
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), long)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		srv.Close()
	})
	return s, "ws" + strings.TrimPrefix(srv.URL, "http") + "/channel"
}

// event returns a delivery whose JSON looks like a Tap record event.
func event(id uint64) pipeline.Delivery {
	js := fmt.Sprintf(`{"id":%d,"type":"record","record":{"live":false,"did":"did:plc:alice","rev":"3l2","collection":"app.bsky.feed.post","rkey":"r%d","action":"create","record":{"text":"hi"},"cid":"bafyreib"}}`, id, id)
	return pipeline.Delivery{ID: id, DID: "did:plc:alice", JSON: []byte(js)}
}

func events(from, n uint64) []pipeline.Delivery {
	batch := make([]pipeline.Delivery, 0, n)
	for id := from; id < from+n; id++ {
		batch = append(batch, event(id))
	}
	return batch
}

// idOf returns the id of an event frame.
func idOf(t testing.TB, frame []byte) uint64 {
	t.Helper()
	var v struct{ ID uint64 }
	require.NoError(t, json.Unmarshal(frame, &v), "frame %s", frame)
	return v.ID
}

// deliverAsync runs Deliver in a goroutine; the channel yields its result.
func deliverAsync(ctx context.Context, s *websocketsink.Sink, batch []pipeline.Delivery) <-chan error {
	res := make(chan error, 1)
	go func() { res <- s.Deliver(ctx, batch) }()
	return res
}

// result waits for Deliver's result.
func result(t testing.TB, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(long):
		t.Fatal("Deliver did not return")
		return nil
	}
}

// pending fails if Deliver has returned.
func pending(t testing.TB, res <-chan error) {
	t.Helper()
	select {
	case err := <-res:
		t.Fatalf("Deliver returned early: %v", err)
	default:
	}
}

// waitFor waits until cond holds, polling it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(long)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// client is a websocket client. With a reader, every received text frame is
// queued on frames; without one the test reads (or stops reading) itself.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan []byte
	ended  chan struct{} // closed when the reader stops
	endErr error         // the reader's final error, set before ended closes
	wmu    sync.Mutex
	reader bool
}

// dial connects a client that reads in the background (so it answers pings).
func dial(t testing.TB, url string) *client {
	t.Helper()
	c := dialRaw(t, url, nil)
	c.reader = true
	go c.readAll()
	return c
}

// dialRaw connects a client without a reader. A non-nil netDial replaces
// the TCP dial.
func dialRaw(t testing.TB, url string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) *client {
	t.Helper()
	d := websocket.Dialer{NetDialContext: netDial, HandshakeTimeout: long}
	ws, resp, err := d.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	c := &client{t: t, ws: ws, frames: make(chan []byte, 100000), ended: make(chan struct{})}
	t.Cleanup(func() {
		_ = ws.Close()
		if c.reader {
			<-c.ended
		}
	})
	return c
}

// readAll reads until the connection fails.
func (c *client) readAll() {
	for {
		typ, p, err := c.ws.ReadMessage()
		if err != nil {
			c.endErr = err
			close(c.ended)
			return
		}
		if typ == websocket.TextMessage {
			c.frames <- p
		}
	}
}

// readSync reads one frame in the calling goroutine (clients without reader).
func (c *client) readSync() []byte {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(long)))
	typ, p, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	require.Equal(c.t, websocket.TextMessage, typ)
	return p
}

// next waits for the next frame of a client with a reader.
func (c *client) next() []byte {
	c.t.Helper()
	select {
	case p := <-c.frames:
		return p
	default:
	}
	select {
	case p := <-c.frames:
		return p
	case <-c.ended:
		c.t.Fatalf("connection ended: %v", c.endErr)
	case <-time.After(long):
		c.t.Fatal("no frame received")
	}
	return nil
}

// nextIDs reads n frames and returns their ids.
func (c *client) nextIDs(n int) []uint64 {
	c.t.Helper()
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = idOf(c.t, c.next())
	}
	return ids
}

// send writes a text frame.
func (c *client) send(frame string) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, []byte(frame)))
}

// ack acks ids the way the @atproto/tap client does.
func (c *client) ack(ids ...uint64) {
	c.t.Helper()
	for _, id := range ids {
		c.send(fmt.Sprintf(`{"type":"ack","id":%d}`, id))
	}
}
