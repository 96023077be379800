package testnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func subscribeURL(n *Network, cursor string) string {
	u := strings.Replace(n.RelayURL(), "http://", "ws://", 1) + "/xrpc/com.atproto.sync.subscribeRepos"
	if cursor != "" {
		u += "?cursor=" + cursor
	}
	return u
}

// A stalled relay sends nothing and answers no ping; frames appended
// meanwhile arrive once it resumes.
func TestRelayStall(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), subscribeURL(n, ""), nil)
	require.NoError(t, err)
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	var pongs atomic.Int32
	conn.SetPongHandler(func(string) error { pongs.Add(1); return nil })
	frames := make(chan []byte, 16)
	go func() {
		defer close(frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			frames <- data
		}
	}()
	waitSubscribers(t, n, 1)
	// Healthy: a ping gets its pong.
	require.NoError(t, conn.WriteControl(websocket.PingMessage, []byte("1"), time.Now().Add(time.Second)))
	require.Eventually(t, func() bool { return pongs.Load() == 1 }, 10*time.Second, time.Millisecond)

	n.Faults().StallRelay(0)
	require.True(t, n.Faults().Stalled())
	ev, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "during stall"})
	require.NoError(t, err)
	require.NoError(t, conn.WriteControl(websocket.PingMessage, []byte("2"), time.Now().Add(time.Second)))
	require.Eventually(t, func() bool { return n.Faults().RelayFaultStats().StalledPings == 1 }, 10*time.Second, time.Millisecond)
	assert.Empty(t, frames, "a stalled relay sends nothing")
	assert.Equal(t, int32(1), pongs.Load(), "the stalled reader sent no pong")

	n.Faults().ResumeRelay()
	select {
	case data := <-frames:
		var evt events.XRPCStreamEvent
		require.NoError(t, evt.Deserialize(bytes.NewReader(data)))
		assert.Equal(t, ev.Seq, evt.RepoCommit.Seq, "the held frame arrives after the stall")
	case <-time.After(10 * time.Second):
		t.Fatal("no frame after the stall ended")
	}
	require.NoError(t, conn.WriteControl(websocket.PingMessage, []byte("3"), time.Now().Add(time.Second)))
	require.Eventually(t, func() bool { return pongs.Load() == 2 }, 10*time.Second, time.Millisecond, "pings are answered again")

	// A timed stall ends by itself.
	n.Faults().StallRelay(20 * time.Millisecond)
	require.Eventually(t, func() bool { return !n.Faults().Stalled() }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 2, n.Faults().RelayFaultStats().Stalls)
}

// A replay flood re-sends already-sent #commit frames byte for byte, with
// their old seqs; the relay's own seq does not move.
func TestRelayReplayOldCommits(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	var sent []Event
	for i := range 3 {
		ev, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": fmt.Sprint(i)})
		require.NoError(t, err)
		sent = append(sent, ev)
	}
	frames := map[int64][]byte{}
	fh := subscribe(t, n, "0")
	for range n.LastSeq() {
		fr := fh.next(t)
		frames[seqOf(fr.evt)] = fr.data
	}
	last := n.LastSeq()
	evs, err := n.Faults().ReplayOldCommits(7)
	require.NoError(t, err)
	require.Len(t, evs, 7)
	for i, ev := range evs {
		fr := fh.next(t)
		require.Equal(t, KindReplay, ev.Kind)
		assert.Equal(t, ev.Seq, seqOf(fr.evt), "replay %d keeps its old seq", i)
		assert.LessOrEqual(t, ev.Seq, last)
		assert.Equal(t, frames[ev.Seq], fr.data, "replay %d is the old frame unchanged", i)
		require.NotNil(t, fr.evt.RepoCommit)
	}
	assert.Equal(t, last, n.LastSeq(), "replays take no new seq")
	assert.Equal(t, 7, n.Faults().RelayFaultStats().Replays)
	seen := map[int64]bool{}
	for _, ev := range evs {
		seen[ev.Seq] = true
	}
	assert.True(t, seen[sent[2].Seq] && seen[sent[0].Seq], "the replay cycles through the kept commits")
}

// Rewound seqs: new commits go out with a seq below what was already sent;
// the log keeps the true seqs.
func TestRelayRewindNextSeqs(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	for range 4 {
		_, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
		require.NoError(t, err)
	}
	fh := subscribe(t, n, "")
	waitSubscribers(t, n, 1)
	n.Faults().RewindNextSeqs(2, 3)
	var made []Event
	for range 3 {
		ev, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "new"})
		require.NoError(t, err)
		made = append(made, ev)
	}
	for i, ev := range made {
		c := fh.next(t).evt.RepoCommit
		require.NotNil(t, c)
		want := ev.Seq
		if i < 2 {
			want = ev.Seq - 3
		}
		assert.Equal(t, want, c.Seq, "frame %d", i)
		assert.Equal(t, ev.Commit, cid.Cid(c.Commit), "frame %d carries the new commit", i)
		assert.Equal(t, ev.Rev.String(), c.Rev)
	}
	assert.Equal(t, 2, n.Faults().RelayFaultStats().Rewound)
	fh2 := subscribe(t, n, fmt.Sprint(made[0].Seq-1))
	for _, ev := range made {
		assert.Equal(t, ev.Seq, seqOf(fh2.next(t).evt), "a replay from the log has the true seqs")
	}
}

// Oversized frames: garbage of exactly the size asked, and a well-formed
// #commit padded past it under a new seq.
func TestRelayOversizedFrames(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	orig, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
	require.NoError(t, err)
	fh := subscribe(t, n, "")
	waitSubscribers(t, n, 1)
	const size = 300 << 10
	for range 2 {
		ev, err := n.Faults().EmitOversizedFrame(size)
		require.NoError(t, err)
		assert.Equal(t, KindOversized, ev.Kind)
		fr := fh.next(t)
		assert.Len(t, fr.data, size)
		assert.Nil(t, fr.evt, "garbage does not decode")
	}
	ev, err := n.Faults().EmitOversizedCommit(a.DID(), size)
	require.NoError(t, err)
	assert.Equal(t, n.LastSeq(), ev.Seq)
	fr := fh.next(t)
	assert.GreaterOrEqual(t, len(fr.data), size)
	c := fr.evt.RepoCommit
	require.NotNil(t, c, "the oversized commit is well-formed")
	assert.Equal(t, ev.Seq, c.Seq)
	assert.Equal(t, a.DID().String(), c.Repo)
	assert.Equal(t, orig.Rev.String(), c.Rev)
	assert.Equal(t, orig.Commit, cid.Cid(c.Commit))
	assert.Greater(t, len(c.Blocks), size-1024, "the blocks carry the padding")
	assert.Equal(t, 3, n.Faults().RelayFaultStats().Oversized)
}

// Repeated drops cut each of the next connections after k frames; then
// connections stay up.
func TestRelayRepeatedDrops(t *testing.T) {
	n := startNet(t, Options{})
	a := createAccounts(t, n, 1)[0]
	for range 10 {
		_, err := a.CreateRecord(CollectionPost, "", map[string]any{"text": "x"})
		require.NoError(t, err)
	}
	require.Equal(t, 0, n.Faults().DropConnectionsRepeatedly(3, 2), "no open connection to arm")
	cursor := int64(0)
	for conn := range 2 {
		fh := subscribe(t, n, fmt.Sprint(cursor))
		for i := range 3 {
			cursor = seqOf(fh.next(t).evt)
			assert.Equal(t, int64(conn*3+i+1), cursor)
		}
		fh.closed(t)
	}
	fh := subscribe(t, n, fmt.Sprint(cursor))
	for range n.LastSeq() - cursor {
		cursor = seqOf(fh.next(t).evt)
	}
	assert.Equal(t, n.LastSeq(), cursor, "the third connection is not cut")
	assert.Equal(t, 2, n.Faults().RelayFaultStats().DropsArmed)

	// afterFrames 0 cuts a new connection before any frame.
	n.Faults().DropConnectionsRepeatedly(0, 2) // arms the open one and one new
	fh.closed(t)
	fh = subscribe(t, n, "0")
	fh.closed(t)
	n.Faults().ClearRelayFaults()
	fh = subscribe(t, n, "0")
	assert.Equal(t, int64(1), seqOf(fh.next(t).evt))
}

// A refused subscribe answers the status with an XRPC error, for Times
// requests or until cleared.
func TestRelayRefuseSubscriptions(t *testing.T) {
	n := startNet(t, Options{})
	dial := func() (int, error) {
		conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), subscribeURL(n, ""), nil)
		if resp != nil {
			resp.Body.Close()
		}
		if err == nil {
			conn.Close()
			return http.StatusSwitchingProtocols, nil
		}
		if resp == nil {
			return 0, err
		}
		return resp.StatusCode, err
	}
	n.Faults().RefuseSubscriptions(RelayRefusal{Status: http.StatusServiceUnavailable, Times: 2})
	for range 2 {
		status, err := dial()
		require.Error(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, status)
	}
	status, err := dial()
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, status)

	n.Faults().RefuseSubscriptions(RelayRefusal{Status: http.StatusBadGateway})
	for range 3 {
		status, _ := dial()
		assert.Equal(t, http.StatusBadGateway, status)
	}
	n.Faults().ClearRelayFaults()
	status, err = dial()
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, status)
	assert.Equal(t, 5, n.Faults().RelayFaultStats().Refused)
}

// Every PLC fault breaks resolution of exactly the DIDs it names, with the
// artefact of its kind, and clears.
func TestPLCFaults(t *testing.T) {
	n := startNet(t, Options{})
	accts := createAccounts(t, n, 2)
	target, other := accts[0].DID(), accts[1].DID()
	dir := n.Directory()
	plcGet := func(did syntax.DID) (int, []byte) {
		status, _, body := get(t, n.PLCURL()+"/"+did.String())
		return status, body
	}
	for _, kind := range PLCFaultKinds {
		t.Run(kind.String(), func(t *testing.T) {
			n.Faults().SetPLCFault(target, PLCFault{Kind: kind, Bytes: 2 << 20})
			status, body := plcGet(target)
			var doc map[string]any
			jsonErr := json.Unmarshal(body, &doc)
			switch kind {
			case PLCFaultInvalidJSON:
				assert.Equal(t, http.StatusOK, status)
				assert.Error(t, jsonErr)
			case PLCFaultWrongShape:
				assert.Equal(t, http.StatusOK, status)
				require.NoError(t, jsonErr)
				assert.Equal(t, float64(42), doc["id"])
			case PLCFaultServerError:
				assert.Equal(t, http.StatusInternalServerError, status)
			case PLCFaultHugeBody:
				assert.Equal(t, http.StatusOK, status)
				assert.Len(t, body, 2<<20)
				require.NoError(t, jsonErr, "the huge body is a valid document")
				assert.Equal(t, target.String(), doc["id"])
			case PLCFaultOtherDID:
				assert.Equal(t, http.StatusOK, status)
				require.NoError(t, jsonErr)
				assert.Equal(t, other.String(), doc["id"])
			}
			_, err := dir.LookupDID(t.Context(), target)
			if kind != PLCFaultHugeBody { // indigo reads the padded document in full and finds no key
				require.Error(t, err, "indigo rejects %s", kind)
			}
			_, err = dir.LookupDID(t.Context(), other)
			require.NoError(t, err, "another DID is unaffected")
			n.Faults().ClearPLCFaults()
			_, err = dir.LookupDID(t.Context(), target)
			require.NoError(t, err, "cleared")
		})
	}
	// An all-DIDs rule with Times.
	n.Faults().SetPLCFault("", PLCFault{Kind: PLCFaultServerError, Times: 2})
	s1, _ := plcGet(target)
	s2, _ := plcGet(other)
	s3, _ := plcGet(target)
	assert.Equal(t, []int{500, 500, 200}, []int{s1, s2, s3})
	assert.Equal(t, len(PLCFaultKinds)*2+2, n.Faults().RelayFaultStats().PLCGarbage)
}
