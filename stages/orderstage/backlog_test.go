package orderstage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

// TestCapacityBackPressure (rule 8): with capacity N and a sink that does not ack, the commit
// of event N+1 waits (nothing of it is written) until an ack makes room.
func TestCapacityBackPressure(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.Capacity = 3
		h := newHarness(t, db, cfg, 1)
		first := []uint64{h.one(alice, false), h.one(bob, false), h.one("did:plc:carol", false)}
		cs := h.expect(first...)
		addRepos(t, db, "did:plc:dave")

		done := make(chan error, 1)
		go func() {
			done <- process(t, h.s, records("did:plc:dave", false, false, "rev", delOp("x")))
		}()
		require.Eventually(t, func() bool { return h.s.GateWaiters() == 1 }, waitFor, time.Millisecond,
			"the fourth commit waits for room")
		require.Equal(t, first, outboxIDs(t, db), "and has written nothing")
		select {
		case err := <-done:
			t.Fatalf("the fourth commit returned (%v) at capacity", err)
		default:
		}
		ackAll(cs[0])
		require.NoError(t, <-done)
		require.Greater(t, slices.Max(outboxIDs(t, db)), slices.Max(first), "it committed once there was room")
		ackAll(cs[1:]...)
		ackAll(h.next())
		waitOutbox(t, db)
	})
}

// TestLargeBatchBelowCapacity (rule 8): a batch larger than the capacity is admitted when the
// engine is below capacity, and the DID's next batch waits for the first one's acks instead of
// deadlocking against them.
func TestLargeBatchBelowCapacity(t *testing.T) {
	cfg := testConfig()
	cfg.Capacity = 3
	h := newHarness(t, storetest.OpenSQLite(t), cfg, 1)
	snap := h.commit(alice, false, 10)
	cs := h.expect(snap...)
	h.state(10, 0)

	done := make(chan error, 1)
	go func() {
		done <- process(t, h.s, records(alice, false, false, "rev", delOp("y1"), delOp("y2"), delOp("y3"), delOp("y4")))
	}()
	require.Eventually(t, func() bool { return h.s.GateWaiters() == 1 }, waitFor, time.Millisecond)
	ackAll(cs...)
	require.NoError(t, <-done)
	next := h.next()
	require.Len(t, next.batch, 4)
	ackAll(next)
	waitOutbox(t, h.db)
}

// TestRestartRedelivers (rules 7, 9): after a restart, exactly the events that were not acked
// are delivered again, in order per DID; the acked ones were deleted.
func TestRestartRedelivers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		cfg := testConfig()
		cfg.RetryMin, cfg.RetryMax = time.Hour, time.Hour // failed events wait for the restart
		h := newHarness(t, db, cfg, 1)
		h1, h2, h3 := h.one(alice, false), h.one(alice, false), h.one(bob, false)
		l4 := h.one(alice, true) // waits for h1 and h2
		for _, c := range h.expect(h1, h2, h3) {
			errs := make([]error, len(c.batch))
			for i, d := range c.batch {
				if d.ID == h2 {
					errs[i] = errors.New("client went away")
				}
			}
			c.reply <- &pipeline.BatchError{Errs: errs}
		}
		stopStage(t, h.s)
		require.Equal(t, []uint64{h2, l4}, outboxIDs(t, db), "acked rows are deleted, the others stay")

		sink := &pipelinetest.RecordingSink{}
		s2 := startWithHost(t, db, testConfig(), hostOf(sink))
		require.Eventually(t, func() bool { return len(sink.Events()) == 2 }, waitFor, time.Millisecond)
		require.Equal(t, []uint64{h2, l4}, idsOf(sink.Events()), "l4 after h2")
		waitOutbox(t, db)
		require.EqualValues(t, 2, s2.Stats().Delivery.Loaded)
	})
}

// TestBacklogBeforeNewCommits (rule 9): a backlog larger than the capacity is loaded in pages
// as acks make room, and a new commit waits until the whole backlog is loaded, so that it is
// released after its DID's old events even when they are in the last page.
func TestBacklogBeforeNewCommits(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice, bob)
		writer := startStage(t, db, testConfig()) // no sinks: its events stay in the outbox
		require.NoError(t, process(t, writer, records(bob, false, false, "rev", delOp("b1"), delOp("b2"), delOp("b3"), delOp("b4"))))
		require.NoError(t, process(t, writer, records(alice, true, false, "rev", delOp("a1"))))
		require.NoError(t, process(t, writer, records(alice, true, false, "rev", delOp("a2"))))
		stopStage(t, writer)
		backlog := outboxIDs(t, db)
		require.Len(t, backlog, 6)
		aliceOld := backlog[4:]

		cfg := testConfig()
		cfg.Capacity = 2 // pages of 2: alice's old events are in the third page
		h := newHarness(t, db, cfg, 1)
		h.repos[alice] = true
		done := make(chan []uint64, 1)
		go func() { done <- h.commit(alice, true, 1) }()
		require.Eventually(t, func() bool { return h.s.GateWaiters() == 2 }, waitFor, time.Millisecond,
			"the loader waits for room after its first page, the commit for the loader")

		var delivered, newID []uint64
		for newID == nil || len(delivered) < 7 {
			select {
			case newID = <-done:
				require.EqualValues(t, 6, h.s.Stats().Delivery.Loaded, "the commit waited for the whole backlog")
			case c := <-h.calls:
				delivered = append(delivered, c.ids()...)
				ackAll(c)
			case <-time.After(waitFor):
				t.Fatalf("stuck after delivering %v", delivered)
			}
		}
		require.ElementsMatch(t, append(backlog, newID...), delivered)
		var aliceOrder []uint64
		for _, id := range delivered {
			if slices.Contains(aliceOld, id) || id == newID[0] {
				aliceOrder = append(aliceOrder, id)
			}
		}
		require.Equal(t, append(aliceOld, newID[0]), aliceOrder)
		require.Greater(t, newID[0], slices.Max(backlog))
		waitOutbox(t, db)
	})
}

// TestShutdownWhileWaitingForRoom: a commit waiting for room fails with ErrClosed when the
// stage shuts down, and writes nothing.
func TestShutdownWhileWaitingForRoom(t *testing.T) {
	cfg := testConfig()
	cfg.Capacity = 1
	h := newHarness(t, storetest.OpenSQLite(t), cfg, 1)
	first := h.one(alice, false)
	h.expect(first)
	done := make(chan error, 1)
	go func() { done <- process(t, h.s, records(alice, false, false, "rev", delOp("z"))) }()
	require.Eventually(t, func() bool { return h.s.GateWaiters() == 1 }, waitFor, time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_ = h.s.Shutdown(ctx) // the unanswered call runs into the deadline
	require.ErrorIs(t, <-done, pipeline.ErrClosed)
	require.Equal(t, []uint64{first}, outboxIDs(t, h.db))
}
