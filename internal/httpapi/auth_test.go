package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store/storetest"
)

// authProbe is one request that must be refused without the admin password.
type authProbe struct{ method, path, body string }

var authProbes = []authProbe{
	{http.MethodGet, "/health", ""},
	{http.MethodGet, "/channel", ""},
	{http.MethodPost, "/repos/add", `{"dids":["did:plc:aaa"]}`},
	{http.MethodPost, "/repos/remove", `{"dids":["did:plc:aaa"]}`},
	{http.MethodGet, "/repos", ""},
	{http.MethodGet, "/resolve/did:plc:aaa", ""},
	{http.MethodGet, "/info/did:plc:aaa", ""},
	{http.MethodGet, "/stats/repo-count", ""},
	{http.MethodGet, "/stats/record-count", ""},
	{http.MethodGet, "/stats/outbox-buffer", ""},
	{http.MethodGet, "/stats/resync-buffer", ""},
	{http.MethodGet, "/stats/cursors", ""},
	{http.MethodGet, "/no/such/path", ""},
	{http.MethodPost, "/health", ""},
}

const unauthorizedBody = `{"error":"Unauthorized","message":"atproto admin auth required, but missing or incorrect password"}` + "\n"

func TestAuthRefusesEveryPath(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.AdminPassword = "pw" })
	bad := map[string][]string{
		"none":       nil,
		"wrong pw":   {"Authorization", basicAuth("admin", "nope")},
		"wrong user": {"Authorization", basicAuth("root", "pw")},
		"bearer":     {"Authorization", "Bearer pw"},
	}
	for _, p := range authProbes {
		for name, hdr := range bad {
			hdr = append(hdr, "Content-Type", "application/json")
			r := api.do(p.method, p.path, p.body, hdr...)
			require.Equal(t, http.StatusUnauthorized, r.status, "%s %s (%s)", p.method, p.path, name)
			require.Equal(t, unauthorizedBody, r.body)
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			require.Equal(t, `Basic realm="admin", charset="UTF-8"`, r.header.Get("WWW-Authenticate"))
		}
	}
	n, err := api.db.CountRepos(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "a refused add must not apply")
}

func TestAuthAcceptsAdmin(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.AdminPassword = "pw" })
	auth := []string{"Authorization", basicAuth("admin", "pw"), "Content-Type", "application/json"}
	requireJSON(t, api.do(http.MethodGet, "/health", "", auth...), http.StatusOK, `{"status":"ok"}`)
	requireEmpty(t, api.do(http.MethodPost, "/repos/add", `{"dids":["did:plc:aaa"]}`, auth...))
	requireJSON(t, api.do(http.MethodGet, "/stats/repo-count", "", auth...), http.StatusOK, `{"repo_count":1}`)
	requireJSON(t, api.do(http.MethodGet, "/nope", "", auth...), http.StatusNotFound, `{"message":"Not Found"}`)
	requireJSON(t, api.do(http.MethodGet, "/channel", "", auth...), http.StatusServiceUnavailable,
		`{"message":"event delivery is not available yet"}`)
}

func TestNoPasswordNoAuth(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.do(http.MethodGet, "/health", "", "Authorization", basicAuth("x", "y")),
		http.StatusOK, `{"status":"ok"}`)
}
