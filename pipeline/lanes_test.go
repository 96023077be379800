package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

func did(i int) syntax.DID { return syntax.DID(fmt.Sprintf("did:plc:lane%04d", i)) }

func shutdown(t *testing.T, l *pipeline.Lanes) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Shutdown(ctx))
}

// Per DID, events are handled in submission order and never two at once,
// while different DIDs run in parallel.
func TestLanesPerDIDOrderUnderConcurrency(t *testing.T) {
	const dids, perDID = 50, 200
	var mu sync.Mutex
	seen := make(map[syntax.DID][]int64)
	running := make(map[syntax.DID]bool)
	var maxParallel, parallel atomic.Int32
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 8, Capacity: 64}, nil, func(_ context.Context, ev *pipeline.Event) error {
		mu.Lock()
		if running[ev.DID] {
			mu.Unlock()
			return pipeline.Permanent(fmt.Errorf("two events of %s at once", ev.DID))
		}
		running[ev.DID] = true
		mu.Unlock()
		n := parallel.Add(1)
		for {
			m := maxParallel.Load()
			if n <= m || maxParallel.CompareAndSwap(m, n) {
				break
			}
		}
		if ev.Seq%7 == 0 {
			time.Sleep(50 * time.Microsecond) // let other DIDs overlap
		}
		parallel.Add(-1)
		mu.Lock()
		running[ev.DID] = false
		seen[ev.DID] = append(seen[ev.DID], ev.Seq)
		mu.Unlock()
		return nil
	})
	l.Start()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for p := range 4 { // several producers, each owning some DIDs
		wg.Go(func() {
			for i := range perDID {
				for d := p; d < dids; d += 4 {
					ev := &pipeline.Event{DID: did(d), Seq: int64(i), Done: func(err error) {
						if err != nil {
							failed.Add(1)
						}
					}}
					if err := l.Submit(t.Context(), ev); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	shutdown(t, l)
	require.Zero(t, failed.Load())
	require.Len(t, seen, dids)
	for d, seqs := range seen {
		require.Len(t, seqs, perDID, d)
		for i, s := range seqs {
			require.Equal(t, int64(i), s, "%s out of order", d)
		}
	}
	require.Greater(t, maxParallel.Load(), int32(1), "different DIDs should run in parallel")
	st := l.Stats()
	require.Equal(t, uint64(dids*perDID), st.Processed)
	require.Zero(t, st.Queued)
}

// Submit blocks once Capacity events are queued and resumes as they finish.
func TestLanesBackPressure(t *testing.T) {
	release := make(chan struct{})
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 1, Capacity: 3}, nil, func(ctx context.Context, ev *pipeline.Event) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	l.Start()
	for i := range 3 {
		require.NoError(t, l.Submit(t.Context(), &pipeline.Event{DID: did(i)}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := l.Submit(ctx, &pipeline.Event{DID: did(9)})
	require.ErrorIs(t, err, context.DeadlineExceeded, "a full lane must block the producer")
	require.Equal(t, 3, l.Stats().Queued)

	submitted := make(chan error, 1)
	go func() { submitted <- l.Submit(t.Context(), &pipeline.Event{DID: did(9)}) }()
	release <- struct{}{} // one event finishes, freeing one slot
	require.NoError(t, <-submitted)
	close(release)
	shutdown(t, l)
	require.Equal(t, uint64(4), l.Stats().Processed)
}

// Shutdown drains what is queued, then refuses new events.
func TestLanesShutdownDrains(t *testing.T) {
	var handled atomic.Int32
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 2, Capacity: 100}, nil, func(context.Context, *pipeline.Event) error {
		handled.Add(1)
		return nil
	})
	for i := range 100 { // queued before Start: run once started or at shutdown
		require.NoError(t, l.Submit(t.Context(), &pipeline.Event{DID: did(i % 10)}))
	}
	shutdown(t, l)
	require.Equal(t, int32(100), handled.Load())
	require.ErrorIs(t, l.Submit(t.Context(), &pipeline.Event{DID: did(1)}), pipeline.ErrClosed)
	shutdown(t, l) // idempotent
}

// A shutdown deadline cancels running handlers and fails what is left.
func TestLanesShutdownDeadline(t *testing.T) {
	started := make(chan struct{})
	var results sync.Map
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 1, Capacity: 10}, nil, func(ctx context.Context, ev *pipeline.Event) error {
		if ev.Seq == 0 {
			close(started)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	l.Start()
	for i := range 3 {
		ev := &pipeline.Event{DID: did(0), Seq: int64(i)}
		ev.Done = func(err error) { results.Store(ev.Seq, err) }
		require.NoError(t, l.Submit(t.Context(), ev))
	}
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, l.Shutdown(ctx), context.DeadlineExceeded)
	for i := range int64(3) {
		err, ok := results.Load(i)
		require.True(t, ok, "event %d not finished", i)
		require.ErrorIs(t, err.(error), context.Canceled)
	}
}

// Retryable errors are retried in place (keeping order); permanent ones
// are reported through Done and counted.
func TestLanesRetryAndPermanent(t *testing.T) {
	var attempts atomic.Int32
	var order []int64
	var mu sync.Mutex
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 4, Capacity: 10, Retry: pipeline.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}}, nil,
		func(_ context.Context, ev *pipeline.Event) error {
			switch {
			case ev.Seq == 1 && attempts.Add(1) < 3:
				return errors.New("transient")
			case ev.Seq == 2:
				return pipeline.Permanent(errors.New("bad input"))
			}
			mu.Lock()
			order = append(order, ev.Seq)
			mu.Unlock()
			return nil
		})
	l.Start()
	var permErr atomic.Value
	for i := range int64(4) {
		ev := &pipeline.Event{DID: did(0), Seq: i}
		if i == 2 {
			ev.Done = func(err error) { permErr.Store(err) }
		}
		require.NoError(t, l.Submit(t.Context(), ev))
	}
	shutdown(t, l)
	require.Equal(t, []int64{0, 1, 3}, order)
	require.Equal(t, int32(3), attempts.Load())
	require.True(t, pipeline.IsPermanent(permErr.Load().(error)))
	st := l.Stats()
	require.Equal(t, uint64(2), st.Retries)
	require.Equal(t, uint64(1), st.Failed)
	require.Equal(t, uint64(3), st.Processed)
}

func BenchmarkLanes(b *testing.B) {
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 8, Capacity: 4096}, nil, func(context.Context, *pipeline.Event) error { return nil })
	l.Start()
	dids := make([]syntax.DID, 1000)
	for i := range dids {
		dids[i] = did(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.Submit(context.Background(), &pipeline.Event{DID: dids[i%len(dids)]}); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}
