package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// listPage is the decoded answer of GET /repos.
type listPage struct {
	Repos []struct {
		DID   string `json:"did"`
		State string `json:"state"`
	} `json:"repos"`
	Cursor *string `json:"cursor"`
}

// listAll pages through GET /repos with query q and returns the DIDs in order.
func listAll(t *testing.T, api *testAPI, q url.Values) (dids []string, pages int) {
	t.Helper()
	for {
		r := api.get("/repos?" + q.Encode())
		require.Equal(t, http.StatusOK, r.status, r.body)
		var page listPage
		require.NoError(t, json.Unmarshal([]byte(r.body), &page))
		pages++
		for _, repo := range page.Repos {
			dids = append(dids, repo.DID)
		}
		if page.Cursor == nil {
			return dids, pages
		}
		q.Set("cursor", *page.Cursor)
	}
}

func TestListReposBody(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		requireJSON(t, api.get("/repos"), http.StatusOK, `{"repos":[]}`)
		seedRepo(t, db, store.Repo{DID: "did:plc:bbb", State: store.RepoStateError, Status: "takendown",
			Handle: "bob.test", Rev: "3lbbb", ErrorMsg: "boom", RetryCount: 3})
		seedRepo(t, db, store.Repo{DID: "did:plc:aaa", State: store.RepoStatePending, Status: store.AccountStatusActive})
		requireJSON(t, api.get("/repos"), http.StatusOK, `{"repos":[`+
			`{"did":"did:plc:aaa","handle":"","state":"pending","status":"active","rev":"","error":"","retries":0},`+
			`{"did":"did:plc:bbb","handle":"bob.test","state":"error","status":"takendown","rev":"3lbbb",`+
			`"error":"boom","retries":3}]}`)
		requireJSON(t, api.get("/repos?limit=1"), http.StatusOK, `{"repos":[`+
			`{"did":"did:plc:aaa","handle":"","state":"pending","status":"active","rev":"","error":"","retries":0}],`+
			`"cursor":"did:plc:aaa"}`)
		requireJSON(t, api.get("/repos?state=error&cursor=did:plc:aaa"), http.StatusOK, `{"repos":[`+
			`{"did":"did:plc:bbb","handle":"bob.test","state":"error","status":"takendown","rev":"3lbbb",`+
			`"error":"boom","retries":3}]}`)
	})
}

func TestListReposPaging(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		var want, wantActive []string
		for i := range 250 {
			did := fmt.Sprintf("did:plc:r%04d", 249-i)
			st := store.RepoStatePending
			if i%3 == 0 {
				st = store.RepoStateActive
			}
			seedRepo(t, db, store.Repo{DID: did, State: st, Status: store.AccountStatusActive})
		}
		for i := range 250 {
			want = append(want, fmt.Sprintf("did:plc:r%04d", i))
			if (249-i)%3 == 0 {
				wantActive = append(wantActive, fmt.Sprintf("did:plc:r%04d", i))
			}
		}
		got, pages := listAll(t, api, url.Values{})
		require.Equal(t, want, got)
		require.Equal(t, 3, pages)
		got, pages = listAll(t, api, url.Values{"limit": {"50"}})
		require.Equal(t, want, got)
		require.Equal(t, 6, pages, "a full last page gets a cursor and one empty page follows")
		got, _ = listAll(t, api, url.Values{"state": {"active"}, "limit": {"7"}})
		require.Equal(t, wantActive, got)
		got, _ = listAll(t, api, url.Values{"limit": {"1000"}, "cursor": {"did:plc:r0199"}})
		require.Equal(t, want[200:], got)
	})
}

func TestListReposBadParams(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	limitMsg := func(v string) string {
		return `{"message":"invalid limit: \"` + v + `\" (must be an integer from 1 to 1000)"}`
	}
	for _, v := range []string{"0", "-1", "1001", "abc", "1.5", "99999999999999999999"} {
		requireJSON(t, api.get("/repos?limit="+url.QueryEscape(v)), http.StatusBadRequest, limitMsg(v))
	}
	requireJSON(t, api.get("/repos?state=bogus"), http.StatusBadRequest,
		`{"message":"invalid state: \"bogus\" (must be one of pending, resyncing, active, desynchronized, error)"}`)
	requireJSON(t, api.get("/repos?state=Active"), http.StatusBadRequest,
		`{"message":"invalid state: \"Active\" (must be one of pending, resyncing, active, desynchronized, error)"}`)
}

func TestListReposStoreError(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.Store = errStore{} })
	requireJSON(t, api.get("/repos"), http.StatusInternalServerError, `{"message":"failed to list repos"}`)
}
