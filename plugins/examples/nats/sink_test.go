package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tapkit/tap/plugins/sdk"
)

const testURL = "nats://127.0.0.1:4222"

// needNATS skips the test when no NATS server listens on 127.0.0.1:4222.
func needNATS(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skipf("no NATS server on 127.0.0.1:4222 (start one with `nats-server -js`): %v", err)
	}
	c.Close()
}

// uniqueNames returns a stream name and subject prefix used by this test
// only, and deletes the stream when the test ends.
func uniqueNames(t *testing.T) (stream, prefix string) {
	t.Helper()
	n := strconv.FormatInt(time.Now().UnixNano(), 36)
	stream, prefix = "TAPTEST_"+n, "taptest"+n
	t.Cleanup(func() {
		nc, err := nats.Connect(testURL)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	return stream, prefix
}

func recordEvent(id uint64, did, coll, rkey string) sdk.Event {
	j := fmt.Sprintf(`{"id":%d,"type":"record","record":{"live":true,"did":%q,"rev":"3l","collection":%q,"rkey":%q,"action":"create","record":{"text":"hi"},"cid":"bafy"}}`, id, did, coll, rkey)
	return sdk.Event{ID: id, Type: sdk.TypeRecord, DID: did, Live: true, Collection: coll, RKey: rkey, Action: "create", JSON: []byte(j)}
}

func identityEvent(id uint64, did string) sdk.Event {
	j := fmt.Sprintf(`{"id":%d,"type":"identity","identity":{"did":%q,"handle":"a.test","is_active":true,"status":"active"}}`, id, did)
	return sdk.Event{ID: id, Type: sdk.TypeIdentity, DID: did, Handle: "a.test", Status: "active", IsActive: true, JSON: []byte(j)}
}

func newSink(t *testing.T, cfg map[string]any) *sink {
	t.Helper()
	s := &sink{}
	if err := s.Configure(context.Background(), cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func allAcked(t *testing.T, res []sdk.Result, n int) {
	t.Helper()
	if len(res) != n {
		t.Fatalf("got %d results, want %d", len(res), n)
	}
	for i, r := range res {
		if r.Status != sdk.Acked {
			t.Fatalf("result %d: %v %s", i, r.Status, r.Message)
		}
	}
}

func TestPublishSubjectsPayloadAndDedup(t *testing.T) {
	needNATS(t)
	stream, prefix := uniqueNames(t)
	s := newSink(t, map[string]any{"url": testURL, "stream": stream, "prefix": prefix})
	ctx := context.Background()

	batch := []sdk.Event{
		recordEvent(11, "did:plc:a", "app.bsky.feed.post", "1"),
		identityEvent(12, "did:plc:a"),
		recordEvent(13, "did:plc:b", "app.bsky.feed.like", "2"),
	}
	allAcked(t, s.Deliver(ctx, batch), len(batch))

	str, err := s.js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"11": prefix + ".app.bsky.feed.post",
		"12": prefix + ".identity",
		"13": prefix + ".app.bsky.feed.like",
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		if m.Subject != want[id] {
			t.Errorf("msg id %q on subject %q, want %q", id, m.Subject, want[id])
		}
		var got struct {
			ID uint64 `json:"id"`
		}
		if err := json.Unmarshal(m.Data, &got); err != nil || strconv.FormatUint(got.ID, 10) != id {
			t.Errorf("payload %s does not carry id %s (%v)", m.Data, id, err)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Errorf("not published: %v", want)
	}

	// Redelivering events is de-duplicated by the stream.
	allAcked(t, s.Deliver(ctx, batch[:2]), 2)
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages after a redelivery, want 3", info.State.Msgs)
	}
}

func TestExistingStreamWithoutCreate(t *testing.T) {
	needNATS(t)
	stream, prefix := uniqueNames(t)
	s := newSink(t, map[string]any{"url": testURL, "stream": stream, "prefix": prefix, "create_stream": false, "timeout": "2s"})
	res := s.Deliver(context.Background(), []sdk.Event{recordEvent(1, "did:plc:a", "app.bsky.feed.post", "1")})
	if res[0].Status != sdk.Retry {
		t.Fatalf("missing stream with create_stream false: got %v, want retry", res[0].Status)
	}
	if _, err := s.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	allAcked(t, s.Deliver(context.Background(), []sdk.Event{recordEvent(1, "did:plc:a", "app.bsky.feed.post", "1")}), 1)
}

func TestUnreachableServerRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	s := newSink(t, map[string]any{"url": "nats://" + addr, "timeout": "300ms"})
	res := s.Deliver(context.Background(), []sdk.Event{recordEvent(1, "did:plc:a", "app.bsky.feed.post", "1"), identityEvent(2, "did:plc:a")})
	if len(res) != 2 {
		t.Fatalf("got %d results", len(res))
	}
	for i, r := range res {
		if r.Status != sdk.Retry || r.Message == "" {
			t.Errorf("result %d: %v %q, want retry with a message", i, r.Status, r.Message)
		}
	}
}

func TestBadEventsFail(t *testing.T) {
	needNATS(t)
	stream, prefix := uniqueNames(t)
	s := newSink(t, map[string]any{"url": testURL, "stream": stream, "prefix": prefix})
	bad := recordEvent(1, "did:plc:a", "", "1")
	res := s.Deliver(context.Background(), []sdk.Event{bad, {ID: 2, Type: "weird", JSON: []byte(`{}`)}, recordEvent(3, "did:plc:a", "app.bsky.feed.post", "1")})
	if res[0].Status != sdk.Failed || res[1].Status != sdk.Failed || res[2].Status != sdk.Acked {
		t.Fatalf("got %+v", res)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"nope": 1},
		{"url": 3},
		{"stream": "a.b"},
		{"prefix": "a.*"},
		{"prefix": "a..b"},
		{"create_stream": "yes"},
		{"timeout": "soon"},
		{"timeout": "-1s"},
		{"duplicate_window": "0s"},
	} {
		if err := (&sink{}).Configure(context.Background(), cfg); err == nil {
			t.Errorf("Configure(%v) succeeded", cfg)
		}
	}
}

// TestLargeBatch publishes more events than the async publisher keeps
// pending (4000) in one batch.
func TestLargeBatch(t *testing.T) {
	needNATS(t)
	stream, prefix := uniqueNames(t)
	s := newSink(t, map[string]any{"url": testURL, "stream": stream, "prefix": prefix, "duplicate_window": "10m"})
	batch := make([]sdk.Event, 6000)
	for i := range batch {
		batch[i] = recordEvent(uint64(i+1), "did:plc:a", "app.bsky.feed.post", strconv.Itoa(i))
	}
	allAcked(t, s.Deliver(context.Background(), batch), len(batch))
	str, err := s.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 6000 || info.Config.Duplicates != 10*time.Minute {
		t.Fatalf("stream: %d messages, duplicate window %v", info.State.Msgs, info.Config.Duplicates)
	}
}
