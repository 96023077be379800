package main

import (
	"fmt"
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

const signalNSID = syntax.NSID("com.example.signal")

// Signal-collection mode discovers repos with records in the collection,
// both by crawling listReposByCollection and from live commits.
func TestE2ESignalCollectionDiscovery(t *testing.T) {
	net, accts := startNetwork(t, 4, 3)
	// Two accounts already hold a signalNSID record before tap starts.
	for _, a := range accts[:2] {
		_, err := a.CreateRecord(signalNSID, "s", map[string]any{"$type": string(signalNSID), "n": 1})
		require.NoError(t, err)
	}
	env := testEnv(net, sqliteURL(t))
	env["TAP_SIGNAL_COLLECTION"] = string(signalNSID)
	ti := startTap(t, net, env, nil)
	for _, a := range accts[:2] {
		ti.converged(a) // crawled, backfilled
	}
	// A live commit in the signalNSID collection tracks a third repo.
	_, err := accts[2].CreateRecord(signalNSID, "s", map[string]any{"$type": string(signalNSID), "n": 2})
	require.NoError(t, err)
	ti.converged(accts[2])
	_, err = ti.db.GetRepo(t.Context(), accts[3].DID().String())
	require.ErrorIs(t, err, store.ErrNotFound, "a repo without the signalNSID collection is not tracked")
	cursors := ti.getJSON("/stats/cursors")
	require.Contains(t, cursors, "list_repos")
}

// Full-network mode tracks every repo: crawled with listRepos, and any
// repo that shows up on the firehose.
func TestE2EFullNetworkDiscovery(t *testing.T) {
	net, accts := startNetwork(t, 3, 2)
	env := testEnv(net, sqliteURL(t))
	env["TAP_FULL_NETWORK"] = "true"
	ti := startTap(t, net, env, nil)
	for _, a := range accts {
		ti.converged(a)
	}
	late, err := net.CreateAccounts(1) // emits #identity/#account/#sync
	require.NoError(t, err)
	_, err = late[0].CreateRecord(post, "hi", rec("late"))
	require.NoError(t, err)
	ti.converged(late[0])
}

// Collection filters apply to delivered events and to the record index;
// identity events always pass.
func TestE2ECollectionFilters(t *testing.T) {
	net, accts := startNetwork(t, 1, 0)
	a := accts[0]
	for i := range 3 {
		_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("p%d", i)), rec("p"))
		require.NoError(t, err)
		_, err = a.CreateRecord("app.bsky.graph.follow", syntax.RecordKey(fmt.Sprintf("f%d", i)), map[string]any{"subject": "did:plc:x"})
		require.NoError(t, err)
	}
	env := testEnv(net, sqliteURL(t))
	env["TAP_COLLECTION_FILTERS"] = "app.bsky.feed.*"
	ti := startTap(t, net, env, nil)
	ti.addRepos(a)
	ti.waitFor("active", func() bool { return ti.state(a.DID()) == store.RepoStateActive })
	_, err := a.CreateRecord("app.bsky.graph.follow", "f9", map[string]any{"subject": "did:plc:y"})
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "p9", rec("p"))
	require.NoError(t, err)
	ti.waitFor("live post", func() bool { return len(recordsOf(ti.events(), a.DID())) == 4 })
	for _, r := range recordsOf(ti.events(), a.DID()) {
		require.Equal(t, string(post), r.Collection)
	}
	n, err := ti.db.CountRecordsForDID(t.Context(), a.DID().String())
	require.NoError(t, err)
	require.Equal(t, int64(4), n, "only filtered collections are indexed")
	var idents int
	for _, e := range ti.events() {
		if e.Identity != nil {
			idents++
		}
	}
	require.Equal(t, 1, idents)
}

// A restart resumes from the saved cursor: commits made while tap was down
// are delivered, none twice, none missing.
func TestE2ERestartResumesFromCursor(t *testing.T) {
	net, accts := startNetwork(t, 2, 5)
	dbURL := sqliteURL(t)
	ti := startTap(t, net, testEnv(net, dbURL), nil)
	ti.addRepos(accts...)
	for _, a := range accts {
		ti.converged(a)
	}
	write := func(prefix string) {
		for _, a := range accts {
			for i := range 3 {
				_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("%s%d", prefix, i)), rec(prefix))
				require.NoError(t, err)
			}
		}
	}
	write("before")
	for _, a := range accts {
		ti.converged(a)
	}
	ti.waitFor("cursor saved", func() bool {
		c, err := ti.db.GetFirehoseCursor(t.Context(), net.RelayURL())
		return err == nil && c == net.LastSeq()
	})
	ti.stop()
	write("during")
	ti2 := startTap(t, net, testEnv(net, dbURL), nil)
	write("after")
	for _, a := range accts {
		ti2.converged(a)
		recs := recordsOf(ti2.events(), a.DID())
		seen := map[string]int{}
		for _, r := range recs {
			seen[r.Collection+"/"+r.RKey+"/"+r.Action]++
		}
		for k, n := range seen {
			require.Equal(t, 1, n, "%s delivered %d times", k, n)
		}
		require.Len(t, recs, 5+9)
	}
	ids := ti2.events()
	for i := 1; i < len(ids); i++ {
		require.Greater(t, ids[i].ID, ids[i-1].ID)
	}
}

// A resync after a desync emits deletes for records that disappeared
// meanwhile (the reference Tap never did).
func TestE2EResyncEmitsDeletes(t *testing.T) {
	net, accts, ti := activeTap(t, 1, 4)
	a := accts[0]
	recs, err := a.Records()
	require.NoError(t, err)
	net.Faults().CorruptNextCommit(a.DID(), testnet.CommitFaultSkipped)
	_, err = a.DeleteRecord(recs[0].Collection, recs[0].RKey) // never emitted
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "next", rec("n")) // breaks the chain
	require.NoError(t, err)
	ti.converged(a)
	var deletes int
	for _, r := range recordsOf(ti.events(), a.DID()) {
		if r.Action == "delete" {
			deletes++
			require.Equal(t, recs[0].RKey.String(), r.RKey)
			require.False(t, r.Live, "the delete comes from the resync")
		}
	}
	require.Equal(t, 1, deletes)
}
