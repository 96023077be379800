package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// consumer is a set of acking websocket clients on tap's /channel, as an
// application would run them; it counts distinct events and records when
// each live record event arrived.
type consumer struct {
	seen     sync.Map     // id → struct{}
	distinct atomic.Int64 // distinct events
	records  atomic.Int64 // distinct record events
	live     atomic.Int64 // distinct live record events
	mu       sync.Mutex
	arrivals map[string]time.Time // did+rev → first arrival of a live record event
	wg       sync.WaitGroup
}

// startConsumer connects n clients to base (http://host:port) until ctx ends.
func startConsumer(ctx context.Context, base string, n int) *consumer {
	c := &consumer{arrivals: map[string]time.Time{}}
	url := "ws" + strings.TrimPrefix(base, "http") + "/channel"
	for range n {
		c.wg.Go(func() { c.client(ctx, url) })
	}
	return c
}

func (c *consumer) client(ctx context.Context, url string) {
	for ctx.Err() == nil {
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				break
			}
			now := time.Now()
			id, isRecord, ok := scanEvent(msg)
			if !ok {
				continue
			}
			if _, dup := c.seen.LoadOrStore(id, struct{}{}); !dup {
				c.distinct.Add(1)
				if isRecord {
					c.records.Add(1)
				}
				if isRecord && bytes.Contains(msg, []byte(`"live":true`)) {
					var ev struct {
						Record *struct {
							DID  string `json:"did"`
							Rev  string `json:"rev"`
							Live bool   `json:"live"`
						} `json:"record"`
					}
					if json.Unmarshal(msg, &ev) == nil && ev.Record != nil && ev.Record.Live {
						c.live.Add(1)
						c.mu.Lock()
						if _, ok := c.arrivals[ev.Record.DID+ev.Record.Rev]; !ok {
							c.arrivals[ev.Record.DID+ev.Record.Rev] = now
						}
						c.mu.Unlock()
					}
				}
			}
			if conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","id":%d}`, id)) != nil {
				break
			}
		}
		stop()
		conn.Close()
	}
}

// scanEvent reads the id and type of an event without decoding the
// record (the consumer's CPU shares the machine with the service under
// test). Both services write "id" and "type" first.
func scanEvent(msg []byte) (id int64, isRecord, ok bool) {
	const idKey = `{"id":`
	if !bytes.HasPrefix(msg, []byte(idKey)) {
		var ev struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		}
		if json.Unmarshal(msg, &ev) != nil {
			return 0, false, false
		}
		return ev.ID, ev.Type == "record", true
	}
	i := len(idKey)
	for ; i < len(msg) && msg[i] >= '0' && msg[i] <= '9'; i++ {
		id = id*10 + int64(msg[i]-'0')
	}
	return id, bytes.HasPrefix(msg[i:], []byte(`,"type":"record"`)), i > len(idKey)
}

// arrival returns when the live event of did at rev arrived.
func (c *consumer) arrival(did, rev string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.arrivals[did+rev]
	return t, ok
}
