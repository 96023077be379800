package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
)

const jsonCT = "application/json; charset=UTF-8"

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// testAPI is a running API over a store.
type testAPI struct {
	t   *testing.T
	url string
	db  *store.DB
	dir *identity.MockDirectory
}

// newAPI starts the API on 127.0.0.1 over db; edit may adjust the options.
func newAPI(t *testing.T, db *store.DB, edit ...func(*httpapi.Options)) *testAPI {
	t.Helper()
	dir := identity.NewMockDirectory()
	opts := httpapi.Options{Store: db, Directory: dir, RelayURL: "https://relay.test"}
	for _, e := range edit {
		e(&opts)
	}
	srv := httptest.NewServer(httpapi.New(opts))
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL, db: db, dir: dir}
}

// do sends a request with an optional body and header pairs ("Name", "value", ...).
func (a *testAPI) do(method, path, body string, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.url+path, rd)
	require.NoError(a.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return a.send(req)
}

// send performs req and reads the whole answer.
func (a *testAPI) send(req *http.Request) response {
	a.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get sends a GET with the JSON Content-Type that the @atproto/tap client always sets.
func (a *testAPI) get(path string) response {
	a.t.Helper()
	return a.do(http.MethodGet, path, "", "Content-Type", "application/json")
}

// post sends a JSON POST.
func (a *testAPI) post(path, body string) response {
	a.t.Helper()
	return a.do(http.MethodPost, path, body, "Content-Type", "application/json")
}

// requireJSON checks a JSON answer byte for byte, including the trailing newline.
func requireJSON(t *testing.T, r response, status int, body string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, jsonCT, r.header.Get("Content-Type"))
	require.Equal(t, body+"\n", r.body)
}

// requireEmpty checks a 200 with an empty body and no Content-Type.
func requireEmpty(t *testing.T, r response) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Empty(t, r.body)
	require.Empty(t, r.header.Get("Content-Type"))
}
