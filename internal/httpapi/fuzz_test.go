package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// fuzzMaxBody is the body limit of the fuzzed API, small enough for the
// fuzzer to reach the 413 answer.
const fuzzMaxBody = 2048

// FuzzReposBody posts arbitrary bodies to /repos/add or /repos/remove of an
// API over one SQLite store. The answer is 200 with an empty body exactly
// when the body is one JSON object whose "dids" are all DIDs (what follows
// the first JSON value is ignored, as Echo does), and then the repos are
// tracked or untracked; otherwise it is a JSON {"message"} 400, or 413 for a
// body over the limit, and never a 5xx.
func FuzzReposBody(f *testing.F) {
	db := storetest.OpenSQLite(f)
	h := httpapi.New(httpapi.Options{Store: db, Directory: identity.NewMockDirectory(), MaxBodyBytes: fuzzMaxBody})
	f.Fuzz(func(t *testing.T, body []byte, remove bool) {
		path := "/repos/add"
		if remove {
			path = "/repos/remove"
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		dids, valid := oracleDIDs(body)
		switch {
		case len(body) > fuzzMaxBody:
			requireMessage(t, rec, http.StatusRequestEntityTooLarge)
		case !valid:
			requireMessage(t, rec, http.StatusBadRequest)
		default:
			require.Equal(t, http.StatusOK, rec.Code, "body %q: %s", body, rec.Body)
			require.Empty(t, rec.Body.String())
			for _, did := range dids {
				_, err := db.GetRepo(t.Context(), did)
				if remove {
					require.ErrorIs(t, err, store.ErrNotFound, did)
				} else {
					require.NoError(t, err, did)
				}
			}
		}
	})
}

// oracleDIDs decodes body independently of the handler: valid is whether
// the first JSON value binds to {"dids": [...]} and every entry is a DID.
func oracleDIDs(body []byte) (dids []string, valid bool) {
	if len(body) == 0 {
		return nil, true
	}
	var req struct {
		DIDs []string `json:"dids"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	for _, d := range req.DIDs {
		if _, err := syntax.ParseDID(d); err != nil {
			return nil, false
		}
	}
	return req.DIDs, true
}

// requireMessage checks an error answer: status, JSON Content-Type and a
// body that is exactly {"message": non-empty}.
func requireMessage(t *testing.T, rec *httptest.ResponseRecorder, status int) string {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body)
	require.Equal(t, jsonCT, rec.Header().Get("Content-Type"))
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var m struct {
		Message string `json:"message"`
	}
	require.NoError(t, dec.Decode(&m), "body: %s", rec.Body)
	require.NotEmpty(t, m.Message)
	return m.Message
}

// FuzzPath sends arbitrary DID path parameters to /info/{did} and
// /resolve/{did}. A parameter that is a DID, as sent or percent-decoded
// once, answers 200 with the repo or DID document of that DID, or a 404
// naming what was not found; any other parameter is a 400. Every answer is
// JSON and none is a 5xx.
func FuzzPath(f *testing.F) {
	db := storetest.OpenSQLite(f)
	known := store.Repo{DID: "did:plc:aaa", State: store.RepoStateActive, Status: store.AccountStatusActive}
	_, err := db.AddRepos(f.Context(), []string{known.DID, "did:web:localhost%3A8080"})
	require.NoError(f, err)
	dir := identity.NewMockDirectory()
	dir.Insert(identity.Identity{DID: "did:plc:aaa", Handle: "alice.test", AlsoKnownAs: []string{"at://alice.test"}})
	h := httpapi.New(httpapi.Options{Store: db, Directory: dir})
	f.Fuzz(func(t *testing.T, param string, resolve bool) {
		prefix := "/info/"
		if resolve {
			prefix = "/resolve/"
		}
		u, err := url.Parse(prefix + param)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != prefix+strings.TrimPrefix(u.Path, prefix) {
			t.Skip("not a path of one route")
		}
		raw, found := strings.CutPrefix(u.EscapedPath(), prefix)
		if !found || raw == "" || strings.Contains(u.Path[len(prefix):], "/") || u.Path != cleanPath(u.Path) {
			t.Skip("not a path of one route")
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		req.URL = u
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		did, ok := oraclePathDID(raw)
		if !ok {
			requireMessage(t, rec, http.StatusBadRequest)
			return
		}
		require.Less(t, rec.Code, 500, "%s%s: %s", prefix, param, rec.Body)
		if rec.Code == http.StatusNotFound {
			msg := requireMessage(t, rec, http.StatusNotFound)
			require.Contains(t, []string{"repo not found", "DID not found"}, msg)
			return
		}
		require.Equal(t, http.StatusOK, rec.Code, "%s%s: %s", prefix, param, rec.Body)
		require.Equal(t, jsonCT, rec.Header().Get("Content-Type"))
		var got struct {
			DID string `json:"did"`
			ID  string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		require.Equal(t, did.String(), got.DID+got.ID, "the answer is about the DID asked for")
	})
}

// oraclePathDID is the DID a path parameter names: the parameter as sent,
// or else percent-decoded once.
func oraclePathDID(raw string) (syntax.DID, bool) {
	if did, err := syntax.ParseDID(raw); err == nil {
		return did, true
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	did, err := syntax.ParseDID(decoded)
	return did, err == nil
}

// cleanPath is p without "." and ".." elements and repeated slashes, which
// ServeMux answers with a redirect rather than routing.
func cleanPath(p string) string {
	parts := strings.Split(p, "/")
	for _, part := range parts[1:] {
		if part == "." || part == ".." || part == "" {
			return ""
		}
	}
	return p
}
