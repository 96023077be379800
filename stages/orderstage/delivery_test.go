package orderstage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/orderstage"
)

// Scenario tests of the delivery rules in doc.go, one (at least) per rule.

// TestHistoricalInFlightTogether (rule 1): historical events of a DID are all released at once.
func TestHistoricalInFlightTogether(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	ids := h.commit(alice, false, 3)
	ids = append(ids, h.one(alice, false), h.one(alice, false))
	cs := h.expect(ids...)
	h.state(5, 0)
	ackAll(cs...)
	waitOutbox(t, h.db)
}

// TestLiveBarrierExample (rule 2): the reference example H1,H2,L1,H3,H4,L2,H5 goes out as
// {H1,H2} → L1 → {H3,H4} → L2 → H5, each step only once the previous one is acked.
func TestLiveBarrierExample(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, testConfig(), 1)
		h1, h2 := h.one(alice, false), h.one(alice, false)
		l1 := h.one(alice, true)
		h3, h4 := h.one(alice, false), h.one(alice, false)
		l2 := h.one(alice, true)
		h5 := h.one(alice, false)

		steps := []struct {
			ids              []uint64
			inFlight, queued int
		}{
			{[]uint64{h1, h2}, 2, 5},
			{[]uint64{l1}, 1, 4},
			{[]uint64{h3, h4}, 2, 2},
			{[]uint64{l2}, 1, 1},
			{[]uint64{h5}, 1, 0},
		}
		for _, step := range steps {
			cs := h.expect(step.ids...)
			h.state(step.inFlight, step.queued) // nothing else was released
			ackAll(cs...)
		}
		waitOutbox(t, db)
		require.Equal(t, 0, h.s.TrackedDIDs())
		h.noCall()
	})
}

// TestConsecutiveLive (rule 2): L1, L2, L3 are released one per ack.
func TestConsecutiveLive(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	ls := []uint64{h.one(alice, true), h.one(alice, true), h.one(alice, true)}
	for i, l := range ls {
		cs := h.expect(l)
		h.state(1, len(ls)-1-i)
		ackAll(cs...)
	}
	waitOutbox(t, h.db)
}

// TestLiveBlocksLaterHistorical (rule 3): a live event released at once (nothing in flight)
// holds back a historical event committed after it, until it is acked; and a live event
// waiting at the head holds back the historical events behind it.
func TestLiveBlocksLaterHistorical(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	l1 := h.one(alice, true)
	cs := h.expect(l1)
	h2 := h.one(alice, false)
	h.state(1, 1)
	ackAll(cs...)
	cs = h.expect(h2)

	l3 := h.one(alice, true) // waits for h2
	h4 := h.one(alice, false)
	h.state(1, 2) // h4 is historical, but may not overtake l3
	ackAll(cs...)
	cs = h.expect(l3)
	h.state(1, 1)
	ackAll(cs...)
	ackAll(h.expect(h4)...)
	waitOutbox(t, h.db)
}

// TestDIDsIndependent (rule 4): a DID held back by its live event does not hold back another
// DID, and a DID's state is evicted as soon as it is idle.
func TestDIDsIndependent(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	aliceLive := h.one(alice, true)
	aliceCalls := h.expect(aliceLive)
	aliceNext := h.one(alice, false)

	bob1 := h.one(bob, false)
	bobLive := h.one(bob, true)
	ackAll(h.expect(bob1)...)
	bobCalls := h.expect(bobLive) // while alice's live event is still unacked
	h.state(2, 1)
	require.Equal(t, 2, h.s.TrackedDIDs())
	ackAll(bobCalls...)
	require.Eventually(t, func() bool { return h.s.TrackedDIDs() == 1 }, waitFor, time.Millisecond,
		"bob is idle: his state is evicted")

	ackAll(aliceCalls...)
	ackAll(h.expect(aliceNext)...)
	waitOutbox(t, h.db)
	require.Equal(t, 0, h.s.TrackedDIDs())
}

// TestTwoSinksOneFailing (rules 6, 7): while one sink fails, the other receives everything
// releasable, once; rows leave the outbox only when both acked; the failing sink gets the
// events again when it recovers.
func TestTwoSinksOneFailing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		good := &pipelinetest.RecordingSink{}
		calls := make(chan *call, 64)
		bad := newHandSink("bad", calls)
		rec := &recorder{}
		s := startWithHost(t, db, testConfig(), hostOf(good, bad), orderstage.WithRelease(rec.release))
		addRepos(t, db, alice, bob, "did:plc:carol")
		for _, did := range []string{alice, bob, "did:plc:carol"} {
			require.NoError(t, process(t, s, records(did, false, false, "rev", delOp("a"), delOp("b"), delOp("c"))))
		}
		all := idsOf(rec.Events())
		require.Len(t, all, 9)

		require.Eventually(t, func() bool { return len(good.Events()) == 9 }, waitFor, time.Millisecond)
		failures := 0
		for failures < 5 { // the bad sink fails every call for a while
			nextCall(t, calls).reply <- pipeline.ErrNotConnected
			failures++
		}
		require.ElementsMatch(t, all, outboxIDs(t, db), "nothing leaves the outbox before both sinks acked")
		require.ElementsMatch(t, all, idsOf(good.Events()), "the good sink got every event exactly once")

		var redelivered []uint64 // the bad sink recovers
		for len(redelivered) < 9 {
			c := nextCall(t, calls)
			redelivered = append(redelivered, c.ids()...)
			c.reply <- nil
		}
		require.ElementsMatch(t, all, redelivered)
		waitOutbox(t, db)

		st := s.Stats().Delivery
		require.EqualValues(t, 9, st.Acked)
		require.EqualValues(t, 9, st.Sinks[0].Delivered, "the good sink is never retried")
		require.Zero(t, st.Sinks[0].Failed)
		require.GreaterOrEqual(t, st.Sinks[1].Failed, uint64(5))
		require.Contains(t, st.Sinks[1].LastError, "not connected")
		require.Positive(t, st.Redelivered)
	})
}

// TestBatchErrorRetriesOnlyFailed (rule 6): after a BatchError only the failed events are
// delivered again.
func TestBatchErrorRetriesOnlyFailed(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	ids := h.commit(alice, false, 4)
	c := h.next()
	require.Equal(t, ids, c.ids(), "released together, delivered in one batch")
	boom := errors.New("boom")
	c.reply <- &pipeline.BatchError{Errs: []error{nil, boom, nil, boom}}
	retry := h.next()
	require.Equal(t, []uint64{ids[1], ids[3]}, retry.ids())
	ackAll(retry)
	waitOutbox(t, h.db)
	st := h.s.Stats().Delivery
	require.EqualValues(t, 4, st.Acked)
	require.EqualValues(t, 2, st.Redelivered)
	require.EqualValues(t, 2, st.Sinks[0].Failed)
}

// TestPermanentAndRetryAfter (rule 6): a Permanent error is counted and retried after
// retry_max; a RetryAfter delay is honoured even beyond retry_max.
func TestPermanentAndRetryAfter(t *testing.T) {
	cfg := testConfig()
	cfg.RetryMax = 50 * time.Millisecond
	h := newHarness(t, storetest.OpenSQLite(t), cfg, 1)
	id := h.one(alice, false)

	c := h.next()
	failedAt := time.Now()
	c.reply <- pipeline.Permanent(errors.New("rejected"))
	c = h.next()
	require.Equal(t, []uint64{id}, c.ids(), "a permanent failure is retried")
	require.GreaterOrEqual(t, time.Since(failedAt), cfg.RetryMax, "after retry_max")
	require.EqualValues(t, 1, h.s.Stats().Delivery.Sinks[0].Permanent)

	failedAt = time.Now()
	c.reply <- pipeline.RetryAfter(errors.New("slow down"), 120*time.Millisecond)
	c = h.next()
	require.GreaterOrEqual(t, time.Since(failedAt), 120*time.Millisecond, "the sink's delay is honoured")
	ackAll(c)
	waitOutbox(t, h.db)
}

// TestNoSinksKeepsOutbox (rule 11): without sinks the events stay in the outbox.
func TestNoSinksKeepsOutbox(t *testing.T) {
	db := storetest.OpenSQLite(t)
	addRepos(t, db, alice)
	s := startStage(t, db, testConfig())
	require.NoError(t, process(t, s, records(alice, true, false, "rev", delOp("a"), delOp("b"))))
	require.Equal(t, []uint64{1, 2}, outboxIDs(t, db))
	require.False(t, s.Stats().Delivery.Enabled)
	stopStage(t, s)
	require.Equal(t, []uint64{1, 2}, outboxIDs(t, db))
}

// TestShutdownKeepsUnacked (rule 10): Shutdown lets the Deliver call in progress finish, does
// not start another, deletes what was acked and keeps the rest in the outbox.
func TestShutdownKeepsUnacked(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.DeleteInterval = time.Hour // only the shutdown flush deletes
		cfg.SinkBatch = 1
		cfg.MaxInFlightBatches = 1
		h := newHarness(t, db, cfg, 1)
		ids := h.commit(alice, false, 3)
		c := h.next() // one call at a time: the others wait in the dispatcher
		require.Equal(t, []uint64{ids[0]}, c.ids())

		stopped := make(chan error, 1)
		go func() { stopped <- h.s.Shutdown(context.Background()) }()
		require.Eventually(t, func() bool { return !h.s.Releasing() }, waitFor, time.Millisecond,
			"Shutdown stopped releasing and now waits for the call in progress")
		ackAll(c)
		require.NoError(t, <-stopped)
		h.noCall()
		require.Equal(t, ids[1:], outboxIDs(t, db), "the acked event is deleted, the others stay")
	})
}

// TestShutdownDeadlineCancelsDeliveries (rule 10): when Shutdown's deadline passes, the
// Deliver calls in progress are cancelled and the events stay in the outbox.
func TestShutdownDeadlineCancelsDeliveries(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	ids := h.commit(alice, false, 2)
	h.expect(ids...) // never answered
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.s.Shutdown(ctx), context.DeadlineExceeded)
	require.Equal(t, ids, outboxIDs(t, h.db))
	require.NoError(t, h.s.Shutdown(t.Context()), "a second Shutdown returns at once")
}

// TestShutdownGraceCancelsStuckDeliveries (rule 10): a Deliver call nobody answers is
// cancelled after the grace, well before a generous deadline; its events stay in the outbox.
func TestShutdownGraceCancelsStuckDeliveries(t *testing.T) {
	h := newHarness(t, storetest.OpenSQLite(t), testConfig(), 1)
	ids := h.commit(alice, false, 2)
	h.expect(ids...) // never answered: the consumer is gone
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, h.s.Shutdown(ctx), "the grace is not the deadline")
	require.NoError(t, ctx.Err())
	require.Equal(t, ids, outboxIDs(t, h.db))
}
