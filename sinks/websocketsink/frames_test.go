package websocketsink_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Client frames that are not an ack are ignored and counted, never a reason
// to disconnect (Part A 16); unknown and repeated acks are harmless.
func TestGarbageFramesIgnored(t *testing.T) {
	s, url := startSink(t, testConfig())
	c := dial(t, url)
	garbage := []string{
		"not json",
		`{"type":"ack","id":"1"}`,
		`{"type":"ack","id":-1}`,
		`{"type":"ack","id":1.5}`,
		`{"type":"ack","id":1e2}`,
		`{"type":"ack","id":007}`,
		`{"type":"ack"}`,
		`{"type":"ack","id":null}`,
		`{"type":"other","id":1}`,
		`{"type":"ack","id":1} trailing`,
		`[]`,
		`null`,
		``,
		`{"type":"ack","id":` + strings.Repeat("1", 2000) + `}`,
	}
	for _, g := range garbage {
		c.send(g)
	}
	c.wmu.Lock()
	require.NoError(t, c.ws.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0x00, 0x01}))
	c.wmu.Unlock()
	c.ack(999) // unknown
	waitFor(t, "frames counted", func() bool {
		st := s.Stats()
		return st.IgnoredFrames == uint64(len(garbage)+1) && st.UnknownAcks == 1
	})

	res := deliverAsync(t.Context(), s, events(1, 1))
	require.EqualValues(t, 1, idOf(t, c.next()))
	c.send(`{ "id": 1, "type": "ack" }`) // a valid ack in another layout
	require.NoError(t, result(t, res))
	c.ack(1) // repeated
	waitFor(t, "repeated ack counted", func() bool { return s.Stats().UnknownAcks == 2 })
	st := s.Stats()
	require.EqualValues(t, 1, st.Acks)
	require.EqualValues(t, 1, st.Connected)
	require.Zero(t, st.DroppedClients)
}
