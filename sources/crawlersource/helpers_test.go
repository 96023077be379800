package crawlersource

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/atproto"
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

// atprotoUA is the User-Agent resource the tests hand the source.
var atprotoUA = atproto.UserAgent("tap/test")

func startNet(t *testing.T) *testnet.Network {
	t.Helper()
	var n *testnet.Network
	var err error
	// The testnet's DNS responder takes the TCP port of its UDP port, which
	// another process may hold: retry such a start.
	for range 5 {
		if n, err = testnet.Start(t.Context(), testnet.Options{PDSCount: 2}); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	require.NoError(t, err)
	t.Cleanup(n.Close)
	return n
}

// testConfig is the default configuration with test-sized delays and
// small pages, so that passes span several pages.
func testConfig() *Config {
	c := createDefaultConfig().(*Config)
	c.PageSize = 2
	c.RetryDelay = 5 * time.Millisecond
	c.RetryMaxDelay = 20 * time.Millisecond
	c.RequestTimeout = 5 * time.Second
	return c
}

func signalConfig(relayURL, collection string) *config.Config {
	return &config.Config{Relay: config.RelayConfig{URL: relayURL}, Scope: config.ScopeConfig{SignalCollection: collection}}
}

func fullNetworkConfig(relayURL string) *config.Config {
	return &config.Config{Relay: config.RelayConfig{URL: relayURL}, Scope: config.ScopeConfig{FullNetwork: true}}
}

// dynamicConfig enumerates nothing: repos come from the API and firehose.
func dynamicConfig(relayURL string) *config.Config {
	return &config.Config{Relay: config.RelayConfig{URL: relayURL}}
}

// outboxOnly switches g to outbox-only mode.
func outboxOnly(g *config.Config) *config.Config {
	g.Outbox.Only = true
	return g
}

// newTestSource builds a source through the factory, as the graph does.
func newTestSource(t *testing.T, cfg *Config, global *config.Config, db *store.DB) *Source {
	t.Helper()
	require.NoError(t, cfg.Validate())
	set := pipeline.Settings{
		ID:        pipeline.ID{Type: Type},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Resources: []any{global, db, atprotoUA},
	}
	src, err := NewFactory().Create(t.Context(), set, cfg, nil)
	require.NoError(t, err)
	return src.(*Source)
}

// start starts src and shuts it down when the test ends.
func start(t *testing.T, src *Source) {
	t.Helper()
	require.NoError(t, src.Start(t.Context(), nil))
	t.Cleanup(func() { shutdown(t, src) })
}

func shutdown(t *testing.T, src *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, src.Shutdown(ctx))
}

// trackedDIDs returns the DIDs of every repo row, sorted, and checks that
// they are all pending.
func trackedDIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	repos, err := db.ListRepos(t.Context(), store.ListReposQuery{})
	require.NoError(t, err)
	out := make([]string, 0, len(repos))
	for _, r := range repos {
		require.Equal(t, store.RepoStatePending, r.State, r.DID)
		out = append(out, r.DID)
	}
	return out
}

func didsOf(accts []*testnet.Account) []string {
	out := make([]string, 0, len(accts))
	for _, a := range accts {
		out = append(out, a.DID().String())
	}
	slices.Sort(out)
	return out
}

// fakeRelay serves scripted listing pages keyed by the request's cursor
// and records the requests.
type fakeRelay struct {
	srv *httptest.Server

	mu       sync.Mutex
	pages    map[string]any // cursor → JSON body
	requests []*http.Request
	fail     int // answer this many requests with HTTP 500 first
}

func startFakeRelay(t *testing.T, pages map[string]any) *fakeRelay {
	t.Helper()
	f := &fakeRelay{pages: pages}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(context.Background()))
		body, ok := f.pages[r.URL.Query().Get("cursor")]
		failing := f.fail > 0
		if failing {
			f.fail--
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case failing:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"InternalServerError","message":"try later"}`)
		case !ok:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"InvalidRequest","message":"unknown cursor"}`)
		default:
			_ = json.NewEncoder(w).Encode(body)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRelay) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
