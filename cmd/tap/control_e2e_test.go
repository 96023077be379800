package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

const follow = syntax.NSID("app.bsky.graph.follow")

// sendJSON sends a JSON request to the API and decodes its JSON answer.
func (ti *tapInstance) sendJSON(method, path, body string) (int, map[string]any) {
	ti.t.Helper()
	req, err := http.NewRequestWithContext(ti.t.Context(), method, "http://"+ti.addr+path, bytes.NewReader([]byte(body)))
	require.NoError(ti.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(ti.t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(ti.t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// paths returns the collection/rkey of each record event, with its live flag.
func paths(recs []recordEvent, collection syntax.NSID) []string {
	var out []string
	for _, r := range recs {
		if r.Collection == collection.String() {
			out = append(out, fmt.Sprintf("%s/%s live=%v", r.Action, r.RKey, r.Live))
		}
	}
	return out
}

// The collection filters change without a restart: records of a collection
// the filters left out are not delivered; after a PUT widens them, new live
// records of it are; the API value survives a restart (source "api"); and a
// resync of the repo backfills the records filtered out before.
func TestE2ERuntimeCollectionFilters(t *testing.T) {
	net, accts := startNetwork(t, 1, 0)
	a := accts[0]
	for i := range 2 {
		_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("p%d", i)), rec("p"))
		require.NoError(t, err)
		_, err = a.CreateRecord(follow, syntax.RecordKey(fmt.Sprintf("f%d", i)), map[string]any{"subject": "did:plc:x"})
		require.NoError(t, err)
	}
	env := testEnv(net, sqliteURL(t))
	env["TAP_COLLECTION_FILTERS"] = "app.bsky.feed.post"
	ti := startTap(t, net, env, nil)
	ti.postRepos(accts)
	ti.waitFor("backfill", func() bool { return len(recordsOf(ti.events(), a.DID())) == 2 })

	// Filtered out while the filter is narrow: the follow before the post is
	// processed (and dropped) by the time the post is delivered.
	_, err := a.CreateRecord(follow, "f2", map[string]any{"subject": "did:plc:y"})
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "p2", rec("p"))
	require.NoError(t, err)
	ti.waitFor("live post", func() bool { return len(recordsOf(ti.events(), a.DID())) == 3 })
	require.Empty(t, paths(recordsOf(ti.events(), a.DID()), follow))

	status, body := ti.sendJSON(http.MethodGet, "/config/collection-filters", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"collection_filters": []any{"app.bsky.feed.post"}, "source": "config"}, body)
	status, body = ti.sendJSON(http.MethodPut, "/config/collection-filters", `{"collection_filters":["app.bsky.feed.post","app.bsky.graph.*"]}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "api", body["source"])
	status, body = ti.sendJSON(http.MethodPut, "/config/collection-filters", `{"collection_filters":["app.bsky.graph*"]}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["message"], `collection_filters[0]: "app.bsky.graph*"`)

	// Widened without a restart: a new live follow is delivered.
	_, err = a.CreateRecord(follow, "f3", map[string]any{"subject": "did:plc:z"})
	require.NoError(t, err)
	ti.waitFor("live follow after the PUT", func() bool {
		return slices.Equal(paths(recordsOf(ti.events(), a.DID()), follow), []string{"create/f3 live=true"})
	})

	// A restart keeps the API value over TAP_COLLECTION_FILTERS.
	ti.stop()
	ti = startTap(t, net, env, nil)
	require.Contains(t, ti.out.String(), "runtime setting set through the admin API overrides the configuration")
	status, body = ti.sendJSON(http.MethodGet, "/config/collection-filters", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"collection_filters": []any{"app.bsky.feed.post", "app.bsky.graph.*"}, "source": "api"}, body)
	_, err = a.CreateRecord(follow, "f4", map[string]any{"subject": "did:plc:w"})
	require.NoError(t, err)
	ti.waitFor("live follow after the restart", func() bool { return len(paths(recordsOf(ti.events(), a.DID()), follow)) == 2 })

	// The follows filtered out before the PUT are not delivered retroactively;
	// a resync backfills them (and a commit made meanwhile is not lost).
	require.Equal(t, []string{"create/f3 live=true", "create/f4 live=true"}, paths(recordsOf(ti.events(), a.DID()), follow))
	status, body = ti.sendJSON(http.MethodPost, "/repos/resync", `{"dids":["`+a.DID().String()+`","did:plc:notrackedrepo"]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"queued": float64(1), "unknown": []any{"did:plc:notrackedrepo"}}, body)
	_, err = a.CreateRecord(post, "p3", rec("p"))
	require.NoError(t, err)
	ti.converged(a)
	got := paths(recordsOf(ti.events(), a.DID()), follow)
	for _, want := range []string{"create/f0 live=false", "create/f1 live=false", "create/f2 live=false"} {
		require.Contains(t, got, want)
	}
	require.Len(t, got, 5, "f3 and f4 are indexed already: the resync does not repeat them")
	require.Equal(t, store.RepoStateActive, ti.state(a.DID()))
	_, err = ti.db.GetRepo(t.Context(), "did:plc:notrackedrepo")
	require.ErrorIs(t, err, store.ErrNotFound)

	// DELETE returns to the configured filters, at once.
	status, body = ti.sendJSON(http.MethodDelete, "/config/collection-filters", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"collection_filters": []any{"app.bsky.feed.post"}, "source": "config"}, body)
	_, err = a.CreateRecord(follow, "f5", map[string]any{"subject": "did:plc:v"})
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "p4", rec("p"))
	require.NoError(t, err)
	ti.waitFor("live post after the reset", func() bool { return len(paths(recordsOf(ti.events(), a.DID()), post)) == 5 })
	require.Len(t, paths(recordsOf(ti.events(), a.DID()), follow), 5, "narrowed again: f5 is not delivered")
}

// A signal collection added at runtime makes repos with records in it
// tracked without a restart: by the crawler (a pass starts at once) and by
// live commits.
func TestE2ERuntimeSignalCollections(t *testing.T) {
	net, accts := startNetwork(t, 3, 2)
	_, err := accts[0].CreateRecord(signalNSID, "s", map[string]any{"$type": string(signalNSID), "n": 1})
	require.NoError(t, err)
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
	status, body := ti.sendJSON(http.MethodGet, "/config/signal-collections", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"signal_collections": []any{}, "source": "config"}, body)
	n, err := ti.db.CountRepos(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "nothing tracked without a signal collection")

	status, body = ti.sendJSON(http.MethodPut, "/config/signal-collections", `{"signal_collections":["`+string(signalNSID)+`","com.example.other"]}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	ti.converged(accts[0]) // crawled at once, backfilled

	_, err = accts[1].CreateRecord("com.example.other", "o", map[string]any{"$type": "com.example.other"})
	require.NoError(t, err)
	ti.converged(accts[1]) // tracked by its live commit, backfilled
	_, err = ti.db.GetRepo(t.Context(), accts[2].DID().String())
	require.ErrorIs(t, err, store.ErrNotFound, "a repo in neither collection is not tracked")
}

// A forced resync loses no live commit: commits that arrive while the repo
// is being fetched are buffered and delivered after the snapshot.
func TestE2EForcedResyncKeepsLiveCommits(t *testing.T) {
	net, accts := startNetwork(t, 1, 3)
	a := accts[0]
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
	ti.postRepos(accts)
	ti.converged(a)

	net.Faults().SetRepoFault(a.DID(), testnet.PDSFault{Kind: testnet.PDSFaultHang}) // getRepo waits until cleared
	status, body := ti.sendJSON(http.MethodPost, "/repos/resync", `{"dids":["`+a.DID().String()+`"]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"queued": float64(1), "unknown": []any{}}, body)
	ti.waitFor("fetch started", func() bool { return ti.state(a.DID()) == store.RepoStateResyncing })
	for i := range 2 {
		_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("during%d", i)), rec("during the resync"))
		require.NoError(t, err)
	}
	ti.waitFor("commits buffered", func() bool {
		n, err := ti.db.CountResyncBuffer(t.Context())
		return err == nil && n == 2
	})
	net.Faults().ClearPDSFaults()
	ti.converged(a)
	n, err := ti.db.CountResyncBuffer(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "every buffered commit is released")
}
