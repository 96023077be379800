package crawlersource

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

func TestLifecycle(t *testing.T) {
	relay := startFakeRelay(t, map[string]any{"": map[string]any{"repos": []any{}}})
	db := storetest.OpenSQLite(t)
	for name, g := range map[string]func() *config.Config{
		"full network": func() *config.Config { return fullNetworkConfig(relay.srv.URL) },
		"signal":       func() *config.Config { return signalConfig(relay.srv.URL, "app.bsky.graph.follow") },
		"dynamic":      func() *config.Config { return dynamicConfig(relay.srv.URL) },
		"outbox only":  func() *config.Config { return outboxOnly(fullNetworkConfig(relay.srv.URL)) },
	} {
		t.Run(name, func(t *testing.T) {
			pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
				return newTestSource(t, testConfig(), g(), db)
			})
		})
	}
}

func TestSignalCollectionAddsExactlyItsRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		n := startNet(t)
		accts, err := n.CreateAccounts(11)
		require.NoError(t, err)
		var want []*testnet.Account
		for i, a := range accts {
			if i%3 == 0 {
				continue // no follow: not in the signal collection
			}
			_, err := a.CreateRecord(testnet.CollectionFollow, "", map[string]any{"subject": "did:plc:x", "createdAt": "2026-01-01T00:00:00Z"})
			require.NoError(t, err)
			want = append(want, a)
		}
		g := signalConfig(n.RelayURL(), testnet.CollectionFollow.String())
		cfg := testConfig()
		cfg.RecrawlInterval = time.Hour
		src := newTestSource(t, cfg, g, db)
		start(t, src)
		require.Eventually(t, func() bool { return src.Stats().Passes == 1 }, waitFor, time.Millisecond)

		assert.Equal(t, didsOf(want), trackedDIDs(t, db))
		st := src.Stats()
		assert.GreaterOrEqual(t, st.Pages, uint64(4), "7 repos in pages of 2")
		assert.Equal(t, uint64(len(want)), st.Discovered)
		assert.Equal(t, uint64(len(want)), st.Added)
		cur, err := db.GetCollectionCursor(t.Context(), n.RelayURL(), testnet.CollectionFollow.String())
		require.NoError(t, err)
		assert.Empty(t, cur, "a complete pass resets the cursor")
	})
}

func TestFullNetworkSkipsInactiveRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		n := startNet(t)
		accts, err := n.CreateAccounts(7)
		require.NoError(t, err)
		_, err = accts[2].SetStatus(testnet.StatusDeactivated)
		require.NoError(t, err)
		_, err = accts[5].SetStatus(testnet.StatusTakendown)
		require.NoError(t, err)
		require.NoError(t, db.SaveListReposCursor(t.Context(), n.RelayURL(), ""))
		_, err = db.AddRepos(t.Context(), []string{accts[0].DID().String()}) // already tracked: left alone
		require.NoError(t, err)

		cfg := testConfig()
		cfg.RecrawlInterval = time.Hour
		src := newTestSource(t, cfg, fullNetworkConfig(n.RelayURL()), db)
		start(t, src)
		require.Eventually(t, func() bool { return src.Stats().Passes == 1 }, waitFor, time.Millisecond)

		want := []*testnet.Account{accts[0], accts[1], accts[3], accts[4], accts[6]}
		assert.Equal(t, didsOf(want), trackedDIDs(t, db))
		st := src.Stats()
		assert.Equal(t, uint64(5), st.Discovered)
		assert.Equal(t, uint64(4), st.Added)
		assert.Equal(t, uint64(2), st.Skipped)
		cur, err := db.GetListReposCursor(t.Context(), n.RelayURL())
		require.NoError(t, err)
		assert.Empty(t, cur)
	})
}

// TestResumesMidPassThenRecrawlsFromStart: a saved cursor (a restart
// mid-pass) is resumed; once that pass completes, the next pass after the
// recrawl interval starts over and finds repos created behind the cursor.
func TestResumesMidPassThenRecrawlsFromStart(t *testing.T) {
	n := startNet(t)
	db := storetest.OpenSQLite(t)
	accts, err := n.CreateAccounts(6)
	require.NoError(t, err)
	sorted := didsOf(accts)
	require.NoError(t, db.SaveListReposCursor(t.Context(), n.RelayURL(), sorted[2]))

	cfg := testConfig()
	cfg.RecrawlInterval = time.Hour
	src := newTestSource(t, cfg, fullNetworkConfig(n.RelayURL()), db)
	start(t, src)
	require.Eventually(t, func() bool { return src.Stats().Passes == 1 }, waitFor, time.Millisecond)
	assert.Equal(t, sorted[3:], trackedDIDs(t, db), "resumed after the saved cursor")
	shutdown(t, src)

	cfg.RecrawlInterval = 20 * time.Millisecond
	src = newTestSource(t, cfg, fullNetworkConfig(n.RelayURL()), db)
	start(t, src)
	require.Eventually(t, func() bool { return src.Stats().Passes >= 1 }, waitFor, time.Millisecond)
	assert.Equal(t, sorted, trackedDIDs(t, db), "a finished pass starts over")
	late, err := n.CreateAccounts(2)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(trackedDIDs(t, db)) == 8 }, waitFor, time.Millisecond,
		"the next pass after recrawl_interval finds new repos")
	assert.Equal(t, didsOf(append(accts, late...)), trackedDIDs(t, db))
	require.Eventually(t, func() bool { return src.Stats().Passes >= 2 }, waitFor, time.Millisecond)
}

func TestPagesToTheEnd(t *testing.T) {
	inactive := false
	relay := startFakeRelay(t, map[string]any{
		"": map[string]any{"cursor": "p1", "repos": []any{
			map[string]any{"did": "did:plc:aaaa", "head": "x", "rev": "1"},
			map[string]any{"did": "did:plc:bbbb", "head": "x", "rev": "1", "active": true},
		}},
		"p1": map[string]any{"cursor": "p2", "repos": []any{ // no active repo: the reference stopped here
			map[string]any{"did": "did:plc:cccc", "head": "x", "rev": "1", "active": inactive, "status": "deactivated"},
		}},
		"p2": map[string]any{"cursor": "p3", "repos": []any{}}, // an empty page with a cursor
		"p3": map[string]any{"cursor": "p4", "repos": []any{
			map[string]any{"did": "not-a-did", "head": "x", "rev": "1"},
			map[string]any{"did": "did:web:example.com", "head": "x", "rev": "1"},
		}},
		"p4": map[string]any{"cursor": "p4", "repos": []any{ // a relay that repeats its cursor
			map[string]any{"did": "did:plc:dddd", "head": "x", "rev": "1"},
		}},
	})
	relay.fail = 2 // the first requests fail: retried after a backoff delay
	db := storetest.OpenSQLite(t)
	cfg := testConfig()
	cfg.PageSize = 1000
	cfg.RecrawlInterval = time.Hour
	src := newTestSource(t, cfg, fullNetworkConfig(relay.srv.URL), db)
	start(t, src)
	require.Eventually(t, func() bool { return src.Stats().Passes == 1 }, waitFor, time.Millisecond)

	assert.Equal(t, []string{"did:plc:aaaa", "did:plc:bbbb", "did:plc:dddd", "did:web:example.com"}, trackedDIDs(t, db))
	st := src.Stats()
	assert.Equal(t, uint64(2), st.Errors)
	assert.Equal(t, uint64(5), st.Pages)
	assert.Equal(t, uint64(2), st.Skipped, "one inactive, one invalid DID")
	reqs := relay.seen()
	require.Len(t, reqs, 7)
	for _, r := range reqs {
		assert.Equal(t, "/xrpc/com.atproto.sync.listRepos", r.URL.Path)
		assert.Equal(t, "1000", r.URL.Query().Get("limit"))
		assert.Equal(t, "tap/test", r.UserAgent())
	}
	cur, err := db.GetListReposCursor(t.Context(), relay.srv.URL)
	require.NoError(t, err)
	assert.Empty(t, cur)
}

func TestSavesCursorAfterEachPage(t *testing.T) {
	db := storetest.OpenSQLite(t)
	relay := startFakeRelay(t, map[string]any{
		"":   map[string]any{"cursor": "p1", "repos": []any{map[string]any{"did": "did:plc:aaaa"}}},
		"p1": map[string]any{"cursor": "p2", "repos": []any{map[string]any{"did": "did:plc:bbbb"}}},
		// p2 is missing: the relay answers 400 until the test adds it
	})
	cfg := testConfig()
	cfg.RecrawlInterval = time.Hour
	g := signalConfig(relay.srv.URL, "app.bsky.graph.follow")
	src := newTestSource(t, cfg, g, db)
	start(t, src)
	require.Eventually(t, func() bool { return src.Stats().Errors >= 2 }, waitFor, time.Millisecond)
	cur, err := db.GetCollectionCursor(t.Context(), relay.srv.URL, "app.bsky.graph.follow")
	require.NoError(t, err)
	assert.Equal(t, "p2", cur, "the cursor of the last page read is saved")
	assert.Equal(t, []string{"did:plc:aaaa", "did:plc:bbbb"}, trackedDIDs(t, db))

	relay.mu.Lock()
	relay.pages["p2"] = map[string]any{"repos": []any{map[string]any{"did": "did:plc:cccc"}}}
	relay.mu.Unlock()
	require.Eventually(t, func() bool { return src.Stats().Passes == 1 }, waitFor, time.Millisecond)
	assert.Len(t, trackedDIDs(t, db), 3)
	for _, r := range relay.seen() {
		assert.Equal(t, "/xrpc/com.atproto.sync.listReposByCollection", r.URL.Path)
		assert.Equal(t, "app.bsky.graph.follow", r.URL.Query().Get("collection"))
	}
	retries := 0
	for _, r := range relay.seen() {
		if r.URL.Query().Get("cursor") == "p2" {
			retries++
		}
	}
	assert.Equal(t, len(relay.seen())-2, retries, "retries resume from the saved cursor, never from the start")
}

func TestRelayDownIsRetriedAndShutdownIsPrompt(t *testing.T) {
	db := storetest.OpenSQLite(t)
	relay := startFakeRelay(t, nil)
	url := relay.srv.URL
	relay.srv.Close() // nothing listens there any more
	src := newTestSource(t, testConfig(), fullNetworkConfig(url), db)
	require.NoError(t, src.Start(t.Context(), nil))
	require.Eventually(t, func() bool { return src.Stats().Errors >= 3 }, waitFor, time.Millisecond)
	begin := time.Now()
	shutdown(t, src)
	assert.Less(t, time.Since(begin), time.Second)
	assert.Empty(t, trackedDIDs(t, db))
}

func TestNothingToDo(t *testing.T) {
	for name, g := range map[string]func(url string) *config.Config{
		"outbox only": func(url string) *config.Config { return outboxOnly(fullNetworkConfig(url)) },
		"dynamic":     dynamicConfig,
	} {
		t.Run(name, func(t *testing.T) {
			relay := startFakeRelay(t, map[string]any{"": map[string]any{"repos": []any{map[string]any{"did": "did:plc:aaaa"}}}})
			db := storetest.OpenSQLite(t)
			src := newTestSource(t, testConfig(), g(relay.srv.URL), db)
			require.NoError(t, src.Start(t.Context(), nil))
			require.Never(t, func() bool { return len(relay.seen()) > 0 }, 100*time.Millisecond, 5*time.Millisecond)
			shutdown(t, src)
			assert.Empty(t, trackedDIDs(t, db))
		})
	}
}
