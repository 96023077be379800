package webhooksink

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
)

// TestDeadLetters: with dead_letter_after 3, events the receiver keeps
// rejecting are tried three times, stored with their JSON, attempts and
// last error, and acked — on every database backend.
func TestDeadLetters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no\nthanks", http.StatusUnprocessableEntity)
		})
		cfg := testConfig()
		cfg.URL, cfg.DeadLetterAfter = rc.URL, 3
		s := newTestSink(t, cfg, sinkOpts{deadLetters: db})
		batch := events(2)
		require.NoError(t, s.Deliver(t.Context(), batch), "dead-lettered events count as acked")
		assert.Equal(t, 6, rc.count())

		rows, err := db.ListDeadLetters(t.Context(), 0, 10)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		for i, row := range rows {
			assert.Equal(t, int64(batch[i].ID), row.ID)
			assert.Equal(t, batch[i].DID, row.DID)
			assert.Equal(t, string(batch[i].JSON), row.Data)
			assert.Equal(t, 3, row.Attempts)
			assert.Equal(t, "HTTP 422: no thanks", row.LastError)
			assert.False(t, row.CreatedAt.IsZero())
		}
		st := s.Stats()
		assert.Equal(t, uint64(2), st.DeadLettered)
		assert.Zero(t, st.Acked, "not acknowledged by the receiver")
	})
}

// TestDeadLetterBatch: with batching, every event of a rejected array is
// dead-lettered.
func TestDeadLetterBatch(t *testing.T) {
	rc := newReceiver(t, statusSequence(500, 500, 500, 500))
	cfg := testConfig()
	cfg.DeadLetterAfter, cfg.BatchSize = 2, 10
	dl := &fakeDeadLetters{}
	s := sinkWithDeadLetters(t, rc, cfg, dl)
	require.NoError(t, s.Deliver(t.Context(), events(3)))
	assert.Equal(t, 2, rc.count())
	assert.Len(t, dl.stored(), 3)
}

// TestDeadLetterWriteFailureKeepsRetrying: an event is never given up on
// unless its row was written; delivery goes on meanwhile.
func TestDeadLetterWriteFailureKeepsRetrying(t *testing.T) {
	t.Run("then stored", func(t *testing.T) {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
		cfg := testConfig()
		cfg.DeadLetterAfter = 1
		dl := &fakeDeadLetters{failures: 2}
		s := sinkWithDeadLetters(t, rc, cfg, dl)
		require.NoError(t, s.Deliver(t.Context(), events(1)))
		assert.Equal(t, 3, rc.count(), "retried while the store failed")
		require.Len(t, dl.stored(), 1)
		assert.Equal(t, 3, dl.stored()[0].Attempts)
	})
	t.Run("then delivered", func(t *testing.T) {
		rc := newReceiver(t, statusSequence(500, 500))
		cfg := testConfig()
		cfg.DeadLetterAfter = 1
		dl := &fakeDeadLetters{failures: 100}
		s := sinkWithDeadLetters(t, rc, cfg, dl)
		require.NoError(t, s.Deliver(t.Context(), events(1)))
		assert.Empty(t, dl.stored())
		assert.Equal(t, uint64(1), s.Stats().Acked)
		assert.Contains(t, s.Stats().LastError, "storing dead letters")
	})
}

// TestCreateDeadLettersNeedsTheDatabase: dead_letter_after without a
// *store.DB resource fails at creation, naming the key.
func TestCreateDeadLettersNeedsTheDatabase(t *testing.T) {
	cfg := testConfig()
	cfg.URL, cfg.DeadLetterAfter = "http://127.0.0.1:1", 1
	_, err := NewFactory().Create(t.Context(), pipeline.Settings{
		ID: pipeline.ID{Type: Type}, Resources: []any{testGlobal()},
	}, &cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dead_letter_after")
	assert.Contains(t, err.Error(), "store.DB")
}

// sinkWithDeadLetters is a sink posting to rc that dead-letters into dl.
func sinkWithDeadLetters(t *testing.T, rc *receiver, cfg Config, dl deadLetterStore) *Sink {
	t.Helper()
	require.NoError(t, cfg.Validate())
	s := newSink(cfg, deps{url: rc.URL, userAgent: testUserAgent, deadLetters: dl}, nil)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	return s
}

// fakeDeadLetters stores rows in memory after failing the first failures
// writes.
type fakeDeadLetters struct {
	mu       sync.Mutex
	failures int
	rows     []store.DeadLetter
}

func (f *fakeDeadLetters) AddDeadLetters(_ context.Context, rows []store.DeadLetter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("database is locked")
	}
	f.rows = append(f.rows, rows...)
	return nil
}

func (f *fakeDeadLetters) stored() []store.DeadLetter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.DeadLetter(nil), f.rows...)
}
