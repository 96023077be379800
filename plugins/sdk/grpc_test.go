package sdk_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/tapkit/tap/plugins/sdk"
	"github.com/tapkit/tap/plugins/sdk/host"
	"github.com/tapkit/tap/plugins/sdk/internal/shared"
)

// recordingSink records what it is given; it acks events of DID
// "did:plc:ok", retries "did:plc:later" and fails the others.
type recordingSink struct {
	mu       sync.Mutex
	config   map[string]any
	batches  [][]sdk.Event
	shutdown bool
	failConf error
}

func (s *recordingSink) Configure(_ context.Context, cfg map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = cfg
	return s.failConf
}

func (s *recordingSink) Deliver(_ context.Context, batch []sdk.Event) []sdk.Result {
	s.mu.Lock()
	s.batches = append(s.batches, batch)
	s.mu.Unlock()
	out := make([]sdk.Result, len(batch))
	for i, ev := range batch {
		switch ev.DID {
		case "did:plc:ok":
			out[i] = sdk.Ack()
		case "did:plc:later":
			out[i] = sdk.RetryLater("busy")
		default:
			out[i] = sdk.Fail("no such destination")
		}
	}
	return out
}

func (s *recordingSink) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	return nil
}

// connect serves impl in process over go-plugin's gRPC test connection.
func connect(t *testing.T, impl sdk.Sink) *host.Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		shared.PluginName: &shared.SinkPlugin{Impl: sdk.NewServer(impl)},
	})
	t.Cleanup(func() { _ = client.Close() })
	c, err := host.Dispense(client)
	if err != nil {
		t.Fatalf("Dispense: %v", err)
	}
	return c
}

func TestInProcessDeliver(t *testing.T) {
	impl := &recordingSink{}
	c := connect(t, impl)
	ctx := t.Context()

	cfg := map[string]any{"path": "/tmp/x", "n": float64(3), "nested": map[string]any{"a": true}}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	impl.mu.Lock()
	got := impl.config
	impl.mu.Unlock()
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("Configure got %v, want %v", got, cfg)
	}

	rec := `{"id":7,"type":"record","record":{"live":true,"did":"did:plc:ok","rev":"r1","collection":"app.bsky.feed.post","rkey":"k1","action":"create","record":{"text":"hi"},"cid":"bafy1"}}`
	ident := `{"id":8,"type":"identity","identity":{"did":"did:plc:later","handle":"alice.test","is_active":true,"status":"active"}}`
	batch := []host.Event{
		{ID: 7, DID: "did:plc:ok", Live: true, JSON: []byte(rec)},
		{ID: 8, DID: "did:plc:later", JSON: []byte(ident)},
		{ID: 9, DID: "did:plc:bad", JSON: []byte(`{"id":9,"type":"record","record":{"did":"did:plc:bad","action":"delete"}}`)},
	}
	results, err := c.Deliver(ctx, batch)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	want := []sdk.Result{sdk.Ack(), sdk.RetryLater("busy"), sdk.Fail("no such destination")}
	if !reflect.DeepEqual(results, want) {
		t.Fatalf("results = %+v, want %+v", results, want)
	}

	impl.mu.Lock()
	seen := impl.batches[0]
	impl.mu.Unlock()
	wantEv := sdk.Event{ID: 7, Type: "record", DID: "did:plc:ok", Live: true, Collection: "app.bsky.feed.post",
		RKey: "k1", Action: "create", Rev: "r1", CID: "bafy1", Record: []byte(`{"text":"hi"}`), JSON: []byte(rec)}
	if !reflect.DeepEqual(seen[0], wantEv) {
		t.Errorf("record event = %+v\nwant %+v", seen[0], wantEv)
	}
	wantID := sdk.Event{ID: 8, Type: "identity", DID: "did:plc:later", Handle: "alice.test", Status: "active",
		IsActive: true, JSON: []byte(ident)}
	if !reflect.DeepEqual(seen[1], wantID) {
		t.Errorf("identity event = %+v\nwant %+v", seen[1], wantID)
	}

	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	impl.mu.Lock()
	defer impl.mu.Unlock()
	if !impl.shutdown {
		t.Error("Shutdown did not reach the plugin")
	}
}

func TestInProcessConfigureError(t *testing.T) {
	c := connect(t, &recordingSink{failConf: errors.New("path: missing")})
	err := c.Configure(t.Context(), nil)
	var pe *host.PluginError
	if !errors.As(err, &pe) || pe.Message != "path: missing" {
		t.Fatalf("Configure = %v, want the plugin's message", err)
	}
}

// shortSink returns fewer results than events.
type shortSink struct{ recordingSink }

func (*shortSink) Deliver(context.Context, []sdk.Event) []sdk.Result { return []sdk.Result{sdk.Ack()} }

func TestInProcessMissingResultsAreRetried(t *testing.T) {
	c := connect(t, &shortSink{})
	results, err := c.Deliver(t.Context(), []host.Event{{ID: 1}, {ID: 2}})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if results[0].Status != sdk.Acked || results[1].Status != sdk.Retry {
		t.Fatalf("results = %+v, want acked then retry", results)
	}
}
