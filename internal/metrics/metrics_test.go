package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// fakeDB counts queries and fails while err is set.
type fakeDB struct {
	queries atomic.Int64
	err     error
}

func (f *fakeDB) CountReposByState(context.Context) (map[store.RepoState]int64, error) {
	f.queries.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return map[store.RepoState]int64{store.RepoStatePending: 2, store.RepoStateActive: 3}, nil
}

func (f *fakeDB) CountOutbox(context.Context) (int64, error) { return 7, f.err }

// emptyGraph builds a graph with nothing configured.
func emptyGraph(t *testing.T) *pipeline.Graph {
	t.Helper()
	g, err := pipeline.Build(t.Context(), pipeline.Config{Lanes: 1, QueueCapacity: 5}, pipeline.Factories{}, pipeline.BuildSettings{})
	require.NoError(t, err)
	return g
}

// scrape returns the body of one GET of m's handler.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(body)
}

// The reference's names are exposed, zero, even when their components are
// not configured, so that its dashboards find them; the database counts
// and the default registry come along.
func TestReferenceNamesWithoutComponents(t *testing.T) {
	m := New()
	require.NoError(t, m.Watch(emptyGraph(t), &fakeDB{}))
	body := scrape(t, m)
	for _, line := range []string{
		"tap_firehose_events_received_total 0", "tap_firehose_events_processed_total 0",
		"tap_firehose_events_skipped_total 0", "tap_firehose_last_seq 0", "tap_event_cache_size 0",
		"tap_resyncs_started_total 0", "tap_resyncs_completed_total 0", "tap_resyncs_failed_total 0",
		"tap_resync_duration_seconds_count 0", "tap_events_delivered_total 0", "tap_events_acked_total 0",
		`tap_webhook_requests_total{status="non_2xx"} 0`, "tap_crawler_repos_discovered_total 0",
		`tap_repos{state="pending"} 2`, `tap_repos{state="active"} 3`, "tap_backfill_repos_done 3",
		"tap_backfill_repos_total 5", "tap_outbox_events 7", "tap_lanes_queue_capacity 5",
		`tap_verify_failures_total{reason="signature"} 0`, "go_goroutines",
	} {
		require.Contains(t, body, line)
	}
}

// tap_resync_duration_seconds has the reference's buckets: 0.1·2^k, 12.
func TestResyncBuckets(t *testing.T) {
	m := New()
	m.ObserveResyncDuration(150 * time.Millisecond)
	m.ObserveDeliveryLatency(3 * time.Millisecond)
	body := scrape(t, m)
	require.Contains(t, body, `tap_resync_duration_seconds_bucket{le="0.1"} 0`)
	require.Contains(t, body, `tap_resync_duration_seconds_bucket{le="0.2"} 1`)
	require.Contains(t, body, `tap_resync_duration_seconds_bucket{le="204.8"} 1`)
	require.Len(t, ResyncBuckets, 12)
	require.Contains(t, body, "tap_delivery_latency_seconds_count 1")
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 2, "New registers the two histograms only")
}

// The database is queried at most once per dbCacheTTL, and a failing
// database leaves its metrics out without failing the scrape.
func TestDBCountsCachedAndFailuresContained(t *testing.T) {
	db := &fakeDB{}
	m := New()
	require.NoError(t, m.Watch(emptyGraph(t), db))
	scrape(t, m)
	scrape(t, m)
	require.EqualValues(t, 1, db.queries.Load())

	db2 := &fakeDB{err: errors.New("database is locked")}
	m2 := New()
	require.NoError(t, m2.Watch(emptyGraph(t), db2))
	body := scrape(t, m2)
	require.NotContains(t, body, "tap_repos{")
	require.Contains(t, body, "tap_firehose_events_received_total 0")
}

func TestTruncate(t *testing.T) {
	require.Equal(t, "short", truncate("short", 10))
	got := truncate(strings.Repeat("é", 20), 11)
	require.LessOrEqual(t, len(got), 11)
	require.True(t, strings.HasSuffix(got, "…"))
	require.Equal(t, strings.Repeat("é", 4)+"…", got)
}
