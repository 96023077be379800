package orderstage_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/orderstage"
)

// Outbox-only mode: a writer process commits without sinks, a follower process (each with its
// own connection pool on the same database) delivers. Postgres when TAP_TEST_POSTGRES_URL is
// set, SQLite (one file, two pools) always.

// startFollower starts an outbox-only stage on its own connection to url.
func startFollower(t *testing.T, url string, sinks ...pipeline.Sink) *orderstage.Stage {
	return startWithHost(t, storetest.Open(t, url), testConfig(), hostOf(sinks...), orderstage.WithOutboxOnly(true))
}

// countIDs returns how often each id was delivered.
func countIDs(ds []pipeline.Delivery) map[uint64]int {
	n := map[uint64]int{}
	for _, d := range ds {
		n[d.ID]++
	}
	return n
}

// TestOutboxOnlyFollows: the follower delivers what another process commits, in order per DID,
// once each, and deletes the rows.
func TestOutboxOnlyFollows(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, url string) {
		db := storetest.Open(t, url)
		addRepos(t, db, alice, bob)
		writer := startStage(t, db, testConfig())
		sink := &pipelinetest.RecordingSink{}
		follower := startFollower(t, url, sink)

		for i := range 5 {
			require.NoError(t, process(t, writer, records(alice, i%2 == 0, false, "rev", delOp(fmt.Sprint("a", i)))))
			require.NoError(t, process(t, writer, records(bob, false, false, "rev", delOp(fmt.Sprint("b", i)), delOp(fmt.Sprint("c", i)))))
		}
		require.Eventually(t, func() bool { return len(sink.Events()) == 15 }, waitFor, time.Millisecond)
		waitOutbox(t, db)
		var aliceIDs []uint64
		for _, d := range sink.Events() {
			if d.DID == alice {
				aliceIDs = append(aliceIDs, d.ID)
			}
		}
		require.True(t, slices.IsSorted(aliceIDs), "alice's events in commit order: %v", aliceIDs)
		for id, n := range countIDs(sink.Events()) {
			require.Equal(t, 1, n, "event %d delivered once", id)
		}
		require.EqualValues(t, 15, follower.Stats().Delivery.Loaded)
		require.Zero(t, follower.Stats().Outbox, "the follower commits nothing itself")
	})
}

// TestOutboxOnlyOutOfOrderIDs: two writers reserve id blocks, so a lower id becomes visible
// after a higher one; the follower still delivers it.
func TestOutboxOnlyOutOfOrderIDs(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, url string) {
		db1, db2 := storetest.Open(t, url), storetest.Open(t, url)
		addRepos(t, db1, alice, bob)
		w1 := startStage(t, db1, testConfig())
		w2 := startStage(t, db2, testConfig())
		sink := &pipelinetest.RecordingSink{}
		startFollower(t, url, sink)

		require.NoError(t, process(t, w1, records(alice, true, false, "rev", delOp("a1"))))
		require.NoError(t, process(t, w2, records(bob, true, false, "rev", delOp("b1"))))
		require.Eventually(t, func() bool { return len(sink.Events()) == 2 }, waitFor, time.Millisecond)
		first := idsOf(sink.Events())
		slices.Sort(first)
		require.Greater(t, first[1], first[0]+1, "the second writer took a block above the first one's")

		require.NoError(t, process(t, w1, records(alice, true, false, "rev", delOp("a2"))))
		require.Eventually(t, func() bool { return len(sink.Events()) == 3 }, waitFor, time.Millisecond)
		late := sink.Events()[2]
		require.Equal(t, alice, late.DID)
		require.Equal(t, first[0]+1, late.ID, "a lower id than one already delivered")
		waitOutbox(t, db1)
		for id, n := range countIDs(sink.Events()) {
			require.Equal(t, 1, n, "event %d delivered once", id)
		}
	})
}

// TestOutboxOnlyNoDuplicateWhileInFlight: a row the follower has handed to a sink is not
// delivered again by later polls while it is in flight, nor after it was acked and deleted.
func TestOutboxOnlyNoDuplicateWhileInFlight(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, url string) {
		db := storetest.Open(t, url)
		addRepos(t, db, alice)
		writer := startStage(t, db, testConfig())
		calls := make(chan *call, 16)
		follower := startFollower(t, url, newHandSink("hand", calls))
		require.NoError(t, process(t, writer, records(alice, false, false, "rev", delOp("a"), delOp("b"))))

		var got []uint64
		var cs []*call
		for len(got) < 2 {
			select {
			case c := <-calls:
				got = append(got, c.ids()...)
				cs = append(cs, c)
			case <-time.After(waitFor):
				t.Fatalf("the follower delivered only %v", got)
			}
		}
		waitPolls(t, follower, 5)
		noCall(t, calls)
		ackAll(cs...)
		waitOutbox(t, db)
		waitPolls(t, follower, 5)
		noCall(t, calls)
		require.ElementsMatch(t, []uint64{1, 2}, got)
	})
}

// waitPolls waits until the follower has polled n more times.
func waitPolls(t *testing.T, s *orderstage.Stage, n uint64) {
	t.Helper()
	target := s.FollowPolls() + n
	require.Eventually(t, func() bool { return s.FollowPolls() >= target }, waitFor, time.Millisecond)
}

func noCall(t *testing.T, calls chan *call) {
	t.Helper()
	select {
	case c := <-calls:
		t.Fatalf("unexpected Deliver call with %v", c.ids())
	default:
	}
}
