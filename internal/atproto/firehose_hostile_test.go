package atproto

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
)

// liveEvents returns the network's events after seq that a consumer must
// receive: those with a seq, without the hostile relay's replays and
// oversized frames.
func liveEvents(n *testnet.Network, after int64) []testnet.Event {
	var out []testnet.Event
	for _, ev := range seqEvents(n, after) {
		if ev.Kind != testnet.KindReplay && ev.Kind != testnet.KindOversized {
			out = append(out, ev)
		}
	}
	return out
}

// resumingConsumer runs a consumer that resumes after the last event it
// handled, as the firehose source does.
func resumingConsumer(t *testing.T, opts FirehoseOptions) *consumer {
	t.Helper()
	var last atomic.Int64
	opts.Cursor = func(context.Context) (int64, error) { return last.Load(), nil }
	return runConsumer(t, opts, func(_ context.Context, ev FirehoseEvent) error { last.Store(ev.Seq); return nil })
}

// A relay that replays old frames with their old seqs: every replay is
// skipped and counted, nothing is handed on twice, the stream stays up.
func TestFirehoseSkipsOldSeqReplays(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	c := resumingConsumer(t, fastOptions(n.RelayURL()))
	c.waitStreaming(t, n)
	writeRecords(t, accts, 5)
	c.waitSeq(t, n.LastSeq())
	_, err = n.Faults().ReplayOldCommits(500)
	require.NoError(t, err)
	writeRecords(t, accts, 5)
	c.waitSeq(t, n.LastSeq())

	requireSameEvents(t, liveEvents(n, c.got()[0].Seq-1), c.got())
	st := c.fh.Stats()
	assert.Equal(t, uint64(500), st.Replayed)
	assert.Equal(t, uint64(1), st.Connects, "replays must not cost the connection")
	assert.Equal(t, n.LastSeq(), st.LastSeq)
}

// Seqs that go backwards under new content are skipped too: the consumer's
// seq never moves back (the source resumes from it).
func TestFirehoseSkipsRewoundSeqs(t *testing.T) {
	n := startNet(t)
	c := resumingConsumer(t, fastOptions(n.RelayURL()))
	c.waitStreaming(t, n)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	writeRecords(t, accts, 10)
	c.waitSeq(t, n.LastSeq())
	n.Faults().RewindNextSeqs(3, 8)
	writeRecords(t, accts, 6)
	c.waitSeq(t, n.LastSeq())

	got := c.got()
	for i := 1; i < len(got); i++ {
		require.Greater(t, got[i].Seq, got[i-1].Seq, "seqs handed on only increase")
	}
	assert.Equal(t, uint64(3), c.fh.Stats().Replayed)
	assert.Len(t, got, len(liveEvents(n, 0))-3, "the three rewound commits were skipped")
}

// A stalled relay (no frames, no pongs) is given up after read_timeout and
// re-dialled; once it resumes nothing is missing.
func TestFirehoseRecoversFromStalledRelay(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	opts := fastOptions(n.RelayURL())
	opts.PingInterval = 20 * time.Millisecond
	opts.ReadTimeout = 150 * time.Millisecond
	c := resumingConsumer(t, opts)
	c.waitStreaming(t, n)
	writeRecords(t, accts, 4)
	c.waitSeq(t, n.LastSeq())
	n.Faults().StallRelay(0)
	writeRecords(t, accts, 4)
	require.Eventually(t, func() bool { return c.fh.Stats().Connects >= 3 }, waitFor, time.Millisecond,
		"a stalled stream is given up and re-dialled")
	n.Faults().ResumeRelay()
	writeRecords(t, accts, 4)
	c.waitSeq(t, n.LastSeq())
	requireSameEvents(t, liveEvents(n, c.got()[0].Seq-1), c.got())
	assert.Positive(t, n.Faults().RelayFaultStats().StalledPings, "the relay swallowed pings")
	assert.GreaterOrEqual(t, c.fh.Stats().Timeouts, uint64(2), "each stalled connection counts as a timeout")
}

// Oversized garbage and oversized well-formed commits are skipped in
// bounded memory without disconnecting.
func TestFirehoseSkipsOversizedFrames(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	opts := fastOptions(n.RelayURL())
	opts.MaxFrameBytes = 64 << 10
	c := resumingConsumer(t, opts)
	c.waitStreaming(t, n)
	writeRecords(t, accts, 2)
	for range 20 {
		_, err := n.Faults().EmitOversizedFrame(200 << 10)
		require.NoError(t, err)
	}
	_, err = n.Faults().EmitOversizedCommit(accts[0].DID(), 100<<10)
	require.NoError(t, err)
	writeRecords(t, accts, 2)
	c.waitSeq(t, n.LastSeq())
	requireSameEvents(t, liveEvents(n, c.got()[0].Seq-1), c.got())
	st := c.fh.Stats()
	assert.Equal(t, uint64(21), st.Malformed)
	assert.Equal(t, uint64(1), st.Connects)
}

// Refused subscribes are dial errors retried with backoff; repeated drops
// are resumed from the cursor without gaps.
func TestFirehoseRefusedAndRepeatedlyDropped(t *testing.T) {
	n := startNet(t)
	n.Faults().RefuseSubscriptions(testnet.RelayRefusal{Status: http.StatusServiceUnavailable, Times: 3})
	c := resumingConsumer(t, fastOptions(n.RelayURL()))
	c.waitStreaming(t, n)
	require.Equal(t, 1, n.Faults().DropConnectionsRepeatedly(3, 4), "the open connection and three new ones")
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	writeRecords(t, accts, 20)
	c.waitSeq(t, n.LastSeq())
	requireSameEvents(t, liveEvents(n, 0), c.got())
	st := c.fh.Stats()
	assert.Equal(t, uint64(3), st.DialErrors)
	assert.Equal(t, uint64(5), st.Connects, "four cut connections, then one that stays")
}
