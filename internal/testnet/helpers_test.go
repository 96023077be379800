package testnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// startNet runs a network for one test.
func startNet(t testing.TB, opts Options) *Network {
	t.Helper()
	n, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(n.Close)
	return n
}

// createAccounts creates count accounts or fails the test.
func createAccounts(t testing.TB, n *Network, count int) []*Account {
	t.Helper()
	accts, err := n.CreateAccounts(count)
	require.NoError(t, err)
	return accts
}

// frame is one received firehose frame.
type frame struct {
	typ  int
	data []byte
	evt  *events.XRPCStreamEvent // nil when the frame does not decode
}

// firehose is a raw test subscriber.
type firehose struct {
	conn   *websocket.Conn
	frames chan frame
	done   chan error
	err    error // read error, set before frames is closed
}

// subscribe dials subscribeRepos with an optional cursor ("" = live).
func subscribe(t testing.TB, n *Network, cursor string) *firehose {
	t.Helper()
	u := strings.Replace(n.RelayURL(), "http://", "ws://", 1) + "/xrpc/com.atproto.sync.subscribeRepos"
	if cursor != "" {
		u += "?cursor=" + cursor
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), u, nil)
	require.NoError(t, err)
	resp.Body.Close()
	f := &firehose{conn: conn, frames: make(chan frame, 100000), done: make(chan error, 1)}
	go f.read()
	t.Cleanup(func() {
		conn.Close()
		<-f.done
	})
	return f
}

func (f *firehose) read() {
	for {
		typ, data, err := f.conn.ReadMessage()
		if err != nil {
			f.err = err
			close(f.frames)
			f.done <- err
			return
		}
		fr := frame{typ: typ, data: data}
		var evt events.XRPCStreamEvent
		if typ == websocket.BinaryMessage && evt.Deserialize(bytes.NewReader(data)) == nil {
			fr.evt = &evt
		}
		f.frames <- fr
	}
}

// next returns the next frame, failing after a generous timeout.
func (f *firehose) next(t testing.TB) frame {
	t.Helper()
	select {
	case fr, ok := <-f.frames:
		if !ok {
			t.Fatalf("firehose closed: %v", f.err)
		}
		return fr
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a firehose frame")
		return frame{}
	}
}

// closed waits until the server has cut the connection.
func (f *firehose) closed(t testing.TB) {
	t.Helper()
	for {
		select {
		case _, ok := <-f.frames:
			if !ok {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("connection not closed")
		}
	}
}

// waitSubscribers waits until the relay has n open subscriptions.
func waitSubscribers(t testing.TB, n *Network, want int) {
	t.Helper()
	require.Eventually(t, func() bool { return n.Subscribers() == want }, 10*time.Second, time.Millisecond)
}

// seqOf returns the seq of a decoded frame (0 when it has none).
func seqOf(evt *events.XRPCStreamEvent) int64 {
	switch {
	case evt.RepoCommit != nil:
		return evt.RepoCommit.Seq
	case evt.RepoSync != nil:
		return evt.RepoSync.Seq
	case evt.RepoIdentity != nil:
		return evt.RepoIdentity.Seq
	case evt.RepoAccount != nil:
		return evt.RepoAccount.Seq
	}
	return 0
}

// get fetches url and returns status, headers and body.
func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := LoopbackHTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

func getRepoURL(a *Account) string {
	return fmt.Sprintf("%s/xrpc/com.atproto.sync.getRepo?did=%s", a.PDSURL(), a.DID())
}

func didOf(t testing.TB, s string) syntax.DID {
	t.Helper()
	d, err := syntax.ParseDID(s)
	require.NoError(t, err)
	return d
}
