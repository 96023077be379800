package websocketsink_test

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/sinks/websocketsink"
)

// stallListener hands out server-side connections whose writes can be made
// to block (a client behind a dead network path: nothing the server writes
// leaves its socket), honouring the write deadline.
type stallListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*stallConn
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

func (l *stallListener) conn(i int) *stallConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.conns) {
		return nil
	}
	return l.conns[i]
}

type stallConn struct {
	net.Conn
	mu       sync.Mutex
	stalled  bool
	deadline time.Time
	blocked  atomic.Int32 // writes blocked now
	closed   chan struct{}
	once     sync.Once
}

func (c *stallConn) stall() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = true
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	stalled, dl := c.stalled, c.deadline
	c.mu.Unlock()
	if !stalled {
		return c.Conn.Write(p)
	}
	c.blocked.Add(1)
	defer c.blocked.Add(-1)
	var timeout <-chan time.Time
	if !dl.IsZero() {
		timer := time.NewTimer(time.Until(dl))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case <-timeout:
		return 0, os.ErrDeadlineExceeded
	}
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// An idle client whose writes block (its ping is stuck until write_timeout)
// is not idle: queued events go to a client that can take them at once, not
// after write_timeout has dropped the stuck one.
func TestStuckIdleClientDoesNotHoldQueue(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval, cfg.PongTimeout, cfg.WriteTimeout = 20*time.Millisecond, time.Minute, time.Minute
	s := websocketsink.New(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, s.Start(t.Context(), nil))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &stallListener{Listener: inner}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), long)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/channel"

	_ = dial(t, url) // the stuck client: connected first, the oldest idle one
	waitFor(t, "the first client", func() bool { return s.Stats().Connected == 1 })
	ln.conn(0).stall()
	waitFor(t, "a ping to block", func() bool { return ln.conn(0).blocked.Load() > 0 })
	live := dial(t, url)
	waitFor(t, "the second client", func() bool { return s.Stats().Connected == 2 })

	res := deliverAsync(t.Context(), s, events(1, 1))
	id := idOf(t, live.next())
	require.EqualValues(t, 1, id)
	require.Zero(t, s.Stats().DroppedClients, "the event went to the live client only after the stuck one was dropped")
	live.ack(id)
	require.NoError(t, result(t, res))
}
