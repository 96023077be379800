package websocketsink_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

// An unacked event is sent again retry_timeout after its LAST send, so a
// client that never acks gets one copy per timeout (Part A 5), not one per
// tick of a timer measured from the first send.
func TestRetryTimeoutRefreshesSentTime(t *testing.T) {
	const timeout = 150 * time.Millisecond
	cfg := testConfig()
	cfg.RetryTimeout = timeout
	s, url := startSink(t, cfg)
	c := dial(t, url)
	res := deliverAsync(t.Context(), s, events(1, 1))
	const copies = 5
	var at []time.Time
	for range copies {
		require.EqualValues(t, 1, idOf(t, c.next()))
		at = append(at, time.Now())
	}
	for i := 1; i < copies; i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), timeout*2/3, "copy %d came too soon: %v", i, at)
	}
	c.ack(1)
	require.NoError(t, result(t, res))
	waitFor(t, "the last write counted", func() bool {
		st := s.Stats()
		return st.FramesSent == st.Resends+1 // only the one event was ever sent
	})
	require.GreaterOrEqual(t, s.Stats().Resends, uint64(copies-1))
}

// A client that disconnects without acking: its events go to another client
// at once, without waiting for the (long) retry timeout.
func TestDisconnectRequeuesPromptly(t *testing.T) {
	s, url := startSink(t, testConfig()) // retry_timeout 1 min
	a := dialRaw(t, url, nil)
	res := deliverAsync(t.Context(), s, events(1, 3))
	for range 3 {
		a.readSync()
	}
	b := dial(t, url)
	require.NoError(t, a.ws.Close())
	ids := b.nextIDs(3)
	slices.Sort(ids)
	require.Equal(t, []uint64{1, 2, 3}, ids)
	b.ack(ids...)
	require.NoError(t, result(t, res))
	st := s.Stats()
	require.EqualValues(t, 1, st.DroppedClients)
	require.EqualValues(t, 3, st.Resends)
}

// A half-open client (it stops reading, so it answers no ping and sends
// nothing) is dropped after pong_timeout and its events go to another
// client (Part A 16).
func TestDeadClientDetected(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval, cfg.PongTimeout = 50*time.Millisecond, 300*time.Millisecond
	s, url := startSink(t, cfg)
	dead := dialRaw(t, url, nil)
	res := deliverAsync(t.Context(), s, events(1, 2))
	dead.readSync()
	dead.readSync() // and never reads again, but keeps the socket open
	live := dial(t, url)
	ids := live.nextIDs(2)
	live.ack(ids...)
	require.NoError(t, result(t, res))
	st := s.Stats()
	require.EqualValues(t, 1, st.DroppedClients)
	require.EqualValues(t, 1, st.Connected, "the live client stays connected")
}

// A client that keeps reading answers the server's pings and stays
// connected well past pong_timeout; the server answers the client's pings
// (the @atproto/tap client drops a connection whose pong is late).
func TestPingsKeepClientsConnected(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval, cfg.PongTimeout = 20*time.Millisecond, 100*time.Millisecond
	s, url := startSink(t, cfg)
	pings := make(chan struct{}, 100)
	pongs := make(chan struct{}, 100)
	c := dialRaw(t, url, nil)
	c.reader = true
	def := c.ws.PingHandler()
	c.ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return def(data)
	})
	c.ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	go c.readAll()
	for range 10 { // 10 pings = 2× pong_timeout
		<-pings
	}
	c.wmu.Lock()
	require.NoError(t, c.ws.WriteControl(9 /* ping */, []byte("x"), time.Now().Add(time.Second)))
	c.wmu.Unlock()
	select {
	case <-pongs:
	case <-time.After(long):
		t.Fatal("no pong for the client's ping")
	}
	st := s.Stats()
	require.EqualValues(t, 1, st.Connected)
	require.Zero(t, st.DroppedClients)
}

// Fire-and-forget: a write that fails (here: exceeds write_timeout on a
// client that stopped reading) re-queues the event for another client
// instead of leaving it stuck (Part A 4). Every event is written
// successfully exactly once: the stalled client took the first ones into
// its socket (what the kernel does with them after the drop is beyond
// fire-and-forget), the other client got the rest.
func TestFireAndForgetRequeuesFailedWrite(t *testing.T) {
	cfg := testConfig()
	cfg.DisableAcks = ptr(true)
	cfg.PingInterval, cfg.PongTimeout = time.Minute, 2*time.Minute // only the write timeout may fire
	cfg.WriteTimeout = 200 * time.Millisecond
	s, url := startSink(t, cfg)
	dialRaw(t, url, smallReceiveBuffer) // connects, never reads
	const n = 24
	batch := make([]pipeline.Delivery, n)
	pad := strings.Repeat("x", 1<<20)
	for i := range batch {
		batch[i] = event(uint64(i + 1))
		batch[i].JSON = []byte(strings.Replace(string(batch[i].JSON), `"hi"`, `"`+pad+`"`, 1))
	}
	res := deliverAsync(t.Context(), s, batch)
	waitFor(t, "the stalled client dropped", func() bool { return s.Stats().DroppedClients == 1 })
	stalledGot := s.Stats().FramesSent
	require.Less(t, stalledGot, uint64(n), "the socket buffers took everything; use larger frames")
	other := dial(t, url)
	require.NoError(t, result(t, res))
	ids := other.nextIDs(n - int(stalledGot))
	require.Equal(t, []uint64{stalledGot + 1}, ids[:1], "the event of the failed write comes first")
	st := s.Stats()
	require.EqualValues(t, n, st.FramesSent, "each event written once")
	require.GreaterOrEqual(t, st.Resends, uint64(1))
	require.Zero(t, st.Queued)
}

// smallReceiveBuffer dials TCP with a tiny receive buffer, so that a client
// that stops reading fills up quickly.
func smallReceiveBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Control: nil}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	return nc, nil
}
