package eventjson_test

import (
	"encoding/base32"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/eventjson"
)

// requireSameAsOracle renders rec with AppendRecordData and with the oracle and requires the
// same verdict and, when rendered, the same bytes and valid JSON. It reports whether rec
// rendered.
func requireSameAsOracle(t testing.TB, rec []byte) bool {
	t.Helper()
	got, err := eventjson.AppendRecordData([]byte("junk"), rec)
	want, wantErr := oracleRecordData([]byte("junk"), rec)
	if wantErr != nil {
		require.Error(t, err, "oracle: %v; renderer gave %s for %x", wantErr, got, rec)
		require.ErrorIs(t, err, eventjson.ErrUnrenderable)
		require.Equal(t, "junk", string(got), "dst is left unchanged on error")
		return false
	}
	require.NoError(t, err, "oracle rendered %s from %x", want, rec)
	require.Equal(t, string(want), string(got), "record %x", rec)
	require.True(t, json.Valid(got[len("junk"):]), "invalid JSON %s", got)
	return true
}

// TestRecordDataMatchesOracle holds the renderer to the oracle on many generated records:
// nested maps and arrays, tricky strings, integers near the limits, bytes, links, blobs, legacy
// blobs, $link and $bytes objects, keys whose length-first and bytewise orders differ, and
// now and then something unrenderable.
func TestRecordDataMatchesOracle(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rendered := 0
	for seed := range n {
		g := recordGen{rnd: rand.New(rand.NewPCG(uint64(seed), 1))}
		if requireSameAsOracle(t, g.record()) {
			rendered++
		}
	}
	// Both verdicts must be well exercised.
	require.Greater(t, rendered, n/4, "rendered")
	require.Less(t, rendered, n*9/10, "rendered")
}

func FuzzRecordData(f *testing.F) {
	// testdata/fuzz/FuzzRecordData holds real records (from indigo's test repos) and atproto's
	// data-model fixtures; add a few generated ones.
	for seed := range 20 {
		g := recordGen{rnd: rand.New(rand.NewPCG(uint64(seed), 2))}
		f.Add(g.record())
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		requireSameAsOracle(t, rec)
	})
}

// TestRecordDataCases pins the atdata behaviours the renderer reproduces, one case each, and
// holds each to the oracle too.
func TestRecordDataCases(t *testing.T) {
	dag := cidOf(t, cid.DagCBOR, "x")
	raw := cidOf(t, cid.Raw, "x")
	v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	require.NoError(t, err)
	b58 := func(c cid.Cid) string { return base58btc(c.Bytes()) }
	var w cborWriter
	cases := []struct {
		name string
		rec  []byte
		want string // "" for unrenderable
	}{
		{"keys sorted bytewise", w.mapOf("bb", w.int(1), "a", w.int(2), "B", w.int(3), "ab", w.int(4)),
			`{"B":3,"a":2,"ab":4,"bb":1}`},
		{"repeated key", w.mapOf("a", w.int(1), "a", w.int(1)), ""},
		{"non-minimal heads", []byte{0xb8, 1, 0x78, 1, 'a', 0x19, 0, 5}, `{"a":5}`},
		{"two-byte true", []byte{0xa1, 0x61, 'a', 0xf8, 21}, ""},
		{"link", w.mapOf("l", w.link(dag.Bytes())), `{"l":{"$link":"` + dag.String() + `"}}`},
		{"CIDv0 link", w.mapOf("l", w.link(v0.Bytes())), `{"l":{"$link":"` + v0.String() + `"}}`},
		{"link with trailing bytes", w.mapOf("l", w.link(append(dag.Bytes(), 0))), ""},
		{"link with non-minimal varint", w.mapOf("l", w.link(append([]byte{0x81, 0}, dag.Bytes()[1:]...))), ""},
		{"$link in base58", w.mapOf("l", w.mapOf("$link", w.text(b58(dag)))),
			`{"l":{"$link":"` + dag.String() + `"}}`},
		{"$link v0", w.mapOf("l", w.mapOf("$link", w.text(v0.String()))), `{"l":{"$link":"` + v0.String() + `"}}`},
		{"$link not a string", w.mapOf("l", w.mapOf("$link", w.link(dag.Bytes()))), ""},
		{"$bytes encoded again", w.mapOf("b", w.mapOf("$bytes", w.text("+/9\n8"))), `{"b":{"$bytes":"+/98"}}`},
		{"$bytes with padding", w.mapOf("b", w.mapOf("$bytes", w.text("+w=="))), ""},
		{"$bytes with $link", w.mapOf("b", w.mapOf("$bytes", w.text(""), "$link", w.text(dag.String()))), ""},
		{"$type not a string", w.mapOf("$type", w.int(1)), ""},
		{"blob with $link ref", w.mapOf("i", w.mapOf("$type", w.text("blob"), "ref", w.mapOf("$link", w.text(b58(raw))),
			"mimeType", w.text("a/<b>"), "size", w.int(7))),
			`{"i":{"$type":"blob","ref":{"$link":"` + raw.String() + `"},"mimeType":"a/\u003cb\u003e","size":7}}`},
		{"blob with v0 ref", w.mapOf("i", w.mapOf("$type", w.text("blob"), "ref", w.link(v0.Bytes()),
			"mimeType", w.text("a/b"), "size", w.int(7))), ""},
		{"blob with bytes ref", w.mapOf("i", w.mapOf("$type", w.text("blob"), "ref", w.bytes(raw.Bytes()),
			"mimeType", w.text("a/b"), "size", w.int(7))), ""},
		{"blob with string size", w.mapOf("i", w.mapOf("$type", w.text("blob"), "ref", w.link(raw.Bytes()),
			"mimeType", w.text("a/b"), "size", w.text("7"))), ""},
		{"blob as the record", w.mapOf("$type", w.text("blob"), "ref", w.link(raw.Bytes()),
			"mimeType", w.text("a/b"), "size", w.int(7)), ""},
		{"legacy blob with string cid", w.mapOf("i", w.mapOf("cid", w.text(b58(dag)), "mimeType", w.text("a"))),
			`{"i":{"cid":"` + dag.String() + `","mimeType":"a"}}`},
		{"legacy blob with bytes cid", w.mapOf("i", w.mapOf("cid", w.bytes(dag.Bytes()), "mimeType", w.text("a"))),
			`{"i":{"cid":"` + dag.String() + `","mimeType":"a"}}`},
		{"legacy blob with link cid", w.mapOf("i", w.mapOf("cid", w.link(dag.Bytes()), "mimeType", w.text("a"))),
			`{"i":{"cid":"` + dag.String() + `","mimeType":"a"}}`},
		{"legacy blob with int mimeType", w.mapOf("i", w.mapOf("cid", w.text(dag.String()), "mimeType", w.int(1))), ""},
		{"legacy blob as the record", w.mapOf("cid", w.text(dag.String()), "mimeType", w.text("a")), ""},
		{"cid and mimeType and more", w.mapOf("cid", w.int(1), "mimeType", w.int(2), "x", w.int(3)),
			`{"cid":1,"mimeType":2,"x":3}`},
		{"record over 1 MiB", w.mapOf("s", w.text(strings.Repeat("x", 1<<20))), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := eventjson.AppendRecordData(nil, c.rec)
			if c.want == "" {
				require.ErrorIs(t, err, eventjson.ErrUnrenderable)
			} else {
				require.NoError(t, err)
				require.Equal(t, c.want, string(got))
			}
			requireSameAsOracle(t, c.rec)
		})
	}
}

// TestTypedBlobNegativeSizeNonMinimal: a typed blob with a negative size is unrenderable
// however its $type is encoded. The old checker only recognised the minimal encoding of
// "blob", so this record rendered as the legacy blob {"cid":..,"mimeType":..}, its $type and
// size dropped; the oracle carries the fix.
func TestTypedBlobNegativeSizeNonMinimal(t *testing.T) {
	var w cborWriter
	raw := cidOf(t, cid.Raw, "x")
	rec := w.mapOf("i", w.mapOf("$type", []byte{0x78, 4, 'b', 'l', 'o', 'b'}, "ref", w.link(raw.Bytes()),
		"mimeType", w.text("a/b"), "size", w.int(-1)))
	_, err := eventjson.AppendRecordData(nil, rec)
	require.ErrorIs(t, err, eventjson.ErrUnrenderable)
	require.ErrorContains(t, err, "negative size")
}

func TestValidCIDString(t *testing.T) {
	dag := cidOf(t, cid.DagCBOR, "x")
	v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	require.NoError(t, err)
	s := dag.String()
	upper := "B" + strings.ToUpper(s[1:])
	for c, ok := range map[string]bool{
		s:                  true,
		v0.String():        true,
		upper:              false,
		"B" + s[1:]:        false,
		s[:len(s)-1]:       false,
		s + "a":            false,
		s[:len(s)-1] + "b": false, // nonzero trailing bits
		"b":                false,
		"":                 false,
	} {
		body, err := eventjson.AppendRecordBody(nil, eventjson.Record{Action: "create", CID: c,
			CBOR: []byte{0xa0}})
		if ok {
			require.NoError(t, err, c)
			require.Contains(t, string(body), `"cid":"`+c+`"`)
		} else {
			require.ErrorIs(t, err, eventjson.ErrUnrenderable, c)
		}
	}
}

// FuzzRecordCID holds AppendRecordBody's allocation-free check of the record CID to the check
// it replaced: go-cid decodes it and prints it back unchanged.
func FuzzRecordCID(f *testing.F) {
	for _, c := range genCIDs {
		if parsed, err := cid.Cast(c); err == nil {
			f.Add(parsed.String())
		}
		f.Add("b" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(c)))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cid.Decode(s)
		want := err == nil && c.String() == s
		_, err = eventjson.AppendRecordBody(nil, eventjson.Record{Action: "create", CID: s, CBOR: []byte{0xa0}})
		require.Equal(t, want, err == nil, "cid %q: %v", s, err)
	})
}

func BenchmarkRecordData(b *testing.B) {
	rec := benchRecord(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = eventjson.AppendRecordData(buf[:0], rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordDataOracle is the path the renderer replaced, for comparison.
func BenchmarkRecordDataOracle(b *testing.B) {
	rec := benchRecord(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = oracleRecordData(buf[:0], rec); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRecord returns the record BenchmarkRecordBody renders.
func benchRecord(b *testing.B) []byte {
	return cborOf(b, map[string]any{
		"$type": coll, "text": strings.Repeat("hello world ", 20), "createdAt": "2024-01-01T00:00:00.000Z",
		"langs": []any{"en"},
		"embed": map[string]any{"$type": "app.bsky.embed.images", "images": []any{map[string]any{
			"alt": "x", "image": atdata.Blob{Ref: atdata.CIDLink(cidOf(b, cid.Raw, "i")), MimeType: "image/jpeg", Size: 100}}}},
	})
}
