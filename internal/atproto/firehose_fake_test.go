package atproto

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRelay is a hand-driven subscribeRepos server for frames the testnet
// does not emit. Each connection gets the frames of script, then stays
// open (silent, not reading, so pings go unanswered) until the test ends.
type fakeRelay struct {
	srv    *httptest.Server
	script func(conn *websocket.Conn)

	mu     sync.Mutex
	agents []string
	conns  []*websocket.Conn
}

func startFakeRelay(t *testing.T, script func(conn *websocket.Conn)) *fakeRelay {
	t.Helper()
	f := &fakeRelay{script: script}
	up := websocket.Upgrader{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != subscribeReposPath {
			http.NotFound(w, r)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.agents = append(f.agents, r.UserAgent())
		f.conns = append(f.conns, conn)
		f.mu.Unlock()
		f.script(conn)
	}))
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeRelay) userAgents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.agents...)
}

// frame serializes a stream event.
func frame(t *testing.T, evt *events.XRPCStreamEvent) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, evt.Serialize(&buf))
	return buf.Bytes()
}

// rawFrame builds a frame from a header and an optional CBOR body.
func rawFrame(t *testing.T, h events.EventHeader, body interface{ MarshalCBOR(w io.Writer) error }) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, h.MarshalCBOR(&buf))
	if body != nil {
		require.NoError(t, body.MarshalCBOR(&buf))
	}
	return buf.Bytes()
}

func identityFrame(t *testing.T, did string, seq int64) []byte {
	return frame(t, &events.XRPCStreamEvent{RepoIdentity: &comatproto.SyncSubscribeRepos_Identity{Did: did, Seq: seq, Time: "2026-01-01T00:00:00Z"}})
}

func TestFirehoseSkipsUndecodableAndForeignFrames(t *testing.T) {
	big := identityFrame(t, "did:plc:big", 3)
	big = append(big, make([]byte, 4096)...) // valid prefix, but over the frame limit
	frames := [][]byte{
		identityFrame(t, "did:plc:first", 1),
		rawFrame(t, events.EventHeader{Op: 1, MsgType: "#labels"}, &comatproto.LabelSubscribeLabels_Labels{Seq: 2}),
		rawFrame(t, events.EventHeader{Op: 7, MsgType: "#commit"}, nil),
		big,
		identityFrame(t, "not a did", 4),
		rawFrame(t, events.EventHeader{Op: 1, MsgType: "#commit"}, nil), // header without body
		frame(t, &events.XRPCStreamEvent{RepoInfo: &comatproto.SyncSubscribeRepos_Info{Name: "OutdatedCursor"}}),
		frame(t, &events.XRPCStreamEvent{RepoAccount: &comatproto.SyncSubscribeRepos_Account{Did: "did:plc:last", Seq: 5, Active: true}}),
	}
	relay := startFakeRelay(t, func(conn *websocket.Conn) {
		for _, f := range frames {
			_ = conn.WriteMessage(websocket.BinaryMessage, f)
		}
	})
	opts := fastOptions(relay.srv.URL)
	opts.MaxFrameBytes = 1024
	opts.UserAgent = "tap/test"
	c := runConsumer(t, opts, nil)
	c.waitSeq(t, 5)

	got := c.got()
	require.Len(t, got, 2)
	assert.Equal(t, "did:plc:first", got[0].DID.String())
	assert.Equal(t, "did:plc:last", got[1].DID.String())
	st := c.fh.Stats()
	assert.Equal(t, uint64(4), st.Malformed, "unknown op, oversized, invalid DID, missing body")
	assert.Equal(t, uint64(1), st.Ignored, "#labels")
	assert.Equal(t, uint64(1), st.Infos)
	assert.Equal(t, uint64(1), st.Connects)
	assert.Equal(t, []string{"tap/test"}, relay.userAgents())
}

func TestFirehoseSilentRelayTimesOut(t *testing.T) {
	relay := startFakeRelay(t, func(*websocket.Conn) {}) // never writes, never reads (no pongs)
	opts := fastOptions(relay.srv.URL)
	opts.PingInterval = 20 * time.Millisecond
	opts.ReadTimeout = 100 * time.Millisecond
	c := runConsumer(t, opts, nil)
	require.Eventually(t, func() bool { return c.fh.Stats().Connects >= 3 }, waitFor, time.Millisecond,
		"a silent stream is given up after read_timeout and re-dialled")
}

func TestFirehosePongsKeepQuietStreamAlive(t *testing.T) {
	relay := startFakeRelay(t, func(conn *websocket.Conn) {
		go func() { // read so that the client's pings are answered
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
	})
	opts := fastOptions(relay.srv.URL)
	opts.PingInterval = 20 * time.Millisecond
	opts.ReadTimeout = 300 * time.Millisecond
	c := runConsumer(t, opts, nil)
	require.Eventually(t, func() bool { return c.fh.Stats().Connects == 1 }, waitFor, time.Millisecond)
	require.Never(t, func() bool { return c.fh.Stats().Connects > 1 }, 4*opts.ReadTimeout, 10*time.Millisecond,
		"pongs renew the read deadline")
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{every: time.Second}
	now := time.Unix(1000, 0)
	ok, n := l.allow(now)
	assert.True(t, ok)
	assert.Zero(t, n)
	for i := range 5 {
		ok, _ = l.allow(now.Add(time.Duration(i) * 100 * time.Millisecond))
		assert.False(t, ok)
	}
	ok, n = l.allow(now.Add(time.Second))
	assert.True(t, ok)
	assert.Equal(t, 5, n, "the next line reports what was suppressed")
}
