package websocketsink_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/sinks/websocketsink"
)

// quietConfig has no pings within a test's life, so idle connections keep
// their order in the waiters and a test can tell which one is woken.
func quietConfig() websocketsink.Config {
	cfg := testConfig()
	cfg.PingInterval, cfg.PongTimeout = time.Hour, 2*time.Hour
	return cfg
}

// An event that timed out on a client goes to another idle client, not back
// to the one that did not ack it (which would only queue a duplicate behind
// the first, for ever if it is the first idle client at every retry).
func TestTimedOutEventGoesToAnotherClient(t *testing.T) {
	cfg := quietConfig()
	cfg.RetryTimeout = 200 * time.Millisecond
	s, url := startSink(t, cfg)
	a := dial(t, url) // reads, never acks
	res := deliverAsync(t.Context(), s, events(1, 1))
	require.EqualValues(t, 1, idOf(t, a.next()))
	waitFor(t, "a idle", func() bool { return s.Idle() == 1 })
	b := dial(t, url) // idle after a: a is woken first at the retry
	waitFor(t, "both clients idle", func() bool { return s.Idle() == 2 })
	require.EqualValues(t, 1, idOf(t, b.next()))
	b.ack(1)
	require.NoError(t, result(t, res))
	require.Empty(t, a.frames, "the event went back to the client that did not ack it")
}

// A client holding max_unacked events takes no more until its acks make
// room for a send queue; the others get the rest meanwhile.
func TestMaxUnackedHoldsBack(t *testing.T) {
	cfg := quietConfig()
	cfg.SendQueue, cfg.MaxUnacked = 2, 4
	s, url := startSink(t, cfg)
	a := dial(t, url)
	res := deliverAsync(t.Context(), s, events(1, 10))
	held := a.nextIDs(4)
	waitFor(t, "the rest queued", func() bool { st := s.Stats(); return st.InFlight == 4 && st.Queued == 6 })
	waitFor(t, "a full", func() bool { return s.Stats().Full == 1 })
	require.Zero(t, s.Stats().Idle, "a full client is not idle")

	b := dial(t, url) // acks each event as it comes (it holds 4 at most too)
	for range 6 {
		b.ack(idOf(t, b.next()))
	}
	waitFor(t, "b's acks", func() bool { return s.Stats().Acks == 6 })
	require.Empty(t, a.frames, "a full client took more events")

	// Nothing is queued: a full client that makes room goes idle and takes
	// new events (b leaves so that a is the only taker).
	require.NoError(t, b.ws.Close())
	waitFor(t, "b gone", func() bool { return s.Stats().Connected == 1 })
	a.ack(held[:2]...) // 2 held: room for a send queue again
	more := deliverAsync(t.Context(), s, events(11, 2))
	next := a.nextIDs(2)
	slices.Sort(next)
	require.Equal(t, []uint64{11, 12}, next)
	a.ack(held[2:]...)
	a.ack(next...)
	require.NoError(t, result(t, res))
	require.NoError(t, result(t, more))
	require.Zero(t, s.Stats().Resends)
	require.NoError(t, s.CheckHolds())
}
