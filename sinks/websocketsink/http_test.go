package websocketsink_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/sinks/websocketsink"
)

// A GET /channel that is not a websocket upgrade gets gorilla's plain 400,
// as from the reference Tap.
func TestNonUpgradeGet(t *testing.T) {
	s := websocketsink.New(testConfig(), nil)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/channel", nil))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "Bad Request\n", rec.Body.String())
}

// In webhook mode /channel answers Echo's JSON 400.
func TestWebhookModeHandler(t *testing.T) {
	srv := httptest.NewServer(websocketsink.WebhookModeHandler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/channel")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
	require.Equal(t, `{"message":"websocket not available in webhook mode"}`+"\n", string(body))
}
