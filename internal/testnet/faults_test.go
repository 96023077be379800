package testnet

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPDSHTTPFaults(t *testing.T) {
	n := startNet(t, Options{PDSCount: 2})
	accts := createAccounts(t, n, 2)
	a, b := accts[0], accts[1]
	f := n.Faults()

	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultServerError, Times: 1})
	status, _, body := get(t, getRepoURL(a))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(body), `"error":"InternalServerError"`)
	status, _, _ = get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status, "Times: 1 clears itself")

	f.SetHostFault(1, PDSFault{Kind: PDSFaultRateLimited, RetryAfter: 3 * time.Second})
	status, hdr, _ := get(t, getRepoURL(b))
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "3", hdr.Get("Retry-After"))
	status, _, _ = get(t, b.PDSURL()+"/xrpc/com.atproto.sync.listRepos")
	assert.Equal(t, http.StatusTooManyRequests, status, "host faults cover every route")
	status, _, _ = get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status, "other host unaffected")
	f.ClearPDSFaults()
	status, _, _ = get(t, getRepoURL(b))
	assert.Equal(t, http.StatusOK, status)

	f.SetRepoFault(a.DID(), PDSFault{Kind: PDSFaultSlow, Delay: 200 * time.Millisecond, Times: 1})
	start := time.Now()
	status, _, _ = get(t, getRepoURL(a))
	assert.Equal(t, http.StatusOK, status)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func TestPDSCARFaults(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	require.NoError(t, n.GenerateHistory(t.Context(), []*Account{a}, 50))
	pub := a.PublicKey()
	fetch := func(kind PDSFaultKind) []byte {
		n.Faults().SetRepoFault(a.DID(), PDSFault{Kind: kind, Times: 1})
		status, _, body := get(t, getRepoURL(a))
		require.Equal(t, http.StatusOK, status)
		return body
	}

	t.Run("truncated", func(t *testing.T) {
		body := fetch(PDSFaultTruncatedCAR)
		_, _, err := repo.LoadRepoFromCAR(t.Context(), bytes.NewReader(body))
		assert.Error(t, err)
		_, _, err = repo.LoadCommitFromCAR(t.Context(), bytes.NewReader(body))
		assert.NoError(t, err, "the commit block itself is intact")
	})
	t.Run("missing record", func(t *testing.T) {
		body := fetch(PDSFaultMissingRecord)
		commit, r, err := repo.LoadRepoFromCAR(t.Context(), bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, commit.VerifySignature(pub))
		assert.False(t, r.MST.IsPartial(), "MST is complete")
		missing := 0
		recs, err := a.Records()
		require.NoError(t, err)
		for _, rec := range recs {
			if _, _, err := r.GetRecordBytes(t.Context(), rec.Collection, rec.RKey); err != nil {
				missing++
			}
		}
		assert.Equal(t, 1, missing, "exactly one record block absent")
	})
	t.Run("wrong key", func(t *testing.T) {
		body := fetch(PDSFaultWrongKey)
		commit, r, err := repo.LoadRepoFromCAR(t.Context(), bytes.NewReader(body))
		require.NoError(t, err)
		assert.Error(t, commit.VerifySignature(pub))
		assert.Equal(t, a.DID().String(), commit.DID)
		assert.False(t, r.MST.IsPartial())
	})
	t.Run("wrong did", func(t *testing.T) {
		body := fetch(PDSFaultWrongDID)
		commit, _, err := repo.LoadRepoFromCAR(t.Context(), bytes.NewReader(body))
		require.NoError(t, err)
		assert.NoError(t, commit.VerifySignature(pub), "validly signed")
		assert.NotEqual(t, a.DID().String(), commit.DID)
	})
	checkRepoCAR(t, n, a) // and the next fetch is clean again
}

func TestCommitFaults(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	_, err := a.CreateRecord(CollectionPost, "one", map[string]any{"text": "1"})
	require.NoError(t, err)
	fh := subscribe(t, n, "")
	waitSubscribers(t, n, 1)
	f := n.Faults()
	dir := n.Directory()
	post := func() Event {
		ev, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
		require.NoError(t, err)
		return ev
	}

	f.CorruptNextCommit(a.DID(), CommitFaultBadSignature)
	ev := post()
	assert.Equal(t, CommitFaultBadSignature, ev.Fault)
	msg := fh.next(t).evt.RepoCommit
	_, err = repo.VerifyCommitMessage(t.Context(), msg)
	assert.NoError(t, err, "structure is fine")
	assert.Error(t, repo.VerifyCommitSignature(t.Context(), dir, msg), "signature is not")

	good := post()
	msg = fh.next(t).evt.RepoCommit
	require.NoError(t, repo.VerifyCommitSignature(t.Context(), dir, msg), "the repo kept the valid commit")

	f.CorruptNextCommit(a.DID(), CommitFaultBadPrevData)
	post()
	msg = fh.next(t).evt.RepoCommit
	assert.Error(t, func() error { _, err := repo.VerifyCommitMessage(t.Context(), msg); return err }())

	data := a.mustSnapshot(t).Data
	f.CorruptNextCommit(a.DID(), CommitFaultSkipped)
	skipped := post()
	assert.Zero(t, skipped.Seq)
	assert.Len(t, f.Skipped(), 1)
	post()
	msg = fh.next(t).evt.RepoCommit
	_, err = repo.VerifyCommitMessage(t.Context(), msg)
	assert.NoError(t, err, "each commit is valid on its own")
	assert.NotEqual(t, data.String(), msg.PrevData.String(), "but the chain is broken")

	replay, err := f.ReplayLastCommit(a.DID())
	require.NoError(t, err)
	msg2 := fh.next(t).evt.RepoCommit
	assert.Equal(t, msg.Rev, msg2.Rev, "duplicate rev")
	assert.Equal(t, replay.Seq, msg2.Seq)
	assert.Greater(t, msg2.Seq, msg.Seq)
	assert.NotZero(t, good.Seq)
}

func (a *Account) mustSnapshot(t *testing.T) RepoSnapshot {
	s, err := a.Snapshot()
	require.NoError(t, err)
	return s
}

func TestJunkFramesAndDrops(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	fh := subscribe(t, n, "")
	waitSubscribers(t, n, 1)
	f := n.Faults()

	_, err := f.EmitMalformedFrame()
	require.NoError(t, err)
	fr := fh.next(t)
	assert.Equal(t, 2, fr.typ, "binary")
	assert.Nil(t, fr.evt, "does not decode")

	_, err = f.EmitTextFrame()
	require.NoError(t, err)
	assert.Equal(t, 1, fh.next(t).typ, "text frame")

	_, err = n.EmitInfo("TestInfo", "hello")
	require.NoError(t, err)
	info := fh.next(t).evt.RepoInfo
	require.NotNil(t, info)
	assert.Equal(t, "TestInfo", info.Name)

	assert.Equal(t, 1, f.DropConnections(2))
	for range 3 {
		_, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
		require.NoError(t, err)
	}
	fh.next(t)
	fh.next(t)
	fh.closed(t)
	waitSubscribers(t, n, 0)
}
