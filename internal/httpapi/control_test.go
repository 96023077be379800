package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/runtimecfg"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// newControlAPI starts the API with a runtime control configured with filter
// app.bsky.feed.post and signal collection com.example.signal.
func newControlAPI(t *testing.T, edit ...func(*httpapi.Options)) (*testAPI, *runtimecfg.Control) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	ctl, err := runtimecfg.New(t.Context(), db, runtimecfg.FromConfig(&config.Config{
		Collections: config.CollectionsConfig{Filters: []string{"app.bsky.feed.post"}},
		Scope:       config.ScopeConfig{SignalCollection: "com.example.signal"},
	}), nil)
	require.NoError(t, err)
	return newAPI(t, db, append([]func(*httpapi.Options){func(o *httpapi.Options) { o.Control = ctl }}, edit...)...), ctl
}

func (a *testAPI) put(path, body string) response {
	a.t.Helper()
	return a.do(http.MethodPut, path, body, "Content-Type", "application/json")
}

func TestCollectionFiltersRoute(t *testing.T) {
	api, ctl := newControlAPI(t)
	const path = "/config/collection-filters"
	requireJSON(t, api.get(path), http.StatusOK, `{"collection_filters":["app.bsky.feed.post"],"source":"config"}`)
	requireJSON(t, api.put(path, `{"collection_filters":["app.bsky.feed.*","com.example.thing"]}`), http.StatusOK,
		`{"collection_filters":["app.bsky.feed.*","com.example.thing"],"source":"api"}`)
	require.Equal(t, []string{"app.bsky.feed.*", "com.example.thing"}, ctl.Get(runtimecfg.SettingCollectionFilters).List, "applied")
	requireJSON(t, api.get(path), http.StatusOK, `{"collection_filters":["app.bsky.feed.*","com.example.thing"],"source":"api"}`)
	requireJSON(t, api.put(path, `{"collection_filters":[]}`), http.StatusOK, `{"collection_filters":[],"source":"api"}`)
	requireJSON(t, api.do(http.MethodDelete, path, ""), http.StatusOK, `{"collection_filters":["app.bsky.feed.post"],"source":"config"}`)
	requireJSON(t, api.get(path), http.StatusOK, `{"collection_filters":["app.bsky.feed.post"],"source":"config"}`)
}

func TestSignalCollectionsRoute(t *testing.T) {
	api, ctl := newControlAPI(t)
	const path = "/config/signal-collections"
	requireJSON(t, api.get(path), http.StatusOK, `{"signal_collections":["com.example.signal"],"source":"config"}`)
	requireJSON(t, api.put(path, `{"signal_collections":["com.example.a","com.example.b"]}`), http.StatusOK,
		`{"signal_collections":["com.example.a","com.example.b"],"source":"api"}`)
	require.Equal(t, []string{"com.example.a", "com.example.b"}, ctl.Get(runtimecfg.SettingSignalCollections).List)
	requireJSON(t, api.do(http.MethodDelete, path, ""), http.StatusOK, `{"signal_collections":["com.example.signal"],"source":"config"}`)
}

func TestSettingRouteBadInput(t *testing.T) {
	api, ctl := newControlAPI(t, func(o *httpapi.Options) { o.MaxBodyBytes = 64 })
	for _, tc := range []struct {
		path, body, ct string
		status         int
		msg            string
	}{
		{"/config/collection-filters", `{"collection_filters":["app.bsky.feed*"]}`, "application/json", 400,
			`collection_filters[0]: \"app.bsky.feed*\" is not an NSID, an NSID prefix ending in .*, or *`},
		{"/config/collection-filters", `{"collection_filters":["a.b.c","x..*"]}`, "application/json", 400,
			`collection_filters[1]: \"x..*\" is not a valid collection prefix`},
		{"/config/signal-collections", `{"signal_collections":["app.bsky.*"]}`, "application/json", 400,
			`signal_collections[0]: \"app.bsky.*\" is not an NSID (signal collections are exact, without wildcards)`},
		{"/config/collection-filters", `{"collection_filters":["a.b.c"`, "application/json", 400, `unexpected EOF`},
		{"/config/collection-filters", `{"collection_filters":[x]}`, "application/json", 400,
			`Syntax error: offset=24, error=invalid character 'x' looking for beginning of value`},
		{"/config/collection-filters", `{"collection_filters":"a.b.c"}`, "application/json", 400,
			`\"collection_filters\" must be a list of strings`},
		{"/config/collection-filters", `{"collection_filters":null}`, "application/json", 400,
			`\"collection_filters\" must be a list of strings`},
		{"/config/collection-filters", `[1]`, "application/json", 400,
			`Unmarshal type error: expected=map[string]json.RawMessage, got=array, field=, offset=1`},
		{"/config/collection-filters", `{"collection_filter":["a.b.c"]}`, "application/json", 400,
			`missing \"collection_filters\": send {\"collection_filters\":[...]} (DELETE returns to the configured value)`},
		{"/config/signal-collections", ``, "application/json", 400,
			`missing \"signal_collections\": send {\"signal_collections\":[...]} (DELETE returns to the configured value)`},
		{"/config/collection-filters", `collection_filters=a.b.c`, "application/x-www-form-urlencoded", 415, `Unsupported Media Type`},
		{"/config/collection-filters", `{"collection_filters":["` + strings.Repeat("a", 100) + `"]}`, "application/json", 413,
			`Request Entity Too Large`},
	} {
		r := api.do(http.MethodPut, tc.path, tc.body, "Content-Type", tc.ct)
		requireJSON(t, r, tc.status, `{"message":"`+tc.msg+`"}`)
	}
	require.Equal(t, runtimecfg.SourceConfig, ctl.Get(runtimecfg.SettingCollectionFilters).Source, "nothing applied")
	require.Equal(t, runtimecfg.SourceConfig, ctl.Get(runtimecfg.SettingSignalCollections).Source, "nothing applied")
}

func TestResyncRoute(t *testing.T) {
	api, _ := newControlAPI(t)
	_, err := api.db.AddRepos(t.Context(), []string{"did:plc:aaa", "did:plc:bbb"})
	require.NoError(t, err)
	requireJSON(t, api.post("/repos/resync", `{"dids":["did:plc:aaa","did:plc:zzz","did:plc:bbb","did:plc:aaa"]}`),
		http.StatusOK, `{"queued":2,"unknown":["did:plc:zzz"]}`)
	requireJSON(t, api.post("/repos/resync", `{"dids":[]}`), http.StatusOK, `{"queued":0,"unknown":[]}`)
	requireJSON(t, api.post("/repos/resync", ``), http.StatusOK, `{"queued":0,"unknown":[]}`)
	_, err = api.db.GetRepo(t.Context(), "did:plc:zzz")
	require.ErrorIs(t, err, store.ErrNotFound, "resync does not add repos")

	requireJSON(t, api.post("/repos/resync", `{"dids":["did:plc:aaa","nope"]}`), http.StatusBadRequest,
		`{"message":"invalid DIDs: \"nope\""}`)
	requireJSON(t, api.post("/repos/resync", `{"dids":}`), http.StatusBadRequest,
		`{"message":"Syntax error: offset=9, error=invalid character '}' looking for beginning of value"}`)
	requireJSON(t, api.do(http.MethodPost, "/repos/resync", `x`, "Content-Type", "text/plain"),
		http.StatusUnsupportedMediaType, `{"message":"Unsupported Media Type"}`)
}

func TestControlRoutesNeedAdmin(t *testing.T) {
	api, ctl := newControlAPI(t, func(o *httpapi.Options) { o.AdminPassword = "pw" })
	r := api.do(http.MethodPut, "/config/collection-filters", `{"collection_filters":["*"]}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = api.do(http.MethodDelete, "/config/signal-collections", "", "Authorization", basicAuth("admin", "nope"))
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, runtimecfg.SourceConfig, ctl.Get(runtimecfg.SettingCollectionFilters).Source, "a refused PUT must not apply")
	r = api.do(http.MethodPut, "/config/collection-filters", `{"collection_filters":["*"]}`,
		"Content-Type", "application/json", "Authorization", basicAuth("admin", "pw"))
	requireJSON(t, r, http.StatusOK, `{"collection_filters":["*"],"source":"api"}`)
	// A browser PUT from another origin is refused even with the password.
	r = api.do(http.MethodPut, "/config/collection-filters", `{"collection_filters":[]}`,
		"Content-Type", "application/json", "Authorization", basicAuth("admin", "pw"), "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, r.status)
}

func TestControlRoutesWithoutControl(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.get("/config/collection-filters"), http.StatusServiceUnavailable, `{"message":"runtime control is not available"}`)
	requireJSON(t, api.post("/repos/resync", `{"dids":[]}`), http.StatusServiceUnavailable, `{"message":"runtime control is not available"}`)
}

func TestStatCursorsFollowRuntimeSignals(t *testing.T) {
	api, ctl := newControlAPI(t)
	require.NoError(t, api.db.SaveCollectionCursor(t.Context(), "https://relay.test", "com.example.signal", "c1"))
	require.NoError(t, api.db.SaveCollectionCursor(t.Context(), "https://relay.test", "com.example.new", "c2"))
	requireJSON(t, api.get("/stats/cursors"), http.StatusOK, `{"firehose":0,"list_repos":"c1"}`)
	_, err := ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, []string{"com.example.new", "com.example.signal"})
	require.NoError(t, err)
	requireJSON(t, api.get("/stats/cursors"), http.StatusOK, `{"firehose":0,"list_repos":"c2"}`)
	_, err = ctl.Set(t.Context(), runtimecfg.SettingSignalCollections, nil)
	require.NoError(t, err)
	requireJSON(t, api.get("/stats/cursors"), http.StatusOK, `{"firehose":0,"list_repos":""}`)
}
