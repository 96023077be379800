package websocketsink_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Frames carry Delivery.JSON exactly, one event per text frame, and Deliver
// returns only when the last event of the batch is acked.
func TestDeliverReturnsAfterAcks(t *testing.T) {
	s, url := startSink(t, testConfig())
	c := dial(t, url)
	batch := events(1, 5)
	res := deliverAsync(t.Context(), s, batch)
	for _, d := range batch {
		require.Equal(t, string(d.JSON), string(c.next()))
	}
	pending(t, res)
	c.ack(1, 2, 3, 4)
	waitFor(t, "4 acks", func() bool { return s.Stats().Acks == 4 })
	pending(t, res)
	c.ack(5)
	require.NoError(t, result(t, res))
	st := s.Stats()
	require.EqualValues(t, 5, st.FramesSent)
	require.Zero(t, st.InFlight)
	require.Zero(t, st.Queued)
	require.Zero(t, st.Resends)
}

// An ack completes its event whichever connection it arrives on: another
// open connection, or one made after the receiving client went away.
func TestAckOnAnotherConnection(t *testing.T) {
	t.Run("other open connection", func(t *testing.T) {
		s, url := startSink(t, testConfig())
		a := dial(t, url)
		res := deliverAsync(t.Context(), s, events(1, 3))
		ids := a.nextIDs(3)
		b := dial(t, url)
		waitFor(t, "2 clients", func() bool { return s.Stats().Connected == 2 })
		b.ack(ids...)
		require.NoError(t, result(t, res))
		require.Zero(t, s.Stats().Resends)
	})
	t.Run("later connection", func(t *testing.T) {
		s, url := startSink(t, testConfig())
		a := dialRaw(t, url, nil)
		res := deliverAsync(t.Context(), s, events(1, 3))
		ids := []uint64{idOf(t, a.readSync()), idOf(t, a.readSync()), idOf(t, a.readSync())}
		require.NoError(t, a.ws.Close())
		waitFor(t, "a dropped", func() bool { return s.Stats().DroppedClients == 1 })
		b := dial(t, url)
		b.ack(ids...) // whether or not b got the requeued events first
		require.NoError(t, result(t, res))
	})
}

// Connected clients compete for one queue: each event goes to exactly one
// of them, and every event is delivered.
func TestShardingAcrossClients(t *testing.T) {
	cfg := testConfig()
	cfg.SendQueue = 1
	s, url := startSink(t, cfg)
	const n = 400
	clients := make([]*client, 4)
	for i := range clients {
		clients[i] = dial(t, url)
	}
	waitFor(t, "4 clients", func() bool { return s.Stats().Connected == 4 })
	res := deliverAsync(t.Context(), s, events(1, n))
	got := make([][]uint64, len(clients))
	for total := 0; total < n; {
		for i, c := range clients {
			select {
			case p := <-c.frames:
				id := idOf(t, p)
				got[i] = append(got[i], id)
				c.ack(id)
				total++
			default:
			}
		}
	}
	require.NoError(t, result(t, res))
	var all []uint64
	served := 0
	for _, ids := range got {
		all = append(all, ids...)
		if len(ids) > 0 {
			served++
		}
	}
	slices.Sort(all)
	require.Len(t, all, n)
	require.Equal(t, n, len(slices.Compact(all)), "an event went to two clients")
	require.GreaterOrEqual(t, served, 2, "events were not shared: %v", got)
	require.Zero(t, s.Stats().Resends)
}

// With no client connected the events wait in the queue; Deliver returns
// once a client connects, receives and acks them.
func TestNoClientWaits(t *testing.T) {
	s, url := startSink(t, testConfig())
	res := deliverAsync(t.Context(), s, events(1, 2))
	waitFor(t, "2 queued", func() bool { return s.Stats().Queued == 2 })
	pending(t, res)
	c := dial(t, url)
	c.ack(c.nextIDs(2)...)
	require.NoError(t, result(t, res))
}

// Fire-and-forget: an event is delivered once its frame is written; no ack
// is needed.
func TestFireAndForget(t *testing.T) {
	cfg := testConfig()
	cfg.DisableAcks = ptr(true)
	s, url := startSink(t, cfg)
	c := dial(t, url)
	batch := events(1, 5)
	require.NoError(t, result(t, deliverAsync(t.Context(), s, batch)))
	for _, d := range batch {
		require.Equal(t, string(d.JSON), string(c.next()))
	}
	require.Zero(t, s.Stats().InFlight)
}
