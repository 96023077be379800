package firehosesource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// started by go-log's package init (via indigo's dependencies), not by us
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/writer.(*MirrorWriter).logRoutine"),
	)
}

const waitFor = 10 * time.Second

func startNet(t *testing.T) *testnet.Network {
	t.Helper()
	var n *testnet.Network
	var err error
	// The testnet's DNS responder takes the TCP port of its UDP port, which
	// another process may hold: retry such a start.
	for range 5 {
		if n, err = testnet.Start(t.Context(), testnet.Options{}); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	require.NoError(t, err)
	t.Cleanup(n.Close)
	return n
}

// globalConfig is the part of tap's configuration the source reads.
func globalConfig(relayURL string) *config.Config {
	return &config.Config{Relay: config.RelayConfig{URL: relayURL, CursorSaveInterval: 5 * time.Millisecond}}
}

// testConfig is the default source configuration with test-sized delays.
func testConfig() *Config {
	c := createDefaultConfig().(*Config)
	c.ReconnectDelay = 5 * time.Millisecond
	c.ReconnectMaxDelay = 50 * time.Millisecond
	return c
}

// newTestSource builds a source through the factory, as the graph does.
func newTestSource(t *testing.T, cfg *Config, global *config.Config, db *store.DB, submit pipeline.Submit) *Source {
	t.Helper()
	require.NoError(t, cfg.Validate())
	set := pipeline.Settings{
		ID:        pipeline.ID{Type: Type},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Resources: []any{global, db},
	}
	src, err := NewFactory().Create(t.Context(), set, cfg, submit)
	require.NoError(t, err)
	return src.(*Source)
}

// recorder is a lanes handler that records events and can hold back the
// events of chosen seqs until released.
type recorder struct {
	mu     sync.Mutex
	events []*pipeline.Event
	seen   map[int64]bool
	held   map[int64]chan struct{}
}

func newRecorder() *recorder {
	return &recorder{seen: map[int64]bool{}, held: map[int64]chan struct{}{}}
}

// hold makes the handler block on seq until release(seq).
func (r *recorder) hold(seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[seq] = make(chan struct{})
}

func (r *recorder) release(seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.held[seq])
}

func (r *recorder) handle(ctx context.Context, ev *pipeline.Event) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.seen[ev.Seq] = true
	wait := r.held[ev.Seq]
	r.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *recorder) saw(seq int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[seq]
}

// got returns the recorded events ordered by seq.
func (r *recorder) got() []*pipeline.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]*pipeline.Event(nil), r.events...)
	slices.SortFunc(out, func(a, b *pipeline.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// startLanes runs real lanes over handler, shut down when the test ends.
func startLanes(t *testing.T, handler func(context.Context, *pipeline.Event) error) *pipeline.Lanes {
	t.Helper()
	l := pipeline.NewLanes(pipeline.LanesConfig{Workers: 4, Capacity: 64}, nil, handler)
	l.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, l.Shutdown(ctx))
	})
	return l
}

// shutdown stops src within waitFor.
func shutdown(t *testing.T, src *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, src.Shutdown(ctx))
}

// savedCursor reads the cursor saved for the relay.
func savedCursor(t *testing.T, db *store.DB, relayURL string) int64 {
	t.Helper()
	c, err := db.GetFirehoseCursor(t.Context(), relayURL)
	require.NoError(t, err)
	return c
}

// writeRecords creates count posts spread over accts.
func writeRecords(t *testing.T, accts []*testnet.Account, count int) {
	t.Helper()
	for i := range count {
		_, err := accts[i%len(accts)].CreateRecord(testnet.CollectionPost, "", map[string]any{"text": fmt.Sprint(i)})
		require.NoError(t, err)
	}
}

// networkEvents returns the events with a seq the relay emitted after after.
func networkEvents(n *testnet.Network, after int64) []testnet.Event {
	var out []testnet.Event
	for _, ev := range n.Events() {
		if ev.Seq > after {
			out = append(out, ev)
		}
	}
	return out
}

// networkSeqs returns the seqs the relay emitted after after.
func networkSeqs(n *testnet.Network, after int64) []int64 {
	var out []int64
	for _, ev := range networkEvents(n, after) {
		out = append(out, ev.Seq)
	}
	return out
}

func seqsOf(evs []*pipeline.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// waitStreaming waits until src's stream is live: the relay registers a
// subscriber before it fixes the stream's start, so a write right after
// Subscribers() == 1 may precede it. #info probes (no seq) are sent until
// one arrives.
func waitStreaming(t *testing.T, n *testnet.Network, src *Source) {
	t.Helper()
	before := src.Stats().Infos
	require.Eventually(t, func() bool {
		_, err := n.EmitInfo("Probe", "")
		require.NoError(t, err)
		return src.Stats().Infos > before
	}, waitFor, 5*time.Millisecond)
}
