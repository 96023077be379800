package testnet

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verifyCommit checks one #commit the way a Sync 1.1 consumer does.
func verifyCommit(t testing.TB, ctx context.Context, n *Network, msg *comatproto.SyncSubscribeRepos_Commit) *repo.Repo {
	t.Helper()
	r, err := repo.VerifyCommitMessage(ctx, msg)
	require.NoError(t, err, "VerifyCommitMessage seq %d", msg.Seq)
	require.NoError(t, repo.VerifyCommitSignature(ctx, n.Directory(), msg), "signature seq %d", msg.Seq)
	return r
}

func TestEveryCommitVerifiesAndChains(t *testing.T) {
	t.Run("small repos", func(t *testing.T) { checkCommits(t, 0) })
	t.Run("large repos", func(t *testing.T) { checkCommits(t, 3000) })
}

// checkCommits applies random multi-op commits to repos holding history
// records and verifies every emitted frame.
func checkCommits(t *testing.T, history int) {
	n := startNet(t, Options{PDSCount: 2})
	accts := createAccounts(t, n, 3)
	if history > 0 {
		require.NoError(t, n.GenerateHistory(t.Context(), accts, history))
		for _, a := range accts {
			_, err := a.EmitSync()
			require.NoError(t, err)
		}
	}
	fh := subscribe(t, n, "0")
	rng := rand.New(rand.NewPCG(1, 2))
	var want []Event
	for i := range 300 {
		a := accts[rng.IntN(len(accts))]
		ev, err := a.Apply(randomWrites(rng, a, 1+rng.IntN(4))...)
		require.NoError(t, err, "commit %d", i)
		want = append(want, ev)
	}

	prevData := map[string]cid.Cid{}
	prevRev := map[string]string{}
	got := 0
	for got < len(want) {
		fr := fh.next(t)
		require.NotNil(t, fr.evt)
		if fr.evt.RepoSync != nil {
			c, err := repo.VerifySyncMessage(t.Context(), n.Directory(), fr.evt.RepoSync)
			require.NoError(t, err)
			prevData[c.DID], prevRev[c.DID] = c.Data, c.Rev
			continue
		}
		msg := fr.evt.RepoCommit
		if msg == nil {
			continue
		}
		r := verifyCommit(t, t.Context(), n, msg)
		require.NotNil(t, msg.PrevData)
		assert.Equal(t, prevData[msg.Repo], cid.Cid(*msg.PrevData), "prevData chains")
		require.NotNil(t, msg.Since)
		assert.Equal(t, prevRev[msg.Repo], *msg.Since, "since chains")
		root, err := r.MST.RootCID()
		require.NoError(t, err)
		prevData[msg.Repo], prevRev[msg.Repo] = *root, msg.Rev
		w := want[got]
		assert.Equal(t, w.Seq, msg.Seq)
		assert.Equal(t, w.Rev.String(), msg.Rev)
		assert.Len(t, msg.Ops, len(w.Ops))
		got++
	}
	for _, a := range accts {
		snap, err := a.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, snap.Data, prevData[a.DID().String()], "firehose state equals ground truth")
	}
}

// randomWrites returns k valid writes for a's current repo.
func randomWrites(rng *rand.Rand, a *Account, k int) []Write {
	a.mu.Lock()
	idx := a.repo.ensurePaths()
	picked := map[string]bool{}
	var out []Write
	for range k {
		text := map[string]any{"text": fmt.Sprintf("r%d", rng.Int())}
		p := rng.IntN(3)
		if p == 0 || len(idx.paths) == 0 {
			out = append(out, Create(CollectionPost, "", text))
			continue
		}
		path := idx.random(rng)
		if picked[path] {
			continue
		}
		picked[path] = true
		coll, rkey, _ := splitPath(path)
		if p == 1 {
			out = append(out, Update(coll, rkey, text))
		} else {
			out = append(out, Delete(coll, rkey))
		}
	}
	a.mu.Unlock()
	return out
}

func TestWriteValidation(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	_, err := a.CreateRecord(CollectionPost, "abc", map[string]any{"text": "x"})
	require.NoError(t, err)
	_, err = a.CreateRecord(CollectionPost, "abc", map[string]any{"text": "x"})
	assert.ErrorIs(t, err, ErrRecordExists)
	_, err = a.UpdateRecord(CollectionPost, "nope", map[string]any{"text": "x"})
	assert.ErrorIs(t, err, ErrRecordNotFound)
	_, err = a.DeleteRecord(CollectionPost, "nope")
	assert.ErrorIs(t, err, ErrRecordNotFound)
	_, err = a.Apply(Delete(CollectionPost, "abc"), Update(CollectionPost, "abc", nil))
	assert.ErrorIs(t, err, ErrDuplicatePath)
	rec, err := a.Record(CollectionPost, "abc")
	require.NoError(t, err, "failed commits change nothing")
	js, err := rec.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"$type":"app.bsky.feed.post","text":"x"}`, string(js))
	assert.Equal(t, 1, a.RecordCount())
	_, err = a.DeleteRecord(CollectionPost, syntax.RecordKey("abc"))
	require.NoError(t, err)
	assert.Equal(t, 0, a.RecordCount())
}

func TestEventsGroundTruth(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	ev, err := a.CreateRecord(CollectionPost, "k1", map[string]any{"text": "hi"})
	require.NoError(t, err)
	evs := n.Events()
	require.Len(t, evs, 4)
	kinds := []EventKind{evs[0].Kind, evs[1].Kind, evs[2].Kind, evs[3].Kind}
	assert.Equal(t, []EventKind{KindIdentity, KindAccount, KindSync, KindCommit}, kinds)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Seq)
	}
	assert.Equal(t, ev, evs[3])
	op := ev.Ops[0]
	assert.Equal(t, ActionCreate, op.Action)
	assert.Equal(t, "app.bsky.feed.post/k1", op.Path())
	rec, err := a.Record(CollectionPost, "k1")
	require.NoError(t, err)
	assert.Equal(t, rec.CID, op.CID)
	assert.True(t, bytes.Equal(rec.CBOR, op.CBOR))
	assert.Equal(t, int64(4), n.LastSeq())
}
