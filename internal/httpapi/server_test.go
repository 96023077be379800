package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestHealth(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.get("/health"), http.StatusOK, `{"status":"ok"}`)
	requireJSON(t, api.do(http.MethodGet, "/health", ""), http.StatusOK, `{"status":"ok"}`)
}

func TestPretty(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.get("/health?pretty"), http.StatusOK, "{\n  \"status\": \"ok\"\n}")
	requireJSON(t, api.get("/health?pretty=false"), http.StatusOK, "{\n  \"status\": \"ok\"\n}")
	requireJSON(t, api.get("/nope?pretty"), http.StatusNotFound, "{\n  \"message\": \"Not Found\"\n}")
}

func TestHead(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	r := api.do(http.MethodHead, "/health", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, jsonCT, r.header.Get("Content-Type"))
	require.Empty(t, r.body)
}

func TestNotFound(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	for _, p := range []string{"/", "/nope", "/health/", "/resolve/", "/info", "/stats", "/stats/nope", "/repos/add/x"} {
		requireJSON(t, api.get(p), http.StatusNotFound, `{"message":"Not Found"}`)
		requireJSON(t, api.post(p, `{}`), http.StatusNotFound, `{"message":"Not Found"}`)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	cases := []struct{ method, path, allow string }{
		{http.MethodPost, "/health", "GET, HEAD"},
		{http.MethodDelete, "/channel", "GET, HEAD"},
		{http.MethodGet, "/repos/add", "POST"},
		{http.MethodPut, "/repos/remove", "POST"},
		{http.MethodPost, "/repos", "GET, HEAD"},
		{http.MethodPost, "/resolve/did:plc:abc", "GET, HEAD"},
		{http.MethodDelete, "/info/did:plc:abc", "GET, HEAD"},
		{http.MethodPost, "/stats/cursors", "GET, HEAD"},
	}
	for _, c := range cases {
		r := api.do(c.method, c.path, "")
		requireJSON(t, r, http.StatusMethodNotAllowed, `{"message":"Method Not Allowed"}`)
		require.Equal(t, c.allow, r.header.Get("Allow"), c.path)
	}
}

func TestChannelUnavailable(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.get("/channel"), http.StatusServiceUnavailable,
		`{"message":"event delivery is not available yet"}`)
}

func TestChannelWebhookMode(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.Channel = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", jsonCT)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"websocket not available in webhook mode"}` + "\n"))
		})
	})
	requireJSON(t, api.get("/channel"), http.StatusBadRequest,
		`{"message":"websocket not available in webhook mode"}`)
}

// The access log wraps the ResponseWriter; a websocket upgrade must still work through it.
func TestChannelWebsocketThroughMiddleware(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.Logger = logger
		o.AdminPassword = "s3cret"
		o.Channel = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"id":1}`))
		})
	})
	hdr := http.Header{"Authorization": {basicAuth("admin", "s3cret")}}
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(),
		"ws"+strings.TrimPrefix(api.url, "http")+"/channel", hdr)
	require.NoError(t, err)
	defer conn.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, msg, err := conn.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, `{"id":1}`, string(msg))
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.Logger = logger
		o.AdminPassword = "hunter2"
	})
	auth := basicAuth("admin", "hunter2")
	requireJSON(t, api.do(http.MethodGet, "/health", "", "Authorization", auth),
		http.StatusOK, `{"status":"ok"}`)
	api.do(http.MethodGet, "/health", "", "Authorization", basicAuth("admin", "wrong"))
	out := logs.String()
	require.Contains(t, out, "method=GET path=/health status=200 bytes=16")
	require.Contains(t, out, "status=401")
	require.Contains(t, out, "latency=")
	require.Contains(t, out, "remote=127.0.0.1:")
	for _, secret := range []string{"hunter2", "wrong", strings.TrimPrefix(auth, "Basic "), "Authorization"} {
		require.NotContains(t, out, secret)
	}
}

func TestPanicAnswers500(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.Store = panicStore{o.Store}
	})
	requireJSON(t, api.get("/stats/repo-count"), http.StatusInternalServerError,
		`{"message":"Internal Server Error"}`)
	requireJSON(t, api.get("/health"), http.StatusOK, `{"status":"ok"}`)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
