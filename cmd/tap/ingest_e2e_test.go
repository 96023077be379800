package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

const post = syntax.NSID("app.bsky.feed.post")

func rec(text string) map[string]any {
	return map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00Z"}
}

// Added repos are backfilled (live:false), then stream live (live:true);
// what tap delivered equals the testnet's ground truth.
func TestE2EBackfillThenLive(t *testing.T) {
	net, accts := startNetwork(t, 3, 20)
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
	ti.addRepos(accts...)
	for _, a := range accts {
		ti.waitFor("backfill of "+a.DID().String(), func() bool { return ti.state(a.DID()) == store.RepoStateActive })
	}
	evs := ti.events()
	for _, a := range accts {
		recs := recordsOf(evs, a.DID())
		require.Len(t, recs, 20)
		for _, r := range recs {
			require.False(t, r.Live)
			require.Equal(t, "create", r.Action)
			require.NotEmpty(t, r.Record)
		}
		require.Equal(t, truth(t, a), current(recs))
	}
	// Live writes: create, update, delete.
	a := accts[0]
	_, err := a.CreateRecord(post, "live1", rec("hello"))
	require.NoError(t, err)
	_, err = a.UpdateRecord(post, "live1", rec("hello again"))
	require.NoError(t, err)
	existing, err := a.Records()
	require.NoError(t, err)
	_, err = a.DeleteRecord(existing[0].Collection, existing[0].RKey)
	require.NoError(t, err)
	ti.waitFor("live events", func() bool { return len(recordsOf(ti.events(), a.DID())) == 23 })
	recs := recordsOf(ti.events(), a.DID())
	for _, r := range recs[20:] {
		require.True(t, r.Live, "firehose events are live")
	}
	require.Equal(t, []string{"create", "update", "delete"}, []string{recs[20].Action, recs[21].Action, recs[22].Action})
	require.Equal(t, "hello again", recs[21].Record["text"])
	require.Nil(t, recs[22].Record)
	require.Empty(t, recs[22].CID)
	require.Equal(t, truth(t, a), current(recs))
	r := ti.repo(a.DID())
	snap, err := a.Snapshot()
	require.NoError(t, err)
	require.Equal(t, snap.Rev.String(), r.Rev)
	require.Equal(t, snap.Data.String(), r.PrevData)
	// Identity event from the first resync (handle ""→real), never empty.
	var idents int
	for _, e := range ti.events() {
		if e.Identity != nil && e.Identity.DID == a.DID().String() {
			idents++
			require.Equal(t, a.Handle().String(), e.Identity.Handle)
			require.Equal(t, "active", e.Identity.Status)
		}
	}
	require.Equal(t, 1, idents)
}

// Live commits that arrive while a repo is being fetched come after its
// snapshot, in order, each verified.
func TestE2ELiveDuringBackfillComesAfterSnapshot(t *testing.T) {
	net, accts := startNetwork(t, 1, 30)
	a := accts[0]
	net.Faults().SetRepoFault(a.DID(), testnet.PDSFault{Kind: testnet.PDSFaultSlow, Delay: 700 * time.Millisecond, Times: 1})
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
	ti.addRepos(a)
	ti.waitFor("resync started", func() bool { return ti.state(a.DID()) == store.RepoStateResyncing })
	for i := range 5 {
		_, err := a.CreateRecord(post, syntax.RecordKey(fmt.Sprintf("during%d", i)), rec("during"))
		require.NoError(t, err)
	}
	ti.waitFor("all events", func() bool { return len(recordsOf(ti.events(), a.DID())) >= 35 })
	recs := recordsOf(ti.events(), a.DID())
	seenLive := false
	for _, r := range recs {
		if r.Live {
			seenLive = true
		} else {
			require.False(t, seenLive, "a snapshot event came after a live one")
		}
	}
	require.Equal(t, truth(t, a), current(recs))
	ti.waitFor("active", func() bool { return ti.state(a.DID()) == store.RepoStateActive })
	n, err := ti.db.CountResyncBuffer(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "buffered commits are consumed")
}
