package webhooksink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/pipeline"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init of ipfs/go-log, imported through internal/atproto.
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/writer.(*MirrorWriter).logRoutine"),
	)
}

// testUserAgent is the atproto.UserAgent resource of test sinks.
const testUserAgent = "tap/test"

// testConfig is the default configuration with backoffs short enough for
// tests.
func testConfig() Config {
	c := *createDefaultConfig().(*Config)
	c.RetryMin, c.RetryMax = time.Millisecond, 5*time.Millisecond
	c.Timeout = 10 * time.Second
	return c
}

// recorded is one request a receiver got.
type recorded struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint on 127.0.0.1 that records every request
// and answers with respond (n counts requests from 0). A nil respond
// answers 200.
type receiver struct {
	*httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu          sync.Mutex
	reqs        []recorded
	inflight    atomic.Int64
	maxInflight atomic.Int64
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// newResettingReceiver is a receiver answering 200 whose first n
// connections are reset (TCP RST) as soon as they are accepted.
func newResettingReceiver(t *testing.T, n int64) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	ln := &resetListener{Listener: rc.Listener}
	ln.left.Store(n)
	rc.Listener = ln
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

// resetListener resets the first left connections it accepts.
type resetListener struct {
	net.Listener
	left atomic.Int64
}

func (l *resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.left.Add(-1) < 0 {
			return c, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // Close sends RST
		}
		_ = c.Close()
	}
}

// errCanceled is what Deliver reports when its context is cancelled.
var errCanceled = context.Canceled

// contextWithCancel returns a child of t.Context() and its cancel func.
func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	cur := rc.inflight.Add(1)
	defer rc.inflight.Add(-1)
	for {
		prev := rc.maxInflight.Load()
		if cur <= prev || rc.maxInflight.CompareAndSwap(prev, cur) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for respond
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, recorded{at: at, header: r.Header.Clone(), body: body})
	rc.mu.Unlock()
	if rc.respond != nil {
		rc.respond(n, w, r)
	}
}

// requests returns a copy of the requests so far, in arrival order.
func (rc *receiver) requests() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

// count returns how many requests arrived.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// statusSequence answers the given statuses in turn, then 200.
func statusSequence(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < len(codes) {
			w.WriteHeader(codes[n])
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// bodyOf returns the body of a request the receiver got.
func bodyOf(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// hang blocks until the client gives up on the request.
func hang(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// sinkOpts are the resources and global settings of a test sink.
type sinkOpts struct {
	adminPassword string
	globalURL     string
	deadLetters   any // *store.DB
}

// newTestSink creates a sink through the factory with the usual resources
// and shuts it down when t ends.
func newTestSink(t *testing.T, cfg Config, o sinkOpts) *Sink {
	t.Helper()
	g := &config.Config{}
	g.Server.AdminPassword = o.adminPassword
	g.Delivery.WebhookURL = o.globalURL
	res := []any{g, atproto.UserAgent(testUserAgent)}
	if o.deadLetters != nil {
		res = append(res, o.deadLetters)
	}
	set := pipeline.Settings{ID: pipeline.ID{Type: Type}, Resources: res}
	s, err := NewFactory().Create(t.Context(), set, &cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	require.NoError(t, s.Start(t.Context(), nil))
	return s.(*Sink)
}

// sinkFor is newTestSink posting to rc with cfg.
func sinkFor(t *testing.T, rc *receiver, cfg Config) *Sink {
	t.Helper()
	cfg.URL = rc.URL
	return newTestSink(t, cfg, sinkOpts{})
}

// events returns n identity events with ids from 1, whose JSON has the
// escapes the event JSON really has (so a re-encoding would show).
func events(n int) []pipeline.Delivery {
	out := make([]pipeline.Delivery, n)
	for i := range out {
		id := uint64(i + 1)
		did := fmt.Sprintf("did:plc:%024d", i)
		out[i] = pipeline.Delivery{ID: id, DID: did, JSON: fmt.Appendf(nil,
			`{"id":%d,"type":"identity","identity":{"did":%q,"handle":"a\u003cb\u0026c.test","is_active":true,"status":"active"}}`,
			id, did)}
	}
	return out
}

// deliverAsync runs Deliver in a goroutine; the channel gets its result.
func deliverAsync(ctx context.Context, s *Sink, batch []pipeline.Delivery) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Deliver(ctx, batch) }()
	return done
}

// waitResult waits for a Deliver result; a generous bound only guards
// against a hung test.
func waitResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver did not return")
		return nil
	}
}

// eventually waits for cond, polling.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, msg)
}

// defaultUA is the User-Agent of a sink created without the resource.
func defaultUA() atproto.UserAgent { return atproto.DefaultUserAgent() }
