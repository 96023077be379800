package websocketsink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/sinks/websocketsink"
)

// When ctx ends, Deliver gives up on what is not acked: with no client it
// says so (ErrNotConnected), and the events leave the queue; with part of
// the batch acked it reports per-event outcomes.
func TestContextCancellation(t *testing.T) {
	t.Run("no client", func(t *testing.T) {
		s, _ := startSink(t, testConfig())
		ctx, cancel := context.WithCancel(t.Context())
		res := deliverAsync(ctx, s, events(1, 2))
		waitFor(t, "queued", func() bool { return s.Stats().Queued == 2 })
		cancel()
		err := result(t, res)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, pipeline.ErrNotConnected)
		require.Zero(t, s.Stats().Queued)
	})
	t.Run("partly acked", func(t *testing.T) {
		s, url := startSink(t, testConfig())
		c := dial(t, url)
		ctx, cancel := context.WithCancel(t.Context())
		res := deliverAsync(ctx, s, events(1, 2))
		c.nextIDs(2)
		c.ack(1)
		waitFor(t, "ack", func() bool { return s.Stats().Acks == 1 })
		cancel()
		var be *pipeline.BatchError
		require.ErrorAs(t, result(t, res), &be)
		require.NoError(t, be.Errs[0])
		require.ErrorIs(t, be.Errs[1], context.Canceled)
		require.Zero(t, s.Stats().InFlight)
	})
}

// Shutdown closes the TCP connections without a close frame (the
// @atproto/tap client would stop reconnecting), makes pending Deliver calls
// return ErrClosed, and refuses new clients without an HTTP answer.
func TestShutdownSendsNoCloseFrame(t *testing.T) {
	s, url := startSink(t, testConfig())
	rec := &recorder{}
	c := dialRaw(t, url, rec.dial)
	res := deliverAsync(t.Context(), s, events(1, 1))
	c.readSync()

	require.NoError(t, s.Shutdown(t.Context()))
	require.ErrorIs(t, result(t, res), pipeline.ErrClosed)
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		require.Equal(t, websocket.CloseAbnormalClosure, ce.Code, "the client saw a close frame: %v", err)
	}
	require.NotContains(t, rec.opcodes(t), byte(websocket.CloseMessage))

	require.ErrorIs(t, s.Deliver(t.Context(), events(2, 1)), pipeline.ErrClosed)
	_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	require.Error(t, err)
	require.Nil(t, resp, "a refused client must see a dropped connection, not an HTTP error")
}

// Every component passes the lifecycle contract, in both modes.
func TestLifecycle(t *testing.T) {
	for _, faf := range []bool{false, true} {
		pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
			cfg := testConfig()
			cfg.DisableAcks = ptr(faf)
			return websocketsink.New(cfg, nil)
		})
	}
}

// recorder keeps every byte a client connection reads.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type recordingConn struct {
	net.Conn
	r *recorder
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.buf.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return recordingConn{nc, r}, nil
}

// opcodes parses what the server sent after the HTTP handshake as
// websocket frames and returns their opcodes.
func (r *recorder) opcodes(t *testing.T) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, p, ok := bytes.Cut(r.buf.Bytes(), []byte("\r\n\r\n"))
	require.True(t, ok, "no handshake recorded")
	var ops []byte
	for len(p) >= 2 {
		op, n := p[0]&0x0f, uint64(p[1]&0x7f)
		require.Zero(t, p[1]&0x80, "server frames are not masked")
		hdr := 2
		switch n {
		case 126:
			n, hdr = uint64(binary.BigEndian.Uint16(p[2:])), 4
		case 127:
			n, hdr = binary.BigEndian.Uint64(p[2:]), 10
		}
		ops = append(ops, op)
		if uint64(len(p)) < uint64(hdr)+n {
			break
		}
		p = p[uint64(hdr)+n:]
	}
	require.NotEmpty(t, ops)
	return ops
}
