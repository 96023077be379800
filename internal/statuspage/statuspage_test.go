package statuspage_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/internal/statuspage"
	"github.com/tapkit/tap/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore answers fixed counts, or err.
type fakeStore struct {
	states map[store.RepoState]int64
	outbox int64
	err    error
}

func (f fakeStore) CountReposByState(context.Context) (map[store.RepoState]int64, error) {
	return f.states, f.err
}

func (f fakeStore) CountOutbox(context.Context) (int64, error) { return f.outbox, f.err }

// counter is a Stats func whose counters the test moves.
type counter struct {
	mu sync.Mutex
	st statuspage.Stats
}

func (c *counter) stats() statuspage.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

func (c *counter) add(in, out uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.EventsIn += in
	c.st.EventsOut += out
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, path, nil))
	return rec
}

func mux(p *statuspage.Page) *http.ServeMux {
	m := http.NewServeMux()
	for pat, h := range p.Handlers() {
		m.Handle(pat, h)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return m
}

func TestSnapshot(t *testing.T) {
	clients := 2
	c := &counter{st: statuspage.Stats{Firehose: true, FirehoseSeq: 42, OldestPending: 1500 * time.Millisecond,
		Sinks: []statuspage.SinkStats{
			{ID: "websocket", Delivered: 5, Acked: 4, Queued: 1, Clients: &clients},
			{ID: "webhook", Delivered: 3, Failed: 3, LastError: "HTTP 502", LastErrorAt: time.Now()},
		}}}
	errs := statuspage.NewErrorLog(2)
	log := slog.New(errs.Handler(slog.DiscardHandler))
	log.Warn("first")
	log.With("component", "backfill").Error("resync failed", "did", "did:plc:x", "error", errors.New("HTTP 500"))
	p := statuspage.New(statuspage.Options{
		Store: fakeStore{outbox: 7, states: map[store.RepoState]int64{
			store.RepoStateActive: 2, store.RepoStateError: 1, "takendown": 1}},
		Stats: c.stats, Errors: errs, Version: "v1.2.3", Mode: statuspage.ModeSignalCollection,
		SignalCollection: "app.bsky.feed.post", RelayURL: "wss://relay.example",
		SampleInterval: time.Millisecond, Samples: 3,
	})
	p.Start(t.Context())
	t.Cleanup(p.Close)

	var s statuspage.Snapshot
	require.Eventually(t, func() bool {
		c.add(10, 5)
		rec := get(t, mux(p), http.MethodGet, "/status.json")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json; charset=UTF-8", rec.Header().Get("Content-Type"))
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &s))
		return len(s.Events.Samples) == 3
	}, 10*time.Second, time.Millisecond, "the ring keeps Samples intervals")

	require.Equal(t, "v1.2.3", s.Version)
	require.Equal(t, statuspage.Boundary{Mode: statuspage.ModeSignalCollection, Label: "Signal collection",
		SignalCollection: "app.bsky.feed.post"}, s.Boundary)
	require.Equal(t, statuspage.Relay{URL: "wss://relay.example", Firehose: true, Cursor: 42}, s.Relay)
	require.Equal(t, statuspage.Repos{Total: 4, Backfilled: 2, Percent: 50, ByState: []statuspage.StateCount{
		{"pending", 0}, {"resyncing", 0}, {"active", 2}, {"desynchronized", 0}, {"error", 1}, {"takendown", 1}}}, s.Repos)
	require.Equal(t, statuspage.Outbox{Depth: 7, OldestPending: "1.5s", OldestPendingSeconds: 1.5}, s.Outbox)
	require.Len(t, s.Sinks, 2)
	require.Equal(t, statuspage.HealthOK, s.Sinks[0].Health)
	require.Equal(t, 2, *s.Sinks[0].Clients)
	require.Equal(t, statuspage.HealthFailing, s.Sinks[1].Health)
	require.Nil(t, s.Sinks[1].Clients, "a webhook has no clients")
	require.Equal(t, "HTTP 502", s.Sinks[1].LastError)
	for _, smp := range s.Events.Samples {
		require.GreaterOrEqual(t, smp.In, 0.0)
	}
	require.Len(t, s.RecentErrors, 2)
	newest := s.RecentErrors[0]
	require.Equal(t, "resync failed", newest.Message, "newest first")
	require.Equal(t, "ERROR", newest.Level)
	require.Equal(t, []statuspage.LogAttr{{"component", "backfill"}, {"did", "did:plc:x"}, {"error", "HTTP 500"}}, newest.Attrs)
	require.Empty(t, s.StoreError)
}

func TestRatesFromSamples(t *testing.T) {
	c := &counter{}
	p := statuspage.New(statuspage.Options{Store: fakeStore{}, Stats: c.stats, SampleInterval: 5 * time.Millisecond, Samples: 100})
	p.Start(t.Context())
	t.Cleanup(p.Close)
	// Counters that grow make positive rates; out never above in here.
	require.Eventually(t, func() bool {
		c.add(100, 50)
		var s statuspage.Snapshot
		require.NoError(t, json.Unmarshal(get(t, mux(p), http.MethodGet, "/status.json").Body.Bytes(), &s))
		return s.Events.InPerSec > 0 && s.Events.OutPerSec > 0 && s.Events.IntervalSeconds == 0.005
	}, 10*time.Second, 2*time.Millisecond)
}

func TestNoRepos(t *testing.T) {
	p := statuspage.New(statuspage.Options{Store: fakeStore{}})
	var s statuspage.Snapshot
	require.NoError(t, json.Unmarshal(get(t, mux(p), http.MethodGet, "/status.json").Body.Bytes(), &s))
	require.Equal(t, statuspage.ModeTrackedRepos, s.Boundary.Mode)
	require.Equal(t, "Tracked repos only", s.Boundary.Label)
	require.Equal(t, 100.0, s.Repos.Percent, "nothing to backfill is done")
	require.Empty(t, s.Events.Samples, "nothing sampled before Start")
	require.NotNil(t, s.Events.Samples, "an empty list, not null, for the script")
	require.False(t, s.Relay.Firehose)
	html := get(t, mux(p), http.MethodGet, "/").Body.String()
	require.Contains(t, html, `<progress id="backfill" max="1" value="1">`)
	require.Contains(t, html, "no firehose source")
	require.Contains(t, html, "No sinks.")
}

func TestStoreErrorShown(t *testing.T) {
	p := statuspage.New(statuspage.Options{Store: fakeStore{err: errors.New("database is locked")}})
	rec := get(t, mux(p), http.MethodGet, "/status.json")
	require.Equal(t, http.StatusOK, rec.Code, "the page still shows what it can")
	var s statuspage.Snapshot
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &s))
	require.Equal(t, "database is locked", s.StoreError)
	require.Len(t, s.Repos.ByState, 5)
	html := get(t, mux(p), http.MethodGet, "/").Body.String()
	require.Contains(t, html, "Database unavailable: database is locked")
}

func TestPageHTML(t *testing.T) {
	clients := 1
	errs := statuspage.NewErrorLog(0)
	slog.New(errs.Handler(slog.DiscardHandler)).Warn("resync failed", "error", "<script>alert(1)</script>")
	p := statuspage.New(statuspage.Options{
		Store: fakeStore{outbox: 12, states: map[store.RepoState]int64{store.RepoStateActive: 3, store.RepoStatePending: 1}},
		Stats: func() statuspage.Stats {
			return statuspage.Stats{Firehose: true, FirehoseSeq: 99, Sinks: []statuspage.SinkStats{{ID: "websocket", Clients: &clients}}}
		},
		Errors: errs, Version: "v9", Mode: statuspage.ModeFullNetwork, RelayURL: "wss://user:xxxxx@relay.example",
	})
	rec := get(t, mux(p), http.MethodGet, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	csp := rec.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "connect-src 'self'")
	body := rec.Body.String()
	for _, want := range []string{
		`<span id="version">v9</span>`, `data-mode="full_network">Full network</dd>`,
		`<code id="relay-url">wss://user:xxxxx@relay.example</code>`, `<dd id="cursor">99</dd>`,
		`<progress id="backfill" max="4" value="3">75.0%</progress>`,
		`<tr data-state="active"><th scope="row">active</th><td class="num">3</td></tr>`,
		`<dd id="outbox-depth">12</dd>`, `<td class="num" data-field="clients">1</td>`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "<script>alert(1)", "log values are escaped")
	for _, ext := range []string{"http://", "https://", "//cdn", "@import", "<link"} {
		if ext == "http://" {
			require.NotContains(t, strings.ReplaceAll(body, "http://www.w3.org/2000/svg", ""), ext, "no external asset")
			continue
		}
		require.NotContains(t, body, ext, "no external asset")
	}
}

func TestMethodsAndPaths(t *testing.T) {
	p := statuspage.New(statuspage.Options{Store: fakeStore{}})
	m := mux(p)
	for _, path := range statuspage.Paths() {
		require.Equal(t, http.StatusOK, get(t, m, http.MethodGet, path).Code, path)
		head := get(t, m, http.MethodHead, path)
		require.Equal(t, http.StatusOK, head.Code, path)
		require.Zero(t, head.Body.Len(), "HEAD has no body")
		rec := get(t, m, http.MethodPost, path)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, path)
		require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		require.JSONEq(t, `{"message":"Method Not Allowed"}`, rec.Body.String())
	}
	require.Equal(t, http.StatusNotFound, get(t, m, http.MethodGet, "/other").Code, "/ matches only itself")
}

func TestCloseWithoutStartAndTwice(t *testing.T) {
	p := statuspage.New(statuspage.Options{Store: fakeStore{}})
	p.Close()
	p.Start(t.Context())
	p.Start(t.Context())
	p.Close()
	p.Close()
}

func TestNewPanicsWithoutStore(t *testing.T) {
	require.PanicsWithValue(t, "statuspage: Options.Store is required", func() { statuspage.New(statuspage.Options{}) })
}
