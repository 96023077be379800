package websocketsink

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// ackPrefix is how the @atproto/tap client writes an ack (JSON.stringify of
// {type:'ack', id}); frames of exactly this form skip the JSON decoder.
var ackPrefix = []byte(`{"type":"ack","id":`)

// parseAck returns the id of an ack frame {"type":"ack","id":N}, N a JSON
// integer in 0..2^64-1. Anything else (not JSON, another type, an id that is
// missing, a string, negative or fractional) is not an ack.
func parseAck(frame []byte) (uint64, bool) {
	if rest, ok := bytes.CutPrefix(frame, ackPrefix); ok {
		if digits, ok := bytes.CutSuffix(rest, []byte("}")); ok {
			if id, ok := parseJSONUint(digits); ok {
				return id, true
			}
		}
	}
	var m struct {
		Type string          `json:"type"`
		ID   json.RawMessage `json:"id"`
	}
	if json.Unmarshal(frame, &m) != nil || m.Type != "ack" {
		return 0, false
	}
	return parseJSONUint(m.ID)
}

// parseJSONUint parses a JSON number that is a non-negative integer (no
// sign, fraction, exponent or leading zero).
func parseJSONUint(b []byte) (uint64, bool) {
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	return id, err == nil
}
