package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store/storetest"
)

// A browser POST from another origin is refused before its body is read, with or without
// Content-Type; same-origin and non-browser POSTs and cross-origin GETs are served.
func TestCrossOriginPostRefused(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.AdminPassword = "pw" })
	host := strings.TrimPrefix(api.url, "http://")
	auth := basicAuth("admin", "pw")
	body := `{"dids":["did:plc:aaa"]}`
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example", "Content-Type", "application/json"},
		{"Sec-Fetch-Site", "same-site", "Origin", "http://other." + host},
	} {
		for _, path := range []string{"/repos/add", "/repos/remove"} {
			r := api.do(http.MethodPost, path, body, append([]string{"Authorization", auth}, hdr...)...)
			requireJSON(t, r, http.StatusForbidden, `{"message":"cross-origin request refused"}`)
		}
	}
	require.Zero(t, repoCount(t, api.db), "a refused POST applies nothing")
	// Without credentials the answer is still the 401 of the reference.
	r := api.do(http.MethodPost, "/repos/add", body, "Origin", "https://evil.example")
	require.Equal(t, http.StatusUnauthorized, r.status)

	requireEmpty(t, api.do(http.MethodPost, "/repos/add", body, "Authorization", auth, "Origin", "http://"+host))
	requireEmpty(t, api.do(http.MethodPost, "/repos/add", body, "Authorization", auth, "Sec-Fetch-Site", "same-origin"))
	requireEmpty(t, api.do(http.MethodPost, "/repos/add", body, "Authorization", auth))
	r = api.do(http.MethodGet, "/stats/repo-count", "", "Authorization", auth, "Origin", "https://evil.example",
		"Sec-Fetch-Site", "cross-site")
	requireJSON(t, r, http.StatusOK, `{"repo_count":1}`)
}
