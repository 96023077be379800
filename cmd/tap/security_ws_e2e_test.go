package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// secWSReader is a healthy /channel client: it reads every frame and acks it.
type secWSReader struct {
	mu  sync.Mutex
	ids map[int64]int // id → times received
	err error
}

func (r *secWSReader) run(conn *websocket.Conn) {
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
		id, ok := secEventID(msg)
		if ok {
			r.mu.Lock()
			r.ids[id]++
			r.mu.Unlock()
		}
		if conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","id":%d}`, id)) != nil {
			return
		}
	}
}

// secEventID reads the id of an event frame, which tap writes first
// ({"id":N,...}), without decoding the rest: frames here are large.
func secEventID(msg []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(msg, []byte(`{"id":`))
	if !ok {
		return 0, false
	}
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return id, err == nil
}

func (r *secWSReader) snapshot() (map[int64]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]int, len(r.ids))
	for k, v := range r.ids {
		out[k] = v
	}
	return out, r.err
}

// secStalledDialer dials with a 4 KiB receive buffer, so that a client that
// never reads fills its window after a few frames.
func secStalledDialer() *websocket.Dialer {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return &websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 10 * time.Second}
}

// secDisconnected returns the reason logged when the client at remote was
// dropped, or "".
func secDisconnected(out fmt.Stringer, remote string) string {
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "websocket client disconnected" && m["remote"] == remote {
			s, _ := m["reason"].(string)
			return s
		}
	}
	return ""
}

// A websocket client that never reads is dropped once a frame write exceeds
// the sink's write_timeout, while a healthy client keeps receiving; what the
// stalled client was sent and never acked goes to the healthy one, so every
// event is acked and none is lost. retry_timeout and pong_timeout are an
// hour, so only the write timeout can drop the client and requeue its events.
func TestE2ESecurityStalledWebsocket(t *testing.T) {
	const writeTimeout = time.Second
	// Live events of one DID go out one at a time (the next waits for the
	// ack of the previous), so the stalled client holds at most one event
	// per DID: many DIDs with large records fill its window and tap's send
	// buffer (up to net.ipv4.tcp_wmem's 4 MiB).
	accounts, textSize, maxBatches := 32, 512<<10, 10
	if secSoak() {
		accounts, maxBatches = 64, 40
	}
	net, accts := startNetwork(t, accounts, 0)
	const pw = "ws-admin-pw"
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	ti := startTap(t, net, env, func(c *config.Config) {
		// One event per Deliver call and many calls: the events the stalled
		// client holds do not take every Deliver slot of the sink first.
		for i := range c.Pipeline.Stages {
			if c.Pipeline.Stages[i].ID == "order" {
				c.Pipeline.Stages[i].Config = map[string]any{"sink_batch": 1, "max_in_flight_batches": 1024}
			}
		}
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "websocket", Config: map[string]any{
			"write_timeout": writeTimeout.String(), "retry_timeout": "1h",
			"ping_interval": "30m", "pong_timeout": "1h",
		}}}
	})
	auth := secCreds(pw)[3].header()
	stalled, _, err := secStalledDialer().DialContext(t.Context(), "ws://"+ti.addr+"/channel", auth)
	require.NoError(t, err)
	defer stalled.Close()
	healthyConn, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+ti.addr+"/channel", auth)
	require.NoError(t, err)
	defer healthyConn.Close()
	healthy := &secWSReader{ids: map[int64]int{}}
	go healthy.run(healthyConn)

	ti.addRepos(accts...)
	text := strings.Repeat("z", textSize)
	records, batches := 0, 0
	remote := stalled.LocalAddr().String()
	for reason := ""; reason == ""; reason = secDisconnected(ti.out, remote) {
		if batches >= maxBatches {
			hids, _ := healthy.snapshot()
			n, _ := ti.db.CountOutbox(t.Context())
			_ = stalled.SetReadDeadline(time.Now().Add(2 * time.Second))
			got, bytes := 0, 0
			for {
				_, msg, err := stalled.ReadMessage()
				if err != nil {
					break
				}
				got++
				bytes += len(msg)
			}
			t.Logf("the stalled client had %d frames (%d bytes) waiting in its socket", got, bytes)
			t.Fatalf("the stalled client was never dropped after %d records (healthy got %d, outbox %d)", records, len(hids), n)
		}
		errs := make(chan error, len(accts))
		for i, a := range accts { // accounts are independent: make the records in parallel
			go func() {
				_, err := a.CreateRecord(post, rkeyOf(records+i), rec(text))
				errs <- err
			}()
		}
		for range accts {
			require.NoError(t, <-errs)
		}
		records += len(accts)
		batches++
		// The batch is through the pipeline (in the outbox, being
		// delivered) before the next one: records are not made far ahead of
		// what the drop needs.
		ti.waitFor("the batch stored", func() bool {
			for _, a := range accts {
				if ti.repo(a.DID()).Rev != a.Rev().String() {
					return false
				}
			}
			return true
		})
	}
	reason := secDisconnected(ti.out, remote)
	defer func() {
		if t.Failed() {
			for _, l := range strings.Split(ti.out.String(), "\n") {
				if !strings.Contains(l, "http request") && !strings.Contains(l, "applied migration") {
					t.Log("tap:", l[:min(len(l), 400)])
				}
			}
		}
	}()
	require.Contains(t, reason, "write_timeout", "dropped for the write timeout: %s", reason)

	want := records + accounts // + an identity event per account
	ti.waitFor("every event acked by the healthy client", func() bool {
		ids, err := healthy.snapshot()
		n, cerr := ti.db.CountOutbox(t.Context())
		return err == nil && cerr == nil && n == 0 && len(ids) >= want
	})
	ids, err := healthy.snapshot()
	require.NoError(t, err, "the healthy client stayed connected")
	require.Len(t, ids, want)

	// What reached the stalled client's socket before the drop: every one
	// of those events was redelivered to the healthy client.
	require.NoError(t, stalled.SetReadDeadline(time.Now().Add(10*time.Second)))
	stalledIDs := map[int64]bool{}
	for {
		_, msg, err := stalled.ReadMessage()
		if err != nil {
			break
		}
		id, ok := secEventID(msg)
		require.True(t, ok, "an event frame: %.100s", msg)
		stalledIDs[id] = true
	}
	redelivered := 0
	for id := range stalledIDs {
		require.Contains(t, ids, id, "event %d sent to the stalled client never reached the healthy one", id)
		redelivered++
	}
	t.Logf("reliability: security stalled-websocket records=%d (%d KiB each) dropped after write_timeout=%s stalled-received=%d redelivered=%d lost=0",
		records, textSize>>10, writeTimeout, len(stalledIDs), redelivered)
}

// rkeyOf is a distinct record key per index.
func rkeyOf(i int) syntax.RecordKey { return syntax.RecordKey(fmt.Sprintf("stall%06d", i)) }

// With the default order stage settings a client that never reads holds
// few events, too few to block a write, but they pin the sink's Deliver
// calls (max_in_flight_batches), so delivery to every client waits until
// it is dropped: a client that never reads never answers a ping either,
// so pong_timeout drops it and its events go to the healthy client.
func TestE2ESecurityNonReaderDroppedByPongTimeout(t *testing.T) {
	const pongTimeout = time.Second
	net, accts := startNetwork(t, 4, 5)
	const pw = "pong-admin-pw"
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = pw
	ti := startTap(t, net, env, func(c *config.Config) {
		c.Pipeline.Sinks = []pipeline.ComponentConfig{{ID: "websocket", Config: map[string]any{
			"retry_timeout": "1h", "ping_interval": "200ms", "pong_timeout": pongTimeout.String(),
		}}}
	})
	auth := secCreds(pw)[3].header()
	stalled, _, err := secStalledDialer().DialContext(t.Context(), "ws://"+ti.addr+"/channel", auth)
	require.NoError(t, err)
	defer stalled.Close()
	healthyConn, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+ti.addr+"/channel", auth)
	require.NoError(t, err)
	defer healthyConn.Close()
	healthy := &secWSReader{ids: map[int64]int{}}
	go healthy.run(healthyConn)
	ti.addRepos(accts...)

	want := 4*5 + 4
	remote := stalled.LocalAddr().String()
	ti.waitFor("the non-reader dropped and every event acked by the healthy client", func() bool {
		ids, err := healthy.snapshot()
		n, cerr := ti.db.CountOutbox(t.Context())
		return err == nil && cerr == nil && n == 0 && len(ids) >= want && secDisconnected(ti.out, remote) != ""
	})
	require.Contains(t, secDisconnected(ti.out, remote), "timed out")
	ids, err := healthy.snapshot()
	require.NoError(t, err)
	require.Len(t, ids, want)
	t.Logf("reliability: security non-reader dropped after pong_timeout=%s events=%d lost=0", pongTimeout, want)
}
