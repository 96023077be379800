package main

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapkit/tap/plugins/sdk/host"
	"github.com/tapkit/tap/plugins/sdk/host/hosttest"
)

// TestAsAPlugin builds tap-nats and drives it the way tap does, over the
// plugin protocol, with events as tap's JSON.
func TestAsAPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin: skipped in -short mode")
	}
	needNATS(t)
	c := hosttest.Start(t, hosttest.Build(t, ".", "tap-nats"))
	ctx := context.Background()
	stream, prefix := uniqueNames(t)
	if err := c.Configure(ctx, map[string]any{"url": testURL, "stream": stream, "prefix": prefix}); err != nil {
		t.Fatal(err)
	}
	post := `{"id":7,"type":"record","record":{"live":true,"did":"did:a","rev":"r","collection":"app.bsky.feed.post","rkey":"1","action":"create","record":{},"cid":"c"}}`
	id := `{"id":8,"type":"identity","identity":{"did":"did:a","handle":"a.test","is_active":true,"status":"active"}}`
	res, err := c.Deliver(ctx, []host.Event{{ID: 7, DID: "did:a", Live: true, JSON: []byte(post)}, {ID: 8, DID: "did:a", JSON: []byte(id)}})
	if err != nil {
		t.Fatal(err)
	}
	allAcked(t, res, 2)
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	nc, err := nats.Connect(testURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	str, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for subj, want := range map[string]string{prefix + ".app.bsky.feed.post": post, prefix + ".identity": id} {
		m, err := str.GetLastMsgForSubject(ctx, subj)
		if err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
		if string(m.Data) != want {
			t.Errorf("%s: payload %s, want %s", subj, m.Data, want)
		}
	}
}
