package atproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
)

const waitFor = 10 * time.Second

// startNet runs a testnet for one test or benchmark.
func startNet(t testing.TB) *testnet.Network {
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

// consumer runs a Firehose in the background and collects what it hands
// to the handler.
type consumer struct {
	fh     *Firehose
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	events []FirehoseEvent
	// last is the seq of the last event handled, for resuming cursors.
	last atomic.Int64
}

// fastOptions are options with test-sized delays.
func fastOptions(relayURL string) FirehoseOptions {
	return FirehoseOptions{
		RelayURL: relayURL,
		Backoff:  pipeline.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond},
	}
}

// runConsumer starts Run with opts; the handler runs hook (if any) first.
// The consumer is stopped (and must stop) when the test ends.
func runConsumer(t *testing.T, opts FirehoseOptions, hook func(ctx context.Context, ev FirehoseEvent) error) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{fh: NewFirehose(opts), cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- c.fh.Run(ctx, func(ctx context.Context, ev FirehoseEvent) error {
			if hook != nil {
				if err := hook(ctx, ev); err != nil {
					return err
				}
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			c.last.Store(ev.Seq)
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels Run and checks that it returns promptly.
func (c *consumer) stop(t *testing.T) error {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		c.done <- err // later calls see it too
		return err
	case <-time.After(waitFor):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

func (c *consumer) got() []FirehoseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]FirehoseEvent(nil), c.events...)
}

// waitSeq waits until the consumer handled seq.
func (c *consumer) waitSeq(t *testing.T, seq int64) {
	t.Helper()
	require.Eventually(t, func() bool { return c.last.Load() >= seq }, waitFor, time.Millisecond,
		"consumer should reach seq %d (at %d)", seq, c.last.Load())
}

// waitStreaming waits until c's stream is live: the relay registers a
// subscriber before it fixes the stream's start, so a write right after
// Subscribers() == 1 may precede it. #info probes (no seq) are sent until
// one arrives.
func (c *consumer) waitStreaming(t *testing.T, n *testnet.Network) {
	t.Helper()
	before := c.fh.Stats().Infos
	require.Eventually(t, func() bool {
		_, err := n.EmitInfo("Probe", "")
		require.NoError(t, err)
		return c.fh.Stats().Infos > before
	}, waitFor, 5*time.Millisecond)
}

// waitSubscribers waits until the relay has n firehose connections.
func waitSubscribers(t *testing.T, n *testnet.Network, count int) {
	t.Helper()
	require.Eventually(t, func() bool { return n.Subscribers() == count }, waitFor, time.Millisecond)
}

// writeRecords creates count posts spread over accts.
func writeRecords(t *testing.T, accts []*testnet.Account, count int) {
	t.Helper()
	for i := range count {
		_, err := accts[i%len(accts)].CreateRecord(testnet.CollectionPost, "", map[string]any{"text": fmt.Sprint(i)})
		require.NoError(t, err)
	}
}

// seqEvents returns the network's events that carry a seq, in order.
func seqEvents(n *testnet.Network, after int64) []testnet.Event {
	var out []testnet.Event
	for _, ev := range n.Events() {
		if ev.Seq > after {
			out = append(out, ev)
		}
	}
	return out
}

// requireSameEvents checks that got are exactly want, in order.
func requireSameEvents(t *testing.T, want []testnet.Event, got []FirehoseEvent) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		require.Equal(t, w.Seq, g.Seq, "event %d", i)
		require.Equal(t, w.DID, g.DID, "event %d", i)
		require.Equal(t, string(w.Kind), kindOf(g), "event %d (seq %d)", i, w.Seq)
	}
}

func kindOf(ev FirehoseEvent) string {
	switch {
	case ev.Commit != nil:
		return "commit"
	case ev.Sync != nil:
		return "sync"
	case ev.Identity != nil:
		return "identity"
	case ev.Account != nil:
		return "account"
	}
	return "none"
}

// closedPort returns the address of a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
