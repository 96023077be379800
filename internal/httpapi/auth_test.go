package httpapi_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	{http.MethodPost, "/repos/resync", `{"dids":["did:plc:aaa"]}`},
	{http.MethodGet, "/config/collection-filters", ""},
	{http.MethodPut, "/config/collection-filters", `{"collection_filters":["*"]}`},
	{http.MethodDelete, "/config/collection-filters", ""},
	{http.MethodGet, "/config/signal-collections", ""},
	{http.MethodPut, "/config/signal-collections", `{"signal_collections":["com.example.x"]}`},
	{http.MethodDelete, "/config/signal-collections", ""},
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

// Every route of the API has a probe above, so a new route cannot escape the auth tests.
func TestAuthProbesCoverEveryRoute(t *testing.T) {
	probed := map[string]bool{}
	for _, p := range authProbes {
		probed[p.method+" "+p.path] = true
	}
	for _, rt := range httpapi.Routes() {
		path := strings.ReplaceAll(rt.Pattern, "{did}", "did:plc:aaa")
		require.True(t, probed[rt.Method+" "+path], "route %s %s has no auth probe", rt.Method, rt.Pattern)
	}
}

// Wrong passwords of every length from empty to twice the right one's, each prefix of the
// right one and the right one with a byte appended, all answer 401 (indigo compares with
// crypto/subtle.ConstantTimeCompare, which also fails on a length mismatch).
func TestAuthRejectsEveryNearMiss(t *testing.T) {
	const pw = "s3cret-Admin-pw"
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.AdminPassword = pw })
	var wrong []string
	for n := 0; n <= 2*len(pw); n++ {
		wrong = append(wrong, strings.Repeat("x", n))
		if n < len(pw) {
			wrong = append(wrong, pw[:n], pw[:n]+"X"+pw[n+1:])
		}
	}
	wrong = append(wrong, pw+"x", pw+"\x00", strings.ToUpper(pw), " "+pw, pw+" ")
	for _, w := range wrong {
		r := api.do(http.MethodGet, "/health", "", "Authorization", basicAuth("admin", w))
		require.Equal(t, http.StatusUnauthorized, r.status, "password %q", w)
	}
	for _, user := range []string{"", "Admin", "admin ", "root", pw} {
		r := api.do(http.MethodGet, "/health", "", "Authorization", basicAuth(user, pw))
		require.Equal(t, http.StatusUnauthorized, r.status, "user %q", user)
	}
	r := api.do(http.MethodGet, "/health", "", "Authorization", basicAuth("admin", pw))
	require.Equal(t, http.StatusOK, r.status)
}

// Options.Extra handlers are served behind the same admin auth as the API's routes.
func TestAuthGuardsExtraHandlers(t *testing.T) {
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("metrics here")) })
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.AdminPassword = "pw"
		o.Extra = map[string]http.Handler{"/metrics": extra, "/debug/pprof/": extra}
	})
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		require.Equal(t, http.StatusUnauthorized, api.do(http.MethodGet, path, "").status, path)
		r := api.do(http.MethodGet, path, "", "Authorization", basicAuth("admin", "nope"))
		require.Equal(t, http.StatusUnauthorized, r.status, path)
		r = api.do(http.MethodGet, path, "", "Authorization", basicAuth("admin", "pw"))
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, "metrics here", r.body)
	}
	require.Panics(t, func() {
		httpapi.New(httpapi.Options{Store: api.db, Directory: api.dir, Extra: map[string]http.Handler{"/health": extra}})
	})
}

// The password check is indigo's auth.AdminAuthMiddleware, which compares with
// crypto/subtle.ConstantTimeCompare: read from the source of the indigo version go.mod
// selects, so an upgrade that changed it would fail here.
func TestAuthUsesConstantTimeCompare(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/bluesky-social/indigo").Output()
	require.NoError(t, err, "go list the indigo module")
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "indigo is in the module cache")
	src, err := os.ReadFile(filepath.Join(dir, "atproto", "auth", "http.go"))
	require.NoError(t, err)
	_, fn, ok := strings.Cut(string(src), "func AdminAuthMiddleware(")
	require.True(t, ok, "AdminAuthMiddleware is in atproto/auth/http.go")
	fn, _, _ = strings.Cut(fn, "\n}\n")
	require.Contains(t, fn, "subtle.ConstantTimeCompare([]byte(pw), []byte(password)) == 1")
	require.Contains(t, fn, `username == "admin"`)
}
