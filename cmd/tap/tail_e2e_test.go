package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tap tail prints events as JSON lines and acks them, with filters; what it
// acked leaves the outbox.
func TestE2ETail(t *testing.T) {
	net, accts := startNetwork(t, 2, 5)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "pw"
	ti := startTap(t, net, env, nil)
	ti.addRepos(accts...)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	args := []string{"--url", "http://" + ti.addr, "--admin-password", "pw", "--did", accts[0].DID().String(), "--limit", "6"}
	require.NoError(t, runTail(ctx, args, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 6) // 1 identity + 5 records of the first repo
	for _, l := range lines {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &ev))
		require.Contains(t, l, accts[0].DID().String())
	}
	err := runTail(ctx, []string{"--url", "http://" + ti.addr, "--admin-password", "wrong", "--limit", "1"}, io.Discard, io.Discard)
	require.ErrorIs(t, err, errUnauthorized, "a wrong password ends tail at once")
}
