package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

func TestReadDIDs(t *testing.T) {
	in := "# header\n\n  did:plc:aaaaaaaaaaaaaaaaaaaaaaaa  \ndid:web:example.com\ndid:plc:aaaaaaaaaaaaaaaaaaaaaaaa\n"
	dids, err := readDIDs([]string{"did:web:a.example", "-"}, nil, strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{"did:web:a.example", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "did:web:example.com"}, dids)

	var bad strings.Builder
	for i := range 15 {
		fmt.Fprintf(&bad, "bad%d\n", i)
	}
	_, err = readDIDs([]string{"nope"}, []string{"-"}, strings.NewReader(bad.String()))
	require.ErrorContains(t, err, "16 invalid DIDs, nothing was sent")
	require.ErrorContains(t, err, `argument 1: invalid DID "nope"`)
	require.ErrorContains(t, err, `stdin:9: invalid DID "bad8"`)
	require.ErrorContains(t, err, "… and 6 more")

	_, err = readDIDs(nil, []string{"-"}, strings.NewReader("# only a comment\n"))
	require.ErrorContains(t, err, "no DIDs given")
	_, err = readDIDs(nil, []string{"/does/not/exist"}, nil)
	require.ErrorContains(t, err, "/does/not/exist")
}

func TestTailFilter(t *testing.T) {
	rec := func(did, coll, action string) tailEvent {
		ev := tailEvent{Type: "record"}
		ev.Record = &struct {
			DID        string `json:"did"`
			Collection string `json:"collection"`
			Action     string `json:"action"`
		}{did, coll, action}
		return ev
	}
	ident := tailEvent{Type: "identity", Identity: &struct {
		DID string `json:"did"`
	}{"did:plc:a"}}
	for _, c := range []struct {
		name  string
		f     tailFilter
		ev    tailEvent
		match bool
	}{
		{"none", tailFilter{}, ident, true},
		{"glob", tailFilter{collections: []string{"app.bsky.feed.*"}}, rec("did:plc:a", "app.bsky.feed.like", "create"), true},
		{"glob is by segment", tailFilter{collections: []string{"app.bsky.feed.*"}}, rec("did:plc:a", "app.bsky.feedgen.x", "create"), false},
		{"collection drops identity", tailFilter{collections: []string{"*"}}, ident, false},
		{"action", tailFilter{actions: []string{"delete", "update"}}, rec("did:plc:a", "a.b.c", "update"), true},
		{"other action", tailFilter{actions: []string{"delete"}}, rec("did:plc:a", "a.b.c", "create"), false},
		{"type", tailFilter{types: []string{"identity"}}, rec("did:plc:a", "a.b.c", "create"), false},
		{"did", tailFilter{dids: []string{"did:plc:b"}}, ident, false},
		{"all", tailFilter{dids: []string{"did:plc:a"}, types: []string{"record"}, collections: []string{"a.b.c"}, actions: []string{"create"}}, rec("did:plc:a", "a.b.c", "create"), true},
	} {
		require.NoError(t, c.f.compile(), c.name)
		require.Equal(t, c.match, c.f.matches(c.ev), c.name)
	}
	for flags, msg := range map[string]string{
		"--type=commit":                      `--type: "commit" is not record or identity`,
		"--action=upsert":                    `--action: "upsert" is not create, update or delete`,
		"--did=alice":                        `--did: invalid DID "alice"`,
		"--collection=app.bsky.feed*":        "--collection: ",
		"--type=identity --collection=a.b.c": "cannot be combined with --type identity",
		"--json --pretty":                    "--json and --pretty: choose one",
		"stray":                              "unexpected arguments",
	} {
		err := runTail(t.Context(), strings.Fields(flags), io.Discard, io.Discard)
		var uerr *usageError
		require.ErrorAs(t, err, &uerr, flags)
		require.ErrorContains(t, err, msg, flags)
	}
}

func TestProgress(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, true, "added", 50000)
	start := p.start
	p.now = func() time.Time { return start.Add(4 * time.Second) }
	p.update(12000)
	require.Equal(t, "added 12000/50000 (24%) 3.0k/s\n", out.String())
	require.Nil(t, newProgress(&out, false, "added", 1), "off: nothing to report")
	var off *progress
	off.update(1) // a nil progress reports nothing
	require.Equal(t, "850/s", rate(850, time.Second))
}

// channelServer is a stand-in for tap's /channel on 127.0.0.1: each
// connection gets the next event and is then dropped once the event is
// acked.
func channelServer(t *testing.T, acks chan<- string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	next := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/channel" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		next++
		ev := fmt.Sprintf(`{"id":%d,"type":"identity","identity":{"did":"did:plc:a","handle":"a.test","is_active":true,"status":"active"}}`, next)
		if conn.WriteMessage(websocket.TextMessage, []byte(ev)) != nil {
			return
		}
		if _, msg, err := conn.ReadMessage(); err == nil {
			acks <- string(msg)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// tail reconnects when the connection drops and carries on; a 404 ends it
// at once; --no-reconnect ends it at the first failure.
func TestTailReconnects(t *testing.T) {
	acks := make(chan string, 4)
	base := channelServer(t, acks)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	require.NoError(t, runTail(ctx, []string{"--url", base, "--limit", "2"}, &out, &errOut))
	require.NoError(t, ctx.Err())
	require.Equal(t, 2, strings.Count(out.String(), "\n"))
	require.Equal(t, `{"type":"ack","id":1}`, <-acks)
	require.Contains(t, errOut.String(), "; reconnecting in ")

	err := runTail(ctx, []string{"--url", base + "/wrong"}, io.Discard, io.Discard)
	var fatal *fatalTailError
	require.ErrorAs(t, err, &fatal)
	require.ErrorContains(t, err, "HTTP 404: Not Found")

	port, err := freePortForTest()
	require.NoError(t, err)
	err = runTail(ctx, []string{"--url", fmt.Sprintf("http://127.0.0.1:%d", port), "--no-reconnect"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "connection refused")

	// Without --no-reconnect it keeps trying until interrupted, then exits cleanly.
	ictx, icancel := context.WithCancel(ctx)
	errs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runTail(ictx, []string{"--url", fmt.Sprintf("http://127.0.0.1:%d", port)}, io.Discard, errs)
	}()
	require.Eventually(t, func() bool { return strings.Count(errs.String(), "reconnecting") >= 2 }, 10*time.Second, 10*time.Millisecond)
	icancel()
	require.NoError(t, <-done)
}

// tap --help lists the client commands; each one's --help lists its flags
// on stdout.
func TestClientHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"--help"}, &out, io.Discard))
	for _, cmd := range []string{"tap repos add DID...", "tap repos remove DID...", "tap repos list", "tap repos info DID", "tap stats", "tap resolve DID", "tap tail"} {
		require.Contains(t, out.String(), "\n  "+cmd+" ")
	}
	for _, args := range [][]string{
		{"repos", "add", "--help"}, {"repos", "remove", "-h"}, {"repos", "list", "--help"}, {"repos", "info", "--help"},
		{"stats", "--help"}, {"resolve", "--help"}, {"tail", "--help"}, {"repos", "--help"},
	} {
		out.Reset()
		require.ErrorIs(t, run(t.Context(), args, &out, io.Discard), errHelpShown, args)
		require.Contains(t, out.String(), "Usage:", args)
		require.Contains(t, out.String(), "--url", args)
	}
	err := run(t.Context(), []string{"repos", "frob"}, io.Discard, io.Discard)
	var uerr *usageError
	require.ErrorAs(t, err, &uerr)
	require.Equal(t, 2, exitCode(err))
}
