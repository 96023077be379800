package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tapkit/tap/plugins/sdk"
	"github.com/tapkit/tap/plugins/sdk/host"
	"github.com/tapkit/tap/plugins/sdk/host/hosttest"
)

// TestAsAPlugin builds tap-sqlmirror and drives it the way tap does, over
// the plugin protocol, with events as tap's JSON.
func TestAsAPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin: skipped in -short mode")
	}
	bin := hosttest.Build(t, ".", "tap-sqlmirror")
	dir := t.TempDir()
	c := hosttest.Start(t, bin)
	ctx := context.Background()

	var pe *host.PluginError
	if err := c.Configure(ctx, map[string]any{"database_url": "nope://"}); err == nil {
		t.Fatal("Configure accepted a bad database_url")
	} else if !errors.As(err, &pe) {
		t.Fatalf("bad config: %T %v, want a *host.PluginError", err, err)
	}
	dbPath := filepath.Join(dir, "mirror.db")
	if err := c.Configure(ctx, map[string]any{"database_url": "sqlite://" + dbPath}); err != nil {
		t.Fatal(err)
	}
	batch := []host.Event{
		{ID: 1, DID: "did:a", Live: true, JSON: []byte(`{"id":1,"type":"record","record":{"live":true,"did":"did:a","rev":"r1","collection":"app.bsky.feed.post","rkey":"1","action":"create","record":{"text":"hi"},"cid":"c1"}}`)},
		{ID: 2, DID: "did:a", Live: true, JSON: []byte(`{"id":2,"type":"record","record":{"live":true,"did":"did:a","rev":"r2","collection":"app.bsky.feed.post","rkey":"2","action":"create","record":{"text":"yo"},"cid":"c2"}}`)},
		{ID: 3, DID: "did:a", Live: true, JSON: []byte(`{"id":3,"type":"record","record":{"live":true,"did":"did:a","rev":"r3","collection":"app.bsky.feed.post","rkey":"1","action":"delete","cid":""}}`)},
		{ID: 4, DID: "did:b", JSON: []byte(`{"id":4,"type":"record","record":{"live":false,"did":"did:b","rev":"r4","collection":"app.bsky.feed.like","rkey":"1","action":"create","record":{},"cid":"c4"}}`)},
		{ID: 5, DID: "did:b", Live: true, JSON: []byte(`{"id":5,"type":"identity","identity":{"did":"did:b","handle":"b.test","is_active":false,"status":"deleted"}}`)},
	}
	for round := 0; round < 2; round++ { // the second round is a redelivery
		res, err := c.Deliver(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != sdk.Acked {
				t.Fatalf("round %d, event %d: %v %s", round, i+1, r.Status, r.Message)
			}
		}
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s := open(t, "sqlite://"+dbPath)
	wantRows(t, s, `did:a app.bsky.feed.post 2 c2 r2 {"text":"yo"}`)
}
