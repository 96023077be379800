package websocketsink_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/tapkit/tap/sinks/websocketsink"
)

// BenchmarkDeliver measures events/s through the sink to real gorilla
// clients on 127.0.0.1, with Deliver called in batches as the delivery
// engine does. In ack mode each client acks every event as the
// @atproto/tap client does (one {"type":"ack","id":N} frame per event, sent
// as soon as the event is read); Deliver returns when the batch is acked.
// In fire-and-forget mode the clients only read.
//
//	go test -run '^$' -bench BenchmarkDeliver -benchtime 200000x ./sinks/websocketsink/
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		name           string
		clients, batch int
		faf            bool
	}{
		{"ack/clients=1/batch=1000", 1, 1000, false},
		{"ack/clients=4/batch=1000", 4, 1000, false},
		{"ack/clients=1/batch=1", 1, 1, false},
		{"fire-and-forget/clients=1/batch=1000", 1, 1000, true},
		{"fire-and-forget/clients=4/batch=1000", 4, 1000, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := websocketsink.DefaultConfig()
			cfg.DisableAcks = ptr(tc.faf)
			s, url := startSink(b, *cfg)
			for range tc.clients {
				benchClient(b, url, !tc.faf)
			}
			waitFor(b, "clients", func() bool { return s.Stats().Connected == tc.clients })
			batch := events(1, uint64(tc.batch))
			b.SetBytes(int64(len(batch[0].JSON)))
			b.ResetTimer()
			for done := 0; done < b.N; done += tc.batch {
				if err := s.Deliver(b.Context(), batch[:min(tc.batch, b.N-done)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// benchClient connects a client that reads every frame and, when ack is
// set, acks it from a second goroutine.
func benchClient(b *testing.B, url string, ack bool) {
	ws, resp, err := websocket.DefaultDialer.DialContext(b.Context(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	ids := make(chan uint64, 4096)
	readDone, ackDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(ids)
		for {
			_, p, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ack {
				ids <- frameID(p)
			}
		}
	}()
	go func() {
		defer close(ackDone)
		var buf []byte
		for id := range ids {
			buf = strconv.AppendUint(append(buf[:0], `{"type":"ack","id":`...), id, 10)
			if ws.WriteMessage(websocket.TextMessage, append(buf, '}')) != nil {
				return
			}
		}
	}()
	b.Cleanup(func() {
		_ = ws.Close()
		<-readDone
		<-ackDone
	})
}

// frameID reads the id of a frame that starts {"id":N, without a decoder.
func frameID(p []byte) uint64 {
	p = bytes.TrimPrefix(p, []byte(`{"id":`))
	end := bytes.IndexByte(p, ',')
	id, err := strconv.ParseUint(string(p[:end]), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("frame without id: %q", p))
	}
	return id
}
