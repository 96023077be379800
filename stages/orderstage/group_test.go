package orderstage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

// gate is a release hook that holds the committer inside its first call until opened.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) release([]pipeline.Delivery) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.open
	}
}

// heldStage starts a stage whose committer is held inside the release of its first
// transaction, with n more events of distinct DIDs queued behind it. It returns the stage and
// the channel receiving the n+1 Process results.
func heldStage(t *testing.T, db *store.DB, n int) (*Stage, *gate, chan error) {
	dids := make([]string, n+1)
	for i := range dids {
		dids[i] = fmt.Sprintf("did:plc:held%04d", i)
	}
	_, err := db.AddRepos(t.Context(), dids)
	require.NoError(t, err)
	g := newGate()
	s := New(Config{}, db, nil, WithRelease(g.release))
	require.NoError(t, s.Start(t.Context(), pipelinetest.NopHost{}))
	results := make(chan error, n+1)
	submit := func(did string) {
		ev := &pipeline.Event{Kind: pipeline.KindIdentityChange, DID: syntax.DID(did),
			Change: &pipeline.IdentityChange{Handle: "a.test", IsActive: true, Status: "active"}}
		results <- s.Process(context.Background(), ev, nil)
	}
	go submit(dids[0])
	<-g.entered
	for _, did := range dids[1:] {
		go submit(did)
	}
	require.Eventually(t, func() bool { return len(s.queue) == n }, 10*time.Second, time.Millisecond,
		"every lane's event is queued behind the held transaction")
	return s, g, results
}

// TestGroupCommitBatchesConcurrentLanes: events of many lanes queued while a transaction runs
// are committed together in the next one.
func TestGroupCommitBatchesConcurrentLanes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		const lanes = 50
		s, g, results := heldStage(t, db, lanes)
		close(g.open)
		for range lanes + 1 {
			require.NoError(t, <-results)
		}
		st := s.Stats()
		require.EqualValues(t, lanes+1, st.Events)
		require.EqualValues(t, 2, st.Transactions, "the held event, then all the others at once")
		require.NoError(t, s.Shutdown(t.Context()))
	})
}

// TestBatchBounds: the committer splits what is queued at max_batch_events and max_batch_rows.
func TestBatchBounds(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s, g, results := heldStage(t, db, 20)
	s.cfg.MaxBatchEvents = 8 // read by the committer only once it is released
	s.cfg.MaxBatchRows = 6   // an identity change is 2 rows: 3 events per transaction
	close(g.open)
	for range 21 {
		require.NoError(t, <-results)
	}
	require.EqualValues(t, 1+7, s.Stats().Transactions, "1 held + ceil(20/3)")
	require.NoError(t, s.Shutdown(t.Context()))
}

// TestShutdownFlushes: what is queued when Shutdown starts is committed before it returns.
func TestShutdownFlushes(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s, g, results := heldStage(t, db, 30)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(t.Context()) }()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.state == stateStopped
	}, 10*time.Second, time.Millisecond)
	close(g.open)
	require.NoError(t, <-stopped)
	for range 31 {
		require.NoError(t, <-results)
	}
	n, err := db.CountOutbox(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 31, n)
}

// TestShutdownDeadline: when Shutdown's context ends first, the queued events fail instead of
// committing, and Shutdown still waits for the committer.
func TestShutdownDeadline(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s, g, results := heldStage(t, db, 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(ctx) }()
	<-s.abort
	close(g.open)
	require.ErrorIs(t, <-stopped, context.Canceled)
	var ok, failed int
	for range 11 {
		if <-results == nil {
			ok++
		} else {
			failed++
		}
	}
	require.Equal(t, 1, ok, "only the held transaction had committed")
	require.Equal(t, 10, failed)
	require.NoError(t, s.Shutdown(t.Context()), "a second Shutdown returns at once")
}
