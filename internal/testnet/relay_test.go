package testnet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/bluesky-social/indigo/events/schedulers/sequential"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCursorReplay(t *testing.T) {
	n := startNet(t, Options{})
	accts := createAccounts(t, n, 2) // seqs 1..6
	for i := range 10 {
		_, err := accts[i%2].CreateRecord(CollectionPost, "", map[string]any{"text": fmt.Sprint(i)})
		require.NoError(t, err)
	}
	last := n.LastSeq()
	require.Equal(t, int64(16), last)
	for _, cursor := range []int64{0, 5, 15, 16} {
		fh := subscribe(t, n, fmt.Sprint(cursor))
		for want := cursor + 1; want <= last; want++ {
			fr := fh.next(t)
			require.NotNil(t, fr.evt)
			assert.Equal(t, want, seqOf(fr.evt), "cursor %d", cursor)
		}
		ev, err := accts[0].CreateRecord(CollectionPost, "", map[string]any{"text": "live"})
		require.NoError(t, err)
		last = ev.Seq
		assert.Equal(t, ev.Seq, seqOf(fh.next(t).evt), "then live")
	}
}

func TestFutureAndOutdatedCursor(t *testing.T) {
	n := startNet(t, Options{EventLimit: 10})
	a := createAccounts(t, n, 1)[0]
	for range 40 {
		_, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
		require.NoError(t, err)
	}
	fh := subscribe(t, n, "9999")
	fr := fh.next(t)
	require.NotNil(t, fr.evt.Error)
	assert.Equal(t, "FutureCursor", fr.evt.Error.Error)
	fh.closed(t)

	evs := n.Events()
	assert.LessOrEqual(t, len(evs), 20, "EventLimit bounds the log")
	fh = subscribe(t, n, "1")
	info := fh.next(t).evt.RepoInfo
	require.NotNil(t, info)
	assert.Equal(t, "OutdatedCursor", info.Name)
	assert.Equal(t, evs[0].Seq, seqOf(fh.next(t).evt), "then the oldest kept event")
}

func TestListReposByCollectionPaging(t *testing.T) {
	n := startNet(t, Options{PDSCount: 3})
	accts := createAccounts(t, n, 9)
	want := map[string]bool{}
	for i, a := range accts {
		if i%3 == 0 {
			continue
		}
		_, err := a.CreateRecord(CollectionFollow, "", map[string]any{"subject": "did:plc:x"})
		require.NoError(t, err)
		want[a.DID().String()] = true
	}
	got := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		var out comatproto.SyncListReposByCollection_Output
		getJSON(t, n.RelayURL()+"/xrpc/com.atproto.sync.listReposByCollection?collection=app.bsky.graph.follow&limit=4&cursor="+cursor, &out)
		for _, r := range out.Repos {
			assert.False(t, got[r.Did], "no duplicates across pages")
			got[r.Did] = true
		}
		pages++
		if out.Cursor == nil {
			break
		}
		cursor = *out.Cursor
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 2, pages)

	var all comatproto.SyncListRepos_Output
	getJSON(t, n.RelayURL()+"/xrpc/com.atproto.sync.listRepos?limit=1000", &all)
	assert.Len(t, all.Repos, 9, "relay lists every host")
	status, _, _ := get(t, n.RelayURL()+"/xrpc/com.atproto.sync.listReposByCollection?collection=not-an-nsid")
	assert.Equal(t, 400, status)
}

// TestIndigoConsumer reads the firehose with indigo's own client stack and
// verifies every commit and sync with a directory resolving through the
// testnet.
func TestIndigoConsumer(t *testing.T) {
	n := startNet(t, Options{})
	accts := createAccounts(t, n, 2)
	_, err := accts[1].SetHandle("second.test")
	require.NoError(t, err)
	_, err = accts[1].SetStatus(StatusDeactivated)
	require.NoError(t, err)
	for i := range 20 {
		_, err := accts[i%2].CreateRecord(CollectionPost, "", map[string]any{"text": fmt.Sprint(i)})
		require.NoError(t, err)
	}
	last := n.LastSeq()

	url := strings.Replace(n.RelayURL(), "http://", "ws://", 1) + "/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	resp.Body.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := n.Directory()
	var mu sync.Mutex
	kinds := map[string]int{}
	var failures []error
	note := func(kind string, seq int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		kinds[kind]++
		if err != nil {
			failures = append(failures, err)
		}
		if seq >= last {
			cancel()
		}
	}
	cbs := &events.RepoStreamCallbacks{
		RepoCommit: func(evt *comatproto.SyncSubscribeRepos_Commit) error {
			_, err := repo.VerifyCommitMessage(ctx, evt)
			if err == nil {
				err = repo.VerifyCommitSignature(ctx, dir, evt)
			}
			note("commit", evt.Seq, err)
			return nil
		},
		RepoSync: func(evt *comatproto.SyncSubscribeRepos_Sync) error {
			_, err := repo.VerifySyncMessage(ctx, dir, evt)
			note("sync", evt.Seq, err)
			return nil
		},
		RepoIdentity: func(evt *comatproto.SyncSubscribeRepos_Identity) error {
			_, err := syntax.ParseHandle(*evt.Handle)
			note("identity", evt.Seq, err)
			return nil
		},
		RepoAccount: func(evt *comatproto.SyncSubscribeRepos_Account) error {
			note("account", evt.Seq, nil)
			return nil
		},
	}
	sched := sequential.NewScheduler("testnet", cbs.EventHandler)
	_ = events.HandleRepoStream(ctx, conn, sched, nil)
	conn.Close()
	assert.Empty(t, failures)
	assert.Equal(t, map[string]int{"commit": 20, "sync": 2, "identity": 3, "account": 3}, kinds)
}
