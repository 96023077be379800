package atproto

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFirehoseReceivesEveryEventInOrder(t *testing.T) {
	n := startNet(t)
	c := runConsumer(t, fastOptions(n.RelayURL()), nil)
	c.waitStreaming(t, n)

	accts, err := n.CreateAccounts(3)
	require.NoError(t, err)
	writeRecords(t, accts, 20)
	_, err = accts[0].SetHandle("renamed.test")
	require.NoError(t, err)
	c.waitSeq(t, n.LastSeq())

	requireSameEvents(t, seqEvents(n, 0), c.got())
	st := c.fh.Stats()
	assert.Equal(t, uint64(1), st.Connects)
	assert.Equal(t, n.LastSeq(), st.LastSeq)
	assert.Equal(t, n.LastSeq(), c.fh.LastSeq())
	assert.Equal(t, uint64(len(c.got())), st.Events)
	assert.ErrorIs(t, c.stop(t), context.Canceled)
}

func TestFirehoseResumesFromCursor(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	writeRecords(t, accts, 10)
	const cursor = 9
	opts := fastOptions(n.RelayURL())
	opts.Cursor = func(context.Context) (int64, error) { return cursor, nil }
	c := runConsumer(t, opts, nil)
	c.waitSeq(t, n.LastSeq())
	writeRecords(t, accts, 3) // then live
	c.waitSeq(t, n.LastSeq())
	requireSameEvents(t, seqEvents(n, cursor), c.got())
}

func TestFirehoseSkipsJunkFramesWithoutDisconnecting(t *testing.T) {
	n := startNet(t)
	c := runConsumer(t, fastOptions(n.RelayURL()), nil)
	c.waitStreaming(t, n)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	writeRecords(t, accts, 2)
	_, err = n.Faults().EmitMalformedFrame()
	require.NoError(t, err)
	writeRecords(t, accts, 2)
	_, err = n.Faults().EmitTextFrame()
	require.NoError(t, err)
	_, err = n.EmitInfo("OutdatedCursor", "testing")
	require.NoError(t, err)
	writeRecords(t, accts, 2)
	c.waitSeq(t, n.LastSeq())

	requireSameEvents(t, seqEvents(n, 0), c.got())
	st := c.fh.Stats()
	assert.Equal(t, uint64(1), st.Malformed)
	assert.Equal(t, uint64(1), st.NonBinary)
	assert.Equal(t, uint64(1), st.Connects, "junk frames must not cost the connection")
}

func TestFirehoseReconnectsAfterDropWithoutGaps(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	opts := fastOptions(n.RelayURL())
	var last atomic.Int64 // resume after the last event handled, as the source does
	opts.Cursor = func(context.Context) (int64, error) { return last.Load(), nil }
	c := runConsumer(t, opts, func(_ context.Context, ev FirehoseEvent) error { last.Store(ev.Seq); return nil })
	waitSubscribers(t, n, 1)
	for range 3 {
		require.Equal(t, 1, n.Faults().DropConnections(4))
		writeRecords(t, accts, 10)
		c.waitSeq(t, n.LastSeq())
		waitSubscribers(t, n, 1)
	}
	first := c.got()[0].Seq
	requireSameEvents(t, seqEvents(n, first-1), c.got())
	require.Eventually(t, func() bool { return c.fh.Stats().Connects == 4 }, waitFor, time.Millisecond)
}

func TestFirehoseBacksOffWhileRelayIsDown(t *testing.T) {
	opts := fastOptions("http://" + closedPort(t))
	var cursorReads atomic.Int64
	opts.Cursor = func(context.Context) (int64, error) { cursorReads.Add(1); return 0, nil }
	c := runConsumer(t, opts, nil)
	require.Eventually(t, func() bool { return c.fh.Stats().DialErrors >= 4 }, waitFor, time.Millisecond)
	assert.Zero(t, c.fh.Stats().Connects)
	assert.GreaterOrEqual(t, cursorReads.Load(), int64(4), "the cursor is read at every dial")
	start := time.Now()
	assert.ErrorIs(t, c.stop(t), context.Canceled)
	assert.Less(t, time.Since(start), time.Second, "stops promptly")
}

func TestFirehoseCursorErrorIsRetried(t *testing.T) {
	n := startNet(t)
	opts := fastOptions(n.RelayURL())
	var fails atomic.Int64
	opts.Cursor = func(context.Context) (int64, error) {
		if fails.Add(1) <= 2 {
			return 0, errors.New("database is down")
		}
		return 0, nil
	}
	c := runConsumer(t, opts, nil)
	require.Eventually(t, func() bool { return c.fh.Stats().Connects == 1 }, waitFor, time.Millisecond)
	assert.Equal(t, int64(3), fails.Load(), "two failed cursor reads, then a dial")
	assert.Zero(t, c.fh.Stats().DialErrors)
}

func TestFirehoseErrorFrameReconnectsWithBackoff(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	opts := fastOptions(n.RelayURL())
	var future atomic.Bool
	future.Store(true)
	opts.Cursor = func(context.Context) (int64, error) {
		if future.Load() {
			return 1 << 40, nil // the relay answers FutureCursor and hangs up
		}
		return 0, nil
	}
	c := runConsumer(t, opts, nil)
	require.Eventually(t, func() bool { return c.fh.Stats().ErrorFrames >= 2 }, waitFor, time.Millisecond)
	future.Store(false)
	c.waitStreaming(t, n)
	writeRecords(t, accts, 1)
	c.waitSeq(t, n.LastSeq())
}

func TestFirehoseStopsPromptlyWhileHandlerBlocks(t *testing.T) {
	n := startNet(t)
	blocked := make(chan struct{}, 1)
	c := runConsumer(t, fastOptions(n.RelayURL()), func(ctx context.Context, _ FirehoseEvent) error {
		select {
		case blocked <- struct{}{}:
		default:
		}
		<-ctx.Done() // tap is full: back-pressure holds the read loop
		return ctx.Err()
	})
	c.waitStreaming(t, n)
	accts, err := n.CreateAccounts(1)
	require.NoError(t, err)
	writeRecords(t, accts, 5)
	<-blocked
	assert.ErrorIs(t, c.stop(t), context.Canceled)
	assert.Empty(t, c.got())
	require.Eventually(t, func() bool { return n.Subscribers() == 0 }, waitFor, time.Millisecond, "the connection is closed")
}

func TestFirehoseHandlerErrorEndsRun(t *testing.T) {
	n := startNet(t)
	boom := errors.New("lanes closed")
	c := runConsumer(t, fastOptions(n.RelayURL()), func(context.Context, FirehoseEvent) error { return boom })
	c.waitStreaming(t, n)
	_, err := n.CreateAccounts(1)
	require.NoError(t, err)
	select {
	case err := <-c.done:
		assert.ErrorIs(t, err, boom)
		c.done <- err
	case <-time.After(waitFor):
		t.Fatal("Run should return the handler's error")
	}
}

func TestSubscribeReposURL(t *testing.T) {
	for _, tc := range []struct {
		relay  string
		cursor int64
		want   string
	}{
		{"http://127.0.0.1:2470", 0, "ws://127.0.0.1:2470/xrpc/com.atproto.sync.subscribeRepos"},
		{"https://relay.example/some/path?x=1", 42, "wss://relay.example/xrpc/com.atproto.sync.subscribeRepos?cursor=42"},
		{"http://127.0.0.1:1/", -1, "ws://127.0.0.1:1/xrpc/com.atproto.sync.subscribeRepos"},
	} {
		got, err := SubscribeReposURL(tc.relay, tc.cursor)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	for _, bad := range []string{"ftp://x", "127.0.0.1:80", "http://", "::"} {
		_, err := SubscribeReposURL(bad, 0)
		assert.Error(t, err, bad)
	}
}
