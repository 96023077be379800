package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
)

func (ti *tapInstance) outboxCount() int64 {
	n, err := ti.db.CountOutbox(ti.t.Context())
	require.NoError(ti.t, err)
	return n
}

// tailLines runs tap tail in-process with args against ti and returns the
// lines it printed.
func (ti *tapInstance) tailLines(args ...string) []string {
	ti.t.Helper()
	ctx, cancel := context.WithTimeout(ti.t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	require.NoError(ti.t, runTail(ctx, ti.cliArgs(args...), &out, &errOut), errOut.String())
	require.NoError(ti.t, ctx.Err(), "tail did not reach its --limit; stderr:\n%s", errOut.String())
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// tap tail prints events as JSON lines and acks them, with filters; with
// --no-ack the outbox keeps everything, without it the outbox drains; the
// process exits 0 on SIGINT.
func TestE2ETail(t *testing.T) {
	net, accts := startNetwork(t, 2, 5)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "pw"
	ti := startTap(t, net, env, nil)
	ti.addRepos(accts...)
	a := accts[0].DID().String()
	ti.waitFor("2 identity and 10 record events in the outbox", func() bool { return ti.outboxCount() == 12 })

	// --no-ack: each repo's identity event comes first and, being a live
	// event, holds its records back until acked; nothing leaves the outbox.
	lines := ti.tailLines("--no-ack", "--pretty", "--type", "identity", "--limit", "2")
	require.Contains(t, lines, `  "type": "identity",`, "--pretty indents")
	dec := json.NewDecoder(strings.NewReader(strings.Join(lines, "\n")))
	for range 2 {
		var ev event
		require.NoError(t, dec.Decode(&ev))
		require.Equal(t, "identity", ev.Type)
	}
	require.EqualValues(t, 12, ti.outboxCount(), "--no-ack acked nothing")

	// Every filter at once: only the first repo's app.bsky.feed.* records;
	// the events left out are acked, so the records behind them come.
	feed := 0
	for p := range truth(t, accts[0]) {
		if strings.HasPrefix(p, "app.bsky.feed.") {
			feed++
		}
	}
	require.NotZero(t, feed, "the seeded history has feed records")
	lines = ti.tailLines("--did", a, "--collection", "app.bsky.feed.*", "--type", "record", "--action", "create", "--limit", strconv.Itoa(feed))
	require.Len(t, lines, feed)
	for _, l := range lines {
		var ev event
		require.NoError(t, json.Unmarshal([]byte(l), &ev))
		require.Equal(t, "record", ev.Type)
		require.Equal(t, a, ev.Record.DID)
		require.True(t, strings.HasPrefix(ev.Record.Collection, "app.bsky.feed."), l)
	}

	// The binary prints and acks everything it reads, and exits 0 on SIGINT.
	// (The tails above may have acked every event already: a live record
	// written now is one it must print.)
	cmd, stdout, stderr := startTapProcess(t, t.TempDir(), []string{"TAP_URL=http://" + ti.addr, "TAP_ADMIN_PASSWORD=pw"}, "tail")
	fresh, err := accts[1].CreateRecord(testnet.CollectionPost, "", map[string]any{
		"$type": "app.bsky.feed.post", "text": "for the binary", "createdAt": "2026-01-01T00:00:00Z",
	})
	require.NoError(t, err)
	ti.waitFor("the binary prints the new record", func() bool {
		return strings.Contains(stdout.String(), `"rkey":"`+fresh.Ops[0].RKey.String()+`"`)
	})
	ti.waitFor("tail drains the outbox", func() bool { return ti.outboxCount() == 0 })
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr)
	require.NotEmpty(t, strings.TrimSpace(stdout.String()))
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		require.True(t, json.Valid([]byte(l)), l)
	}

	// Live writes: --action delete skips (and acks) the create before it.
	ev, err := accts[0].CreateRecord(testnet.CollectionPost, "", map[string]any{
		"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2026-01-01T00:00:00Z",
	})
	require.NoError(t, err)
	rkey := ev.Ops[0].RKey
	_, err = accts[0].DeleteRecord(testnet.CollectionPost, rkey)
	require.NoError(t, err)
	lines = ti.tailLines("--action", "delete", "--did", a, "--limit", "1")
	require.Len(t, lines, 1)
	var del event
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &del))
	require.Equal(t, "delete", del.Record.Action)
	require.Equal(t, rkey.String(), del.Record.RKey)
	require.True(t, del.Record.Live)

	err = runTail(t.Context(), []string{"--url", "http://" + ti.addr, "--admin-password", "wrong", "--limit", "1"}, io.Discard, io.Discard)
	require.ErrorIs(t, err, errUnauthorized, "a wrong password ends tail at once")
}
