package websocketsink

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseAck feeds arbitrary client frames to the ack parser. A frame is
// accepted only if it is a JSON object whose "type" is "ack" and whose "id"
// is a plain non-negative integer that fits a uint64; the id returned is
// that integer, and the canonical frame for it parses back to the same id
// (through the fast path, and through the decoder with the keys swapped).
func FuzzParseAck(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ack","id":0}`, `{"type":"ack","id":42}`, `{"type":"ack","id":18446744073709551615}`,
		`{"id":42,"type":"ack"}`, ` { "type" : "ack" , "id" : 42 } `, `{"type":"ack","id":42,"extra":true}`,
		`{"type":"ack","id":18446744073709551616}`, `{"type":"ack","id":01}`, `{"type":"ack","id":1e3}`,
		`{"type":"ack","id":-1}`, `{"type":"ack","id":"1"}`, `{"type":"ack","id":1}}`, `{"type":"ack","id":1`,
		`{"type":"nack","id":1}`, `{"type":"ack"}`, `{"type":"\u0061ck","id":7}`, `{"TYPE":"ack","ID":7}`,
		`{"type":"ack","id":1,"id":2}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		id, ok := parseAck(frame)
		if !ok {
			return // the caller ignores id
		}
		require.True(t, json.Valid(frame), "accepted frame is not JSON: %q", frame)
		var m struct {
			Type string          `json:"type"`
			ID   json.RawMessage `json:"id"`
		}
		require.NoError(t, json.Unmarshal(frame, &m))
		require.Equal(t, "ack", m.Type, "accepted frame %q is not an ack", frame)
		digits := bytes.TrimSpace(m.ID)
		require.Equal(t, strconv.FormatUint(id, 10), string(digits), "id of %q", frame)

		canonical := []byte(`{"type":"ack","id":` + strconv.FormatUint(id, 10) + `}`)
		back, ok := parseAck(canonical)
		require.True(t, ok)
		require.Equal(t, id, back)
		swapped := []byte(`{"id":` + strconv.FormatUint(id, 10) + `,"type":"ack"}`)
		back, ok = parseAck(swapped)
		require.True(t, ok)
		require.Equal(t, id, back)
	})
}
