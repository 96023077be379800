package firehosesource

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

func TestLifecycle(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	lanes := startLanes(t, func(context.Context, *pipeline.Event) error { return nil })
	pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
		return newTestSource(t, testConfig(), globalConfig(n.RelayURL()), db, lanes.Submit)
	})
	t.Run("outbox only", func(t *testing.T) {
		g := globalConfig(n.RelayURL())
		g.Outbox.Only = true
		pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
			return newTestSource(t, testConfig(), g, db, lanes.Submit)
		})
	})
}

func TestSubmitsEveryEventAsLive(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		n := startNet(t)
		rec := newRecorder()
		lanes := startLanes(t, rec.handle)
		src := newTestSource(t, testConfig(), globalConfig(n.RelayURL()), db, lanes.Submit)
		require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
		waitStreaming(t, n, src)

		accts, err := n.CreateAccounts(3) // #identity, #account, #sync each
		require.NoError(t, err)
		writeRecords(t, accts, 12)
		last := n.LastSeq()
		require.Eventually(t, func() bool { return savedCursor(t, db, n.RelayURL()) == last }, waitFor, time.Millisecond)

		want := networkEvents(n, 0)
		got := rec.got()
		require.Equal(t, networkSeqs(n, 0), seqsOf(got))
		for i, ev := range got {
			assert.Equal(t, want[i].DID, ev.DID)
			assert.Equal(t, string(want[i].Kind), ev.Kind.String())
			assert.True(t, ev.Live)
			assert.False(t, ev.Received.IsZero())
			switch ev.Kind {
			case pipeline.KindCommit:
				assert.Equal(t, ev.Seq, ev.Commit.Seq)
			case pipeline.KindSync:
				assert.Equal(t, ev.Seq, ev.Sync.Seq)
			case pipeline.KindIdentity:
				assert.Equal(t, ev.Seq, ev.Identity.Seq)
			case pipeline.KindAccount:
				assert.Equal(t, ev.Seq, ev.Account.Seq)
			}
		}
		assert.Equal(t, last, src.LastSeq())
		assert.Equal(t, last, src.Cursor())
		shutdown(t, src)
	})
}

// TestCursorNeverPassesAnEventInFlight holds back one event in the lanes
// while every other DID moves on: the saved cursor must stop just below it
// until it is done, and the final save on Shutdown persists the last seq
// below which everything is done.
func TestCursorNeverPassesAnEventInFlight(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		n := startNet(t)
		accts, err := n.CreateAccounts(4)
		require.NoError(t, err)
		writeRecords(t, accts, 8)
		start := n.LastSeq()
		require.NoError(t, db.SaveFirehoseCursor(t.Context(), n.RelayURL(), start))

		rec := newRecorder()
		lanes := startLanes(t, rec.handle)
		cfg := testConfig()
		cfg.ShutdownDrain = 10 * time.Millisecond
		src := newTestSource(t, cfg, globalConfig(n.RelayURL()), db, lanes.Submit)

		held, err := accts[1].CreateRecord(testnet.CollectionPost, "", map[string]any{"text": "held"})
		require.NoError(t, err)
		rec.hold(held.Seq)
		writeRecords(t, []*testnet.Account{accts[0], accts[2], accts[3]}, 30)
		last := n.LastSeq()

		require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
		require.Eventually(t, func() bool { return rec.saw(last) }, waitFor, time.Millisecond, "other DIDs move on")
		require.Eventually(t, func() bool { return savedCursor(t, db, n.RelayURL()) == held.Seq-1 }, waitFor, time.Millisecond)
		require.Never(t, func() bool { return savedCursor(t, db, n.RelayURL()) >= held.Seq }, 100*time.Millisecond, 5*time.Millisecond,
			"the cursor must not pass the held event")

		shutdown(t, src) // drain times out: the final save keeps the cursor below the held event
		assert.Equal(t, held.Seq-1, savedCursor(t, db, n.RelayURL()))
		rec.release(held.Seq)
		assert.Equal(t, networkSeqs(n, start), seqsOf(rec.got()), "every event after the saved cursor, once")
	})
}

func TestFinalSaveOnShutdown(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		n := startNet(t)
		rec := newRecorder()
		lanes := startLanes(t, rec.handle)
		g := globalConfig(n.RelayURL())
		g.Relay.CursorSaveInterval = time.Hour // only the final save writes
		src := newTestSource(t, testConfig(), g, db, lanes.Submit)
		require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
		waitStreaming(t, n, src)

		accts, err := n.CreateAccounts(2)
		require.NoError(t, err)
		writeRecords(t, accts, 10)
		last := n.LastSeq()
		require.Eventually(t, func() bool { return src.LastSeq() == last }, waitFor, time.Millisecond)
		assert.Zero(t, savedCursor(t, db, n.RelayURL()))

		shutdown(t, src) // drains the submitted events, then saves
		assert.Equal(t, last, savedCursor(t, db, n.RelayURL()))
	})
}

func TestResumesFromSavedCursorAndAfterDrops(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	writeRecords(t, accts, 6)
	const saved = 7
	require.NoError(t, db.SaveFirehoseCursor(t.Context(), n.RelayURL(), saved))

	rec := newRecorder()
	lanes := startLanes(t, rec.handle)
	src := newTestSource(t, testConfig(), globalConfig(n.RelayURL()), db, lanes.Submit)
	require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
	for range 3 {
		require.Eventually(t, func() bool { return src.LastSeq() == n.LastSeq() }, waitFor, time.Millisecond)
		require.Eventually(t, func() bool { return n.Subscribers() == 1 }, waitFor, time.Millisecond)
		require.Equal(t, 1, n.Faults().DropConnections(3))
		writeRecords(t, accts, 8)
	}
	require.Eventually(t, func() bool { return savedCursor(t, db, n.RelayURL()) == n.LastSeq() }, waitFor, time.Millisecond)
	assert.Equal(t, networkSeqs(n, saved), seqsOf(rec.got()), "replays exactly what followed the cursor, no gaps, no duplicates")
	assert.GreaterOrEqual(t, src.Stats().Connects, uint64(4))
	shutdown(t, src)
}

func TestNoReplayIgnoresSavedCursor(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	writeRecords(t, accts, 6)
	require.NoError(t, db.SaveFirehoseCursor(t.Context(), n.RelayURL(), 3))
	head := n.LastSeq()

	rec := newRecorder()
	lanes := startLanes(t, rec.handle)
	g := globalConfig(n.RelayURL())
	g.Relay.NoReplay = true
	src := newTestSource(t, testConfig(), g, db, lanes.Submit)
	require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
	waitStreaming(t, n, src)
	writeRecords(t, accts, 4)
	require.Eventually(t, func() bool { return savedCursor(t, db, n.RelayURL()) == n.LastSeq() }, waitFor, time.Millisecond)
	assert.Equal(t, networkSeqs(n, head), seqsOf(rec.got()), "live events only")
	shutdown(t, src)
}

func TestOutboxOnlyDoesNothing(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	g := globalConfig(n.RelayURL())
	g.Outbox.Only = true
	submit := func(context.Context, *pipeline.Event) error {
		t.Error("outbox-only mode submitted an event")
		return nil
	}
	src := newTestSource(t, testConfig(), g, db, submit)
	require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
	_, err := n.CreateAccounts(1)
	require.NoError(t, err)
	require.Never(t, func() bool { return n.Subscribers() > 0 }, 100*time.Millisecond, 5*time.Millisecond)
	shutdown(t, src)
	assert.Zero(t, savedCursor(t, db, n.RelayURL()))
}

func TestStopsWhileSubmitBlocks(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	blocked := make(chan struct{}, 1)
	submit := func(ctx context.Context, ev *pipeline.Event) error { // the lanes are full
		select {
		case blocked <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	src := newTestSource(t, testConfig(), globalConfig(n.RelayURL()), db, submit)
	require.NoError(t, src.Start(t.Context(), pipelinetest.NopHost{}))
	waitStreaming(t, n, src)
	_, err := n.CreateAccounts(1)
	require.NoError(t, err)
	<-blocked
	start := time.Now()
	shutdown(t, src)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Zero(t, savedCursor(t, db, n.RelayURL()), "nothing was submitted")
}
