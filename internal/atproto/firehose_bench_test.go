package atproto

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tapkit/tap/internal/testnet"
)

// benchHistory is how many records the benchmark account holds before its
// measured commits, so that their CAR slices carry a realistic MST path
// (a few levels of nodes, not a one-node tree). A multiple of 100.
const benchHistory = 1000

// BenchmarkDecodeFrame decodes real relay frames (header + body CBOR)
// into FirehoseEvents, as the read loop does for every binary message:
// Sync 1.1 #commit frames with 1 and 10 create ops (signed commit, MST
// path and record blocks in the CAR slice), #identity and #account.
//
//	go test -run '^$' -bench DecodeFrame -benchmem ./internal/atproto/
func BenchmarkDecodeFrame(b *testing.B) {
	frames := benchFrames(b)
	for _, name := range []string{"commit-1op", "commit-10ops", "identity", "account"} {
		frame := frames[name]
		b.Run(name, func(b *testing.B) {
			f := NewFirehose(FirehoseOptions{})
			var fr frameReader
			received := time.Now()
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := f.decode(&fr, frame, received); !ok || err != nil {
					b.Fatalf("decode: %v, %v", ok, err)
				}
			}
		})
	}
}

// benchFrames makes one testnet account with benchHistory records, then a
// 1-op commit, a 10-op commit, an #identity and an #account, and returns
// the frames the relay sent for them, read off a real subscription. Record
// keys are fixed TIDs, so the MST, and with it every frame, is the same in
// every run.
func benchFrames(b testing.TB) map[string][]byte {
	b.Helper()
	n := startNet(b)
	accts, err := n.CreateAccounts(1)
	if err != nil {
		b.Fatal(err)
	}
	a := accts[0]
	for i := 0; i < benchHistory; i += 100 {
		if _, err := a.Apply(testnet.FixedWrites(i, 100)...); err != nil {
			b.Fatal(err)
		}
	}
	after := n.LastSeq()
	names := []string{"commit-1op", "commit-10ops", "identity", "account"}
	emit := []func() (testnet.Event, error){
		func() (testnet.Event, error) {
			return a.Apply(testnet.FixedWrites(benchHistory, 1)...)
		},
		func() (testnet.Event, error) { return a.Apply(testnet.FixedWrites(benchHistory+1, 10)...) },
		func() (testnet.Event, error) { return a.SetHandle("bench-renamed.test") },
		func() (testnet.Event, error) { return a.SetStatus(testnet.StatusDeactivated) },
	}
	for _, fn := range emit {
		if _, err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	raw := readFrames(b, n, after, len(emit))
	frames := make(map[string][]byte, len(raw))
	for i, name := range names {
		frames[name] = raw[i]
	}
	return frames
}

// readFrames subscribes to the relay after cursor and returns the next
// count binary messages.
func readFrames(b testing.TB, n *testnet.Network, cursor int64, count int) [][]byte {
	b.Helper()
	u, err := SubscribeReposURL(n.RelayURL(), cursor)
	if err != nil {
		b.Fatal(err)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(b.Context(), u, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, 0, count)
	for len(out) < count {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if typ == websocket.BinaryMessage {
			out = append(out, msg)
		}
	}
	return out
}
