package atproto

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

func TestCursorTrackerOutOfOrderCompletion(t *testing.T) {
	tr := NewCursorTracker(100)
	assert.Equal(t, int64(100), tr.Committed())
	d101, d105, d107 := tr.Track(101), tr.Track(105), tr.Track(107)
	assert.Equal(t, 3, tr.InFlight())

	d107(nil)
	assert.Equal(t, int64(100), tr.Committed(), "107 is done but 101 and 105 are not")
	d101(nil)
	assert.Equal(t, int64(101), tr.Committed(), "never past 105, still in flight")
	d105(nil)
	assert.Equal(t, int64(107), tr.Committed())
	assert.Zero(t, tr.InFlight())
	assert.Equal(t, int64(107), tr.Last())
}

func TestCursorTrackerOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		done bool
	}{
		{"committed or filtered", nil, true},
		{"given up permanently", pipeline.Permanent(errors.New("bad signature")), true},
		{"permanent timeout of a fetch", pipeline.Permanent(fmt.Errorf("getRepo: %w", context.DeadlineExceeded)), true},
		{"cancelled by shutdown", context.Canceled, false},
		{"shutdown during a retry", errors.Join(errors.New("db busy"), context.Canceled), false},
		{"permanent but caused by shutdown", pipeline.Permanent(fmt.Errorf("fetch: %w", context.Canceled)), false},
		{"unclassified error", errors.New("what"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.done, IsDone(tc.err))
			tr := NewCursorTracker(0)
			tr.Track(1)(tc.err)
			want := int64(0)
			if tc.done {
				want = 1
			}
			assert.Equal(t, want, tr.Committed())
		})
	}
}

func TestCursorTrackerDoneIsIdempotentAndSkipsReplays(t *testing.T) {
	tr := NewCursorTracker(10)
	replay := tr.Track(10) // not above the start: not tracked
	d11 := tr.Track(11)
	stale := tr.Track(11) // a repeated seq: not tracked
	d12 := tr.Track(12)
	assert.Equal(t, uint64(2), tr.Skipped())
	replay(nil)
	stale(nil)
	assert.Equal(t, int64(10), tr.Committed(), "untracked events never move the cursor")
	d12(nil)
	d12(context.Canceled) // second call ignored
	d11(nil)
	assert.Equal(t, int64(12), tr.Committed())
}

func TestCursorTrackerDrained(t *testing.T) {
	tr := NewCursorTracker(0)
	select {
	case <-tr.Drained():
	default:
		t.Fatal("nothing in flight: Drained is closed")
	}
	d1, d2 := tr.Track(1), tr.Track(2)
	w := tr.Drained()
	d2(nil)
	select {
	case <-w:
		t.Fatal("1 is still in flight")
	default:
	}
	d1(context.Canceled) // an outcome, though not done
	select {
	case <-w:
	case <-time.After(waitFor):
		t.Fatal("Drained not closed")
	}
	assert.Zero(t, tr.InFlight())
	assert.Zero(t, tr.Committed(), "1 was cut short by shutdown: the cursor stays below it")
	tr.Track(3)(nil)
	assert.Zero(t, tr.Committed())
}

// TestCursorTrackerRandomCompletion is a property test: for random seq
// gaps, completion orders and outcomes, after every completion the cursor
// equals the highest seq below which every event is done.
func TestCursorTrackerRandomCompletion(t *testing.T) {
	for iter := range 300 {
		rng := rand.New(rand.NewPCG(uint64(iter), 7))
		start := rng.Int64N(1000)
		count := 1 + rng.IntN(300)
		seqs := make([]int64, count)
		dones := make([]func(error), count)
		tr := NewCursorTracker(start)
		seq := start
		for i := range count {
			seq += 1 + rng.Int64N(3)
			seqs[i] = seq
			dones[i] = tr.Track(seq)
		}
		done := make([]bool, count)
		for _, i := range rng.Perm(count) {
			var err error
			if rng.IntN(10) == 0 {
				err = pipeline.Permanent(errors.New("given up"))
			}
			cancelled := rng.IntN(50) == 0
			if cancelled {
				err = context.Canceled
			}
			dones[i](err)
			done[i] = !cancelled
			require.Equal(t, expectedCursor(start, seqs, done), tr.Committed(), "iteration %d", iter)
		}
	}
}

// expectedCursor is the naive definition the tracker must match.
func expectedCursor(start int64, seqs []int64, done []bool) int64 {
	c := start
	for i, s := range seqs {
		if !done[i] {
			break
		}
		c = s
	}
	return c
}

func BenchmarkCursorTracker(b *testing.B) {
	tr := NewCursorTracker(0)
	const window = 1024 // events in flight at once
	pending := make([]func(error), 0, window)
	for i := range b.N {
		pending = append(pending, tr.Track(int64(i+1)))
		if len(pending) == window {
			for j := len(pending) - 1; j >= 0; j-- { // worst order: newest first
				pending[j](nil)
			}
			pending = pending[:0]
		}
	}
}
