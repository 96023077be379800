package webhooksink

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

// TestMaxConcurrency: a slow receiver given many events by two concurrent
// Deliver calls never sees more than max_concurrency requests at once, and
// does see that many.
func TestMaxConcurrency(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := testConfig()
	cfg.MaxConcurrency = 3
	s := sinkFor(t, rc, cfg)
	batch := events(40)
	first := deliverAsync(t.Context(), s, batch[:20])
	second := deliverAsync(t.Context(), s, batch[20:])

	eventually(t, func() bool { return rc.inflight.Load() == 3 }, "the receiver gets max_concurrency requests")
	close(release)
	require.NoError(t, waitResult(t, first))
	require.NoError(t, waitResult(t, second))
	assert.Equal(t, int64(3), rc.maxInflight.Load())
	assert.Equal(t, 40, rc.count())
	assert.Equal(t, uint64(40), s.Stats().Acked)
}

// TestRetriesDoNotHoldConcurrencySlots: an event waiting for its next
// attempt does not keep others from being sent.
func TestRetriesDoNotHoldConcurrencySlots(t *testing.T) {
	first := events(1)[0]
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if body := bodyOf(r); body == string(first.JSON) {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	cfg := testConfig()
	cfg.MaxConcurrency, cfg.RetryMin, cfg.RetryMax = 1, time.Hour, time.Hour
	s := sinkFor(t, rc, cfg)
	ctx, cancel := contextWithCancel(t)
	stuck := deliverAsync(ctx, s, []pipeline.Delivery{first})
	eventually(t, func() bool { return s.Stats().RequestsNon2xx == 1 }, "first attempt failed")
	require.NoError(t, s.Deliver(t.Context(), events(3)[1:]), "the slot is free while the failed event waits")
	cancel()
	requireAllFailed(t, waitResult(t, stuck), 1, errCanceled)
}

// TestCancelUnblocksPromptly: cancelling Deliver's context ends both a wait
// between attempts and a request in flight, and leaves the events unacked.
func TestCancelUnblocksPromptly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
	}{
		{"waiting to retry", statusSequence(http.StatusInternalServerError, http.StatusInternalServerError)},
		{"request in flight", hang},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.respond)
			cfg := testConfig()
			cfg.RetryMin, cfg.RetryMax, cfg.Timeout = time.Hour, time.Hour, time.Hour
			s := sinkFor(t, rc, cfg)
			ctx, cancel := contextWithCancel(t)
			done := deliverAsync(ctx, s, events(2))
			eventually(t, func() bool { return rc.count() == 2 }, "both events sent once")
			cancel()
			err := waitResult(t, done)
			requireAllFailed(t, err, 2, errCanceled)
			st := s.Stats()
			assert.Zero(t, st.Acked)
			assert.Zero(t, st.RequestsError, "requests cut short by cancellation are not errors")
		})
	}
}

// TestShutdownUnblocksDeliver: Shutdown cancels requests in flight and
// waits between attempts, the Deliver calls return pipeline.ErrClosed for
// their events, and Shutdown returns once they have.
func TestShutdownUnblocksDeliver(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		hang(n, w, r)
	})
	cfg := testConfig()
	cfg.RetryMin, cfg.RetryMax, cfg.Timeout = time.Hour, time.Hour, time.Hour
	s := sinkFor(t, rc, cfg)
	batch := events(2)
	waiting := deliverAsync(t.Context(), s, batch[:1])
	eventually(t, func() bool { return s.Stats().RequestsNon2xx == 1 }, "first event waits to retry")
	inFlight := deliverAsync(t.Context(), s, batch[1:])
	eventually(t, func() bool { return rc.inflight.Load() == 1 }, "second event in flight")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	requireAllFailed(t, waitResult(t, waiting), 1, pipeline.ErrClosed)
	requireAllFailed(t, waitResult(t, inFlight), 1, pipeline.ErrClosed)
	require.NoError(t, s.Shutdown(ctx), "idempotent")
}

// TestPartialAcks: when Deliver stops early, events that were acked are
// reported as such and only the others as failed.
func TestPartialAcks(t *testing.T) {
	batch := events(3)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if bodyOf(r) == string(batch[1].JSON) {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	cfg := testConfig()
	cfg.RetryMin, cfg.RetryMax = time.Hour, time.Hour
	s := sinkFor(t, rc, cfg)
	ctx, cancel := contextWithCancel(t)
	done := deliverAsync(ctx, s, batch)
	eventually(t, func() bool { return s.Stats().Acked == 2 && s.Stats().RequestsNon2xx == 1 }, "two acked, one failing")
	cancel()
	var be *pipeline.BatchError
	require.ErrorAs(t, waitResult(t, done), &be)
	require.Len(t, be.Errs, 3)
	assert.NoError(t, be.Errs[0])
	assert.ErrorIs(t, be.Errs[1], errCanceled)
	assert.ErrorContains(t, be.Errs[1], "HTTP 500", "the last failure is kept for context")
	assert.NoError(t, be.Errs[2])
}

// requireAllFailed checks that err is a *pipeline.BatchError of n events,
// each failed with want.
func requireAllFailed(t *testing.T, err error, n int, want error) {
	t.Helper()
	var be *pipeline.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errs, n)
	for i, e := range be.Errs {
		require.ErrorIs(t, e, want, "event %d", i)
	}
}
