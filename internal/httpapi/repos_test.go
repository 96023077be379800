package httpapi_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// repoCount reads the number of tracked repos.
func repoCount(t *testing.T, db *store.DB) int64 {
	t.Helper()
	n, err := db.CountRepos(t.Context())
	require.NoError(t, err)
	return n
}

func TestAddRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		var logs syncBuffer
		api := newAPI(t, db, func(o *httpapi.Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		requireEmpty(t, api.post("/repos/add",
			`{"dids":["did:plc:aaa","did:web:example.com","did:plc:bbb","did:plc:aaa"]}`))
		require.EqualValues(t, 3, repoCount(t, db))
		repo, err := db.GetRepo(t.Context(), "did:web:example.com")
		require.NoError(t, err)
		require.Equal(t, store.RepoStatePending, repo.State)
		require.Equal(t, store.AccountStatusActive, repo.Status)
		require.Contains(t, logs.String(), `msg="added dids" count=3`)

		requireEmpty(t, api.post("/repos/remove", `{"dids":["did:plc:aaa"]}`))
		require.EqualValues(t, 2, repoCount(t, db))
		require.Contains(t, logs.String(), `msg="removed dids" count=1`)
	})
}

func TestReaddLeavesRepoUntouched(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		existing := store.Repo{DID: "did:plc:aaa", State: store.RepoStateActive,
			Status: store.AccountStatusActive, Handle: "alice.test", Rev: "3laaa", PrevData: "bafyprev"}
		seedRepo(t, db, existing)
		requireEmpty(t, api.post("/repos/add", `{"dids":["did:plc:aaa","did:plc:bbb"]}`))
		got, err := db.GetRepo(t.Context(), "did:plc:aaa")
		require.NoError(t, err)
		require.Equal(t, existing, got)
		require.EqualValues(t, 2, repoCount(t, db))
	})
}

func TestAddRemoveEmptyIsNoOp(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		for _, path := range []string{"/repos/add", "/repos/remove"} {
			requireEmpty(t, api.post(path, `{"dids":[]}`))
			requireEmpty(t, api.post(path, `{"dids":null}`))
			requireEmpty(t, api.post(path, `{}`))
			requireEmpty(t, api.post(path, " \n"))
			requireEmpty(t, api.do(http.MethodPost, path, ""))
			requireEmpty(t, api.do(http.MethodPost, path, "", "Content-Type", "text/plain"))
			requireEmpty(t, api.sendBody(path, "", -1, "application/json"))
		}
		require.Zero(t, repoCount(t, db))
	})
}

func TestInvalidDIDsApplyNothing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		seedRepo(t, db, store.Repo{DID: "did:plc:keep", State: store.RepoStateActive, Status: store.AccountStatusActive})
		body := `{"dids":["did:plc:new","bad","", " did:plc:x","bad","did:plc:keep","did:PLC:"]}`
		want := `{"message":"invalid DIDs: \"bad\", \"\", \" did:plc:x\", \"did:PLC:\""}`
		requireJSON(t, api.post("/repos/add", body), http.StatusBadRequest, want)
		requireJSON(t, api.post("/repos/remove", body), http.StatusBadRequest, want)
		require.EqualValues(t, 1, repoCount(t, db))
		_, err := db.GetRepo(t.Context(), "did:plc:keep")
		require.NoError(t, err)
	})
}

func TestInvalidDIDsMessageIsBounded(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	dids := make([]string, 150)
	for i := range dids {
		dids[i] = fmt.Sprintf(`"bad%03d"`, i)
	}
	r := api.post("/repos/add", `{"dids":[`+strings.Join(dids, ",")+`]}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.True(t, strings.HasPrefix(r.body, `{"message":"invalid DIDs: \"bad000\", \"bad001\", `), r.body)
	require.True(t, strings.HasSuffix(r.body, `, \"bad099\" (and 50 more)"}`+"\n"), r.body)
}

func TestRemoveDeletesRecordsAndBuffers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		for _, did := range []string{"did:plc:aaa", "did:plc:bbb"} {
			seedRepo(t, db, store.Repo{DID: did, State: store.RepoStateActive, Status: store.AccountStatusActive})
			seedRecords(t, db, did, 3)
			seedResyncBuffer(t, db, did, 2)
		}
		requireEmpty(t, api.post("/repos/remove", `{"dids":["did:plc:aaa","did:plc:unknown"]}`))
		requireJSON(t, api.get("/stats/repo-count"), http.StatusOK, `{"repo_count":1}`)
		requireJSON(t, api.get("/stats/record-count"), http.StatusOK, `{"record_count":3}`)
		requireJSON(t, api.get("/stats/resync-buffer"), http.StatusOK, `{"resync_buffer":2}`)
		requireJSON(t, api.get("/info/did:plc:aaa"), http.StatusNotFound, `{"message":"repo not found"}`)
	})
}

// sendBody POSTs body with the given Content-Length (-1 ⇒ chunked) and Content-Type.
func (a *testAPI) sendBody(path, body string, length int64, ct string) response {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), http.MethodPost, a.url+path,
		io.MultiReader(strings.NewReader(body)))
	require.NoError(a.t, err)
	req.ContentLength = length
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return a.send(req)
}

func TestStoreErrorsOnAddRemove(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.Store = errStore{} })
	for _, path := range []string{"/repos/add", "/repos/remove"} {
		requireJSON(t, api.post(path, `{"dids":["did:plc:aaa"]}`),
			http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
		requireEmpty(t, api.post(path, `{"dids":[]}`))
	}
}
