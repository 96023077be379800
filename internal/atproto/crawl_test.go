package atproto

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
)

func TestCrawlClientAgainstTestnet(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(5)
	require.NoError(t, err)
	_, err = accts[1].SetStatus(testnet.StatusSuspended)
	require.NoError(t, err)
	_, err = accts[3].CreateRecord(testnet.CollectionFollow, "", map[string]any{"subject": "did:plc:x"})
	require.NoError(t, err)
	c, err := NewCrawlClient(CrawlOptions{RelayURL: n.RelayURL()})
	require.NoError(t, err)

	page, err := c.ListRepos(t.Context(), "", 5000)
	require.NoError(t, err, "a limit above 1000 is capped, not refused")
	assert.Len(t, page.DIDs, 4)
	assert.Equal(t, 5, page.Listed)
	assert.Equal(t, 1, page.Inactive)
	assert.Empty(t, page.Cursor)

	page, err = c.ListRepos(t.Context(), "", 2)
	require.NoError(t, err)
	assert.Equal(t, 2, page.Listed)
	assert.NotEmpty(t, page.Cursor)

	page, err = c.ListReposByCollection(t.Context(), testnet.CollectionFollow, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{accts[3].DID().String()}, page.DIDs)
}

func TestCrawlClientErrors(t *testing.T) {
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":"RateLimitExceeded","message":"slow down"}`)
	}))
	defer srv.Close()
	c, err := NewCrawlClient(CrawlOptions{RelayURL: srv.URL + "/", UserAgent: "tap/x"})
	require.NoError(t, err)
	_, err = c.ListRepos(t.Context(), "", 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 429 RateLimitExceeded: slow down")
	assert.Equal(t, "tap/x", ua)

	for _, bad := range []string{"", "ftp://x", "127.0.0.1:80", "http://"} {
		_, err := NewCrawlClient(CrawlOptions{RelayURL: bad})
		assert.Error(t, err, bad)
	}
}
