package testnet

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunLoad(t *testing.T) {
	n := startNet(t, Options{})
	accts := createAccounts(t, n, 5)
	_, err := accts[4].SetStatus(StatusTakendown)
	require.NoError(t, err)
	before := n.LastSeq()
	st, err := n.RunLoad(t.Context(), LoadOptions{MaxCommits: 300, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, int64(300), st.Commits)
	assert.Equal(t, st.Commits, st.Creates+st.Updates+st.Deletes)
	assert.Positive(t, st.Updates)
	assert.Positive(t, st.Deletes)
	assert.Equal(t, before+300, n.LastSeq())
	assert.Equal(t, 0, accts[4].RecordCount(), "inactive accounts are skipped")
	fh := subscribe(t, n, "0")
	for range before {
		fh.next(t)
	}
	for range 300 {
		verifyCommit(t, t.Context(), n, fh.next(t).evt.RepoCommit)
	}
	for _, a := range accts[:4] {
		checkRepoCAR(t, n, a)
	}
}

// BenchmarkLoad measures live firehose throughput: commits generated,
// signed, logged and delivered to one websocket subscriber on loopback.
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 200000x ./internal/testnet/
func BenchmarkLoad(b *testing.B) {
	n := startNet(b, Options{})
	accts := createAccounts(b, n, 1000)
	require.NoError(b, n.GenerateHistory(b.Context(), accts, 10))
	url := strings.Replace(n.RelayURL(), "http://", "ws://", 1) + "/xrpc/com.atproto.sync.subscribeRepos"
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(b, err)
	resp.Body.Close()
	defer conn.Close()
	waitSubscribers(b, n, 1)
	received := make(chan int, 1)
	go countFrames(conn, b.N, received)

	b.ResetTimer()
	start := time.Now()
	st, err := n.RunLoad(b.Context(), LoadOptions{MaxCommits: int64(b.N)})
	require.NoError(b, err)
	got := <-received
	elapsed := time.Since(start)
	b.StopTimer()
	require.Equal(b, b.N, got)
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
	b.ReportMetric(st.PerSecond(), "generated/s")
}

// countFrames reads frames until want #commit frames arrived.
func countFrames(conn *websocket.Conn, want int, out chan<- int) {
	got := 0
	for got < want {
		_, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		var hdr events.EventHeader
		if hdr.UnmarshalCBOR(bytes.NewReader(data)) == nil && hdr.MsgType == "#commit" {
			got++
		}
	}
	out <- got
}

func TestStagedLoad(t *testing.T) {
	n := startNet(t, Options{})
	createAccounts(t, n, 3)
	before := n.LastSeq()
	fh := subscribe(t, n, "")
	waitSubscribers(t, n, 1)
	staged, err := n.StageLoad(t.Context(), LoadOptions{MaxCommits: 50})
	require.NoError(t, err)
	assert.Equal(t, int64(50), staged.Generated().Commits)
	assert.Equal(t, before, n.LastSeq(), "held back")
	assert.Len(t, n.Events(), int(before))
	st, err := staged.Release(t.Context(), 5000)
	require.NoError(t, err)
	assert.Equal(t, int64(50), st.Commits)
	assert.Equal(t, before+50, n.LastSeq())
	for i := range 50 {
		msg := fh.next(t).evt.RepoCommit
		assert.Equal(t, before+int64(i)+1, msg.Seq)
		verifyCommit(t, t.Context(), n, msg)
	}
}

// BenchmarkStagedRelease measures how fast pre-generated commits reach one
// websocket subscriber (generation excluded: see BenchmarkLoad).
//
//	go test -run '^$' -bench BenchmarkStagedRelease -benchtime 200000x ./internal/testnet/
func BenchmarkStagedRelease(b *testing.B) {
	n := startNet(b, Options{})
	accts := createAccounts(b, n, 1000)
	require.NoError(b, n.GenerateHistory(b.Context(), accts, 10))
	url := strings.Replace(n.RelayURL(), "http://", "ws://", 1) + "/xrpc/com.atproto.sync.subscribeRepos"
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(b, err)
	resp.Body.Close()
	defer conn.Close()
	waitSubscribers(b, n, 1)
	staged, err := n.StageLoad(b.Context(), LoadOptions{MaxCommits: int64(b.N)})
	require.NoError(b, err)
	received := make(chan int, 1)
	go countFrames(conn, b.N, received)

	b.ResetTimer()
	start := time.Now()
	_, err = staged.Release(b.Context(), 0)
	require.NoError(b, err)
	got := <-received
	elapsed := time.Since(start)
	b.StopTimer()
	require.Equal(b, b.N, got)
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
	b.ReportMetric(staged.Generated().PerSecond(), "generated/s")
}

// TestConsecutiveLoadsVerify: a second load must not replay the first
// one's records (an update to identical content made a commit whose CAR
// lacked the unchanged tree), so every commit of both verifies.
func TestConsecutiveLoadsVerify(t *testing.T) {
	n := startNet(t, Options{})
	accts := createAccounts(t, n, 200)
	require.NoError(t, n.GenerateHistory(t.Context(), accts, 10))
	start := n.LastSeq()
	for range 2 {
		st, err := n.StageLoad(t.Context(), LoadOptions{Accounts: accts, MaxCommits: 3000})
		require.NoError(t, err)
		_, err = st.Release(t.Context(), 0)
		require.NoError(t, err)
	}
	fh := subscribe(t, n, strconv.FormatInt(start, 10))
	for last := n.LastSeq(); ; {
		fr := fh.next(t)
		msg := fr.evt.RepoCommit
		if msg == nil {
			continue
		}
		_, err := repo.VerifyCommitMessage(t.Context(), msg)
		require.NoError(t, err, "seq %d", msg.Seq)
		if msg.Seq == last {
			return
		}
	}
}
