package testnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadCAR fetches getRepo for a and loads it with indigo.
func loadCAR(t *testing.T, a *Account) (*repo.Commit, *repo.Repo, []byte) {
	t.Helper()
	status, hdr, body := get(t, getRepoURL(a))
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Equal(t, "application/vnd.ipld.car", hdr.Get("Content-Type"))
	commit, r, err := repo.LoadRepoFromCAR(t.Context(), bytes.NewReader(body))
	require.NoError(t, err)
	return commit, r, body
}

// checkRepoCAR asserts a getRepo CAR is complete, signed with the served
// key, and equal to the ground truth.
func checkRepoCAR(t *testing.T, n *Network, a *Account) {
	t.Helper()
	commit, r, _ := loadCAR(t, a)
	ident, err := n.Directory().LookupDID(t.Context(), a.DID())
	require.NoError(t, err)
	pub, err := ident.PublicKey()
	require.NoError(t, err)
	require.NoError(t, commit.VerifySignature(pub))
	assert.Equal(t, a.DID().String(), commit.DID)
	require.False(t, r.MST.IsPartial(), "MST complete")
	require.NoError(t, r.MST.Verify())
	root, err := r.MST.RootCID()
	require.NoError(t, err)
	assert.Equal(t, commit.Data, *root)

	snap, err := a.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, snap.Rev.String(), commit.Rev)
	assert.Equal(t, snap.Data, commit.Data)
	got := 0
	require.NoError(t, r.MST.Walk(func(key []byte, val cid.Cid) error {
		want := snap.Records[got]
		got++
		require.Equal(t, want.Path(), string(key))
		require.Equal(t, want.CID, val)
		b, _, err := r.GetRecordBytes(t.Context(), want.Collection, want.RKey)
		require.NoError(t, err)
		require.Equal(t, want.CBOR, b)
		return nil
	}))
	assert.Equal(t, len(snap.Records), got)
}

func TestGetRepoCARVerifies(t *testing.T) {
	n := startNet(t, Options{PDSCount: 2})
	accts := createAccounts(t, n, 3)
	require.NoError(t, n.GenerateHistory(t.Context(), accts[:2], 500))
	_, err := accts[0].DeleteRecord(mustFirst(t, accts[0]).Collection, mustFirst(t, accts[0]).RKey)
	require.NoError(t, err)
	for _, a := range accts { // accts[2] has an empty repo
		checkRepoCAR(t, n, a)
	}
}

func mustFirst(t *testing.T, a *Account) Record {
	recs, err := a.Records()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	return recs[0]
}

func TestGetRepoStreamsWhileRepoChanges(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	require.NoError(t, n.GenerateHistory(t.Context(), []*Account{a}, 3000))
	snap, cw, err := a.snapshotForFault(PDSFaultNone)
	require.NoError(t, err)
	head := snap.commitCID
	for range 1500 { // enough writes to trigger block compaction
		_, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "more"})
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	require.NoError(t, snap.stream(&buf, cw))
	snap.unpin()
	commit, r, err := repo.LoadRepoFromCAR(t.Context(), &buf)
	require.NoError(t, err)
	assert.False(t, r.MST.IsPartial(), "pinned snapshot survived compaction")
	assert.NotEqual(t, head, a.Head())
	assert.Equal(t, snap.data, commit.Data)
}

func TestPDSEndpoints(t *testing.T) {
	n := startNet(t, Options{PDSCount: 2})
	accts := createAccounts(t, n, 7)
	_, err := accts[0].CreateRecord(CollectionLike, "", map[string]any{"subject": "x"})
	require.NoError(t, err)
	host0 := accts[0].PDSURL()

	var dids []string
	cursor := ""
	for {
		var out comatproto.SyncListRepos_Output
		getJSON(t, host0+"/xrpc/com.atproto.sync.listRepos?limit=2&cursor="+cursor, &out)
		for _, r := range out.Repos {
			dids = append(dids, r.Did)
			assert.True(t, *r.Active)
		}
		if out.Cursor == nil {
			break
		}
		cursor = *out.Cursor
	}
	assert.Len(t, dids, 4, "accounts 0,2,4,6 live on host 0")

	var latest comatproto.SyncGetLatestCommit_Output
	getJSON(t, host0+"/xrpc/com.atproto.sync.getLatestCommit?did="+accts[0].DID().String(), &latest)
	assert.Equal(t, accts[0].Head().String(), latest.Cid)
	assert.Equal(t, accts[0].Rev().String(), latest.Rev)

	var desc comatproto.RepoDescribeRepo_Output
	getJSON(t, host0+"/xrpc/com.atproto.repo.describeRepo?repo="+accts[0].DID().String(), &desc)
	assert.Equal(t, []string{"app.bsky.feed.like"}, desc.Collections)
	assert.Equal(t, accts[0].Handle().String(), desc.Handle)

	status, _, body := get(t, fmt.Sprintf("%s/xrpc/com.atproto.sync.getRepo?did=%s", host0, accts[1].DID()))
	assert.Equal(t, http.StatusBadRequest, status, "repo lives on the other host")
	assert.Contains(t, string(body), "RepoNotFound")
}

func TestAccountStatusOnPDS(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	for _, tc := range []struct {
		status  AccountStatus
		errName string
	}{
		{StatusDeactivated, "RepoDeactivated"},
		{StatusTakendown, "RepoTakendown"},
		{StatusSuspended, "RepoSuspended"},
		{StatusActive, ""},
		{StatusDeleted, "RepoNotFound"},
	} {
		ev, err := a.SetStatus(tc.status)
		require.NoError(t, err)
		assert.Equal(t, tc.status == StatusActive, ev.Active)
		status, _, body := get(t, getRepoURL(a))
		if tc.errName == "" {
			assert.Equal(t, http.StatusOK, status)
			continue
		}
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, string(body), tc.errName)
	}
	_, err := a.CreateRecord(CollectionPost, "", map[string]any{})
	assert.ErrorIs(t, err, ErrAccountDeleted)
	var out comatproto.SyncListRepos_Output
	getJSON(t, n.RelayURL()+"/xrpc/com.atproto.sync.listRepos", &out)
	assert.Empty(t, out.Repos, "deleted accounts leave listRepos")
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	status, _, body := get(t, url)
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, out))
}
