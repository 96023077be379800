package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
)

// Fire-and-forget (TAP_DISABLE_ACKS): a client that never acks receives
// every event, and the outbox empties anyway.
func TestE2EFireAndForget(t *testing.T) {
	net, accts := startNetwork(t, 2, 10)
	env := testEnv(net, sqliteURL(t))
	env["TAP_DISABLE_ACKS"] = "true"
	ti := startTap(t, net, env, nil)
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+ti.addr+"/channel", nil)
	require.NoError(t, err)
	defer conn.Close()
	ti.addRepos(accts...)
	var got []string
	for len(got) < 2*10+2 {
		_, msg, err := conn.ReadMessage()
		require.NoError(t, err)
		got = append(got, string(msg))
	}
	ti.waitFor("outbox empty without acks", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		return err == nil && n == 0
	})
	_, err = accts[0].CreateRecord(post, "live", rec("ff"))
	require.NoError(t, err)
	_, msg, err := conn.ReadMessage()
	require.NoError(t, err)
	require.Contains(t, string(msg), `"live":true`)
}

// Webhook mode (TAP_WEBHOOK_URL): one POST per event with the event JSON,
// Basic auth with the admin password; /channel answers 400.
func TestE2EWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	fails := 3 // the first requests fail: they are retried
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:pw")) ||
			r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	net, accts := startNetwork(t, 2, 5)
	env := testEnv(net, sqliteURL(t))
	env["TAP_WEBHOOK_URL"] = recv.URL + "/hook"
	env["TAP_ADMIN_PASSWORD"] = "pw"
	ti := startTap(t, net, env, func(c *config.Config) {
		c.Pipeline.Sinks = nil // the reference's mode selection
	})
	ti.addRepos(accts...)
	ti.waitFor("every event POSTed and acked", func() bool {
		n, err := ti.db.CountOutbox(t.Context())
		mu.Lock()
		defer mu.Unlock()
		return err == nil && n == 0 && len(bodies) >= 2*5+2
	})
	mu.Lock()
	seen := map[int64]bool{}
	for _, b := range bodies {
		var ev struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal([]byte(b), &ev), b)
		require.False(t, strings.HasPrefix(b, "["), "one event per POST")
		seen[ev.ID] = true
	}
	mu.Unlock()
	require.Len(t, seen, 2*5+2)
	req, _ := http.NewRequest(http.MethodGet, "http://"+ti.addr+"/channel", nil)
	req.SetBasicAuth("admin", "pw")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.JSONEq(t, `{"message":"websocket not available in webhook mode"}`, string(body))
	for _, a := range accts {
		require.Equal(t, store.RepoStateActive, ti.repo(a.DID()).State)
	}
}
