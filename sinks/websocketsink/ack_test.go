package websocketsink

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAck(t *testing.T) {
	for frame, want := range map[string]uint64{
		`{"type":"ack","id":0}`:                    0,
		`{"type":"ack","id":42}`:                   42,
		`{"type":"ack","id":9007199254740991}`:     9007199254740991,
		`{"type":"ack","id":18446744073709551615}`: 18446744073709551615,
		`{"id":42,"type":"ack"}`:                   42,
		` { "type" : "ack" , "id" : 42 } `:         42,
		`{"type":"ack","id":42,"extra":true}`:      42,
	} {
		id, ok := parseAck([]byte(frame))
		require.True(t, ok, frame)
		require.Equal(t, want, id, frame)
	}
	for _, frame := range []string{
		``, `x`, `null`, `[]`, `{}`, `{"type":"ack"}`, `{"id":1}`,
		`{"type":"ack","id":-1}`, `{"type":"ack","id":"1"}`, `{"type":"ack","id":1.0}`,
		`{"type":"ack","id":1e3}`, `{"type":"ack","id":01}`, `{"type":"ack","id":+1}`,
		`{"type":"ack","id":18446744073709551616}`, `{"type":"ack","id":1}}`,
		`{"type":"ack","id":1`, `{"type":"nack","id":1}`, `{"type":"ack","id":true}`,
	} {
		_, ok := parseAck([]byte(frame))
		require.False(t, ok, frame)
	}
}

func BenchmarkParseAck(b *testing.B) {
	frame := []byte(`{"type":"ack","id":123456789}`)
	for b.Loop() {
		if _, ok := parseAck(frame); !ok {
			b.Fatal("not an ack")
		}
	}
}
