package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestStatsCounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		requireJSON(t, api.get("/stats/repo-count"), http.StatusOK, `{"repo_count":0}`)
		requireJSON(t, api.get("/stats/record-count"), http.StatusOK, `{"record_count":0}`)
		requireJSON(t, api.get("/stats/outbox-buffer"), http.StatusOK, `{"outbox_buffer":0}`)
		requireJSON(t, api.get("/stats/resync-buffer"), http.StatusOK, `{"resync_buffer":0}`)

		for _, did := range []string{"did:plc:aaa", "did:plc:bbb"} {
			seedRepo(t, db, store.Repo{DID: did, State: store.RepoStateActive, Status: store.AccountStatusActive})
		}
		seedRecords(t, db, "did:plc:aaa", 2)
		seedRecords(t, db, "did:plc:bbb", 1)
		seedOutbox(t, db, 4)
		seedResyncBuffer(t, db, "did:plc:bbb", 2)
		requireJSON(t, api.get("/stats/repo-count"), http.StatusOK, `{"repo_count":2}`)
		requireJSON(t, api.get("/stats/record-count"), http.StatusOK, `{"record_count":3}`)
		requireJSON(t, api.get("/stats/outbox-buffer"), http.StatusOK, `{"outbox_buffer":4}`)
		requireJSON(t, api.get("/stats/resync-buffer"), http.StatusOK, `{"resync_buffer":2}`)
		requireJSON(t, api.get("/stats/repo-count?pretty"), http.StatusOK, "{\n  \"repo_count\": 2\n}")
	})
}

func TestStatsCursors(t *testing.T) {
	const relay = "https://relay.test"
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		mode := func(signal string, full bool, seq func() int64) *testAPI {
			return newAPI(t, db, func(o *httpapi.Options) {
				o.SignalCollection, o.FullNetwork, o.FirehoseSeq = signal, full, seq
			})
		}
		requireJSON(t, mode("", false, nil).get("/stats/cursors"), http.StatusOK, `{"firehose":0,"list_repos":""}`)
		requireJSON(t, mode("", true, nil).get("/stats/cursors"), http.StatusOK, `{"firehose":0,"list_repos":""}`)
		requireJSON(t, mode("app.test.signal", false, nil).get("/stats/cursors"), http.StatusOK,
			`{"firehose":0,"list_repos":""}`)

		seedCursors(t, db, relay, 4242, "did:plc:listcursor", "app.test.signal", "did:plc:collcursor")
		requireJSON(t, mode("", false, nil).get("/stats/cursors"), http.StatusOK,
			`{"firehose":4242,"list_repos":""}`)
		requireJSON(t, mode("", true, nil).get("/stats/cursors"), http.StatusOK,
			`{"firehose":4242,"list_repos":"did:plc:listcursor"}`)
		requireJSON(t, mode("app.test.signal", true, nil).get("/stats/cursors"), http.StatusOK,
			`{"firehose":4242,"list_repos":"did:plc:collcursor"}`)
		requireJSON(t, mode("app.test.other", false, nil).get("/stats/cursors"), http.StatusOK,
			`{"firehose":4242,"list_repos":""}`)
		requireJSON(t, mode("", false, func() int64 { return 99 }).get("/stats/cursors"), http.StatusOK,
			`{"firehose":99,"list_repos":""}`)
	})
}

func TestStatsErrors(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.Store = errStore{} })
	for path, msg := range map[string]string{
		"/stats/repo-count":    "failed to get repo count",
		"/stats/record-count":  "failed to get record count",
		"/stats/outbox-buffer": "failed to get outbox buffer size",
		"/stats/resync-buffer": "failed to get resync buffer size",
		"/stats/cursors":       "failed to get firehose cursor",
	} {
		requireJSON(t, api.get(path), http.StatusInternalServerError, `{"message":"`+msg+`"}`)
	}
	for _, full := range []bool{true, false} {
		api = newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
			o.Store = errStore{}
			o.FirehoseSeq = func() int64 { return 1 }
			o.FullNetwork = full
			o.SignalCollection = map[bool]string{false: "app.test.signal"}[full]
		})
		requireJSON(t, api.get("/stats/cursors"), http.StatusInternalServerError,
			`{"message":"failed to get list repos cursor"}`)
	}
}
