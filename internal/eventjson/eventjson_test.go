package eventjson_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapkit/tap/internal/eventjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sha2256 is the multihash code of SHA2-256.
const sha2256 = 0x12

const (
	did  = "did:plc:alice"
	rev  = "3lrev2222222a"
	coll = "app.bsky.feed.post"
	rkey = "3lrkey222222a"
)

// cidOf returns the CIDv1 (sha2-256) of data with the given codec.
func cidOf(t testing.TB, codec uint64, data string) cid.Cid {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: codec, MhType: sha2256, MhLength: -1}.Sum([]byte(data))
	require.NoError(t, err)
	return c
}

// cborOf encodes obj as DAG-CBOR with atdata.
func cborOf(t testing.TB, obj map[string]any) []byte {
	t.Helper()
	b, err := atdata.MarshalCBOR(obj)
	require.NoError(t, err)
	return b
}

// event renders a complete record event with id.
func event(t *testing.T, id int64, r eventjson.Record) (string, error) {
	t.Helper()
	body, err := eventjson.AppendRecordBody([]byte("junk"), r)
	if err != nil {
		require.Equal(t, "junk", string(body), "dst is left unchanged on error")
		return "", err
	}
	return string(eventjson.AppendEvent(nil, id, body[len("junk"):])), nil
}

func TestRecordCreateByteExact(t *testing.T) {
	link := cidOf(t, cid.DagCBOR, "parent")
	blobRef := cidOf(t, cid.Raw, "image")
	rec := cborOf(t, map[string]any{
		"$type":     coll,
		"text":      "a <b> & c \u2028 \"q\" \\ \n\t\x01 é 🦋",
		"createdAt": "2024-01-01T00:00:00.000Z",
		"langs":     []any{"en", "fr"},
		"reply":     map[string]any{"parent": map[string]any{"cid": link.String(), "uri": "at://x"}},
		"link":      atdata.CIDLink(link),
		"bytes":     atdata.Bytes([]byte{0xfb, 0xff, 0x01}),
		"empty":     atdata.Bytes{},
		"count":     int64(-9007199254740991),
		"max":       int64(9007199254740991),
		"flag":      true,
		"none":      nil,
		"Zed":       int64(0),
		"img":       atdata.Blob{Ref: atdata.CIDLink(blobRef), MimeType: "image/png", Size: 1234},
	})
	recCID := cidOf(t, cid.DagCBOR, "record").String()
	got, err := event(t, 12, eventjson.Record{
		Live: true, DID: did, Rev: rev, Collection: coll, RKey: rkey,
		Action: "create", CID: recCID, CBOR: rec,
	})
	require.NoError(t, err)
	want := `{"id":12,"type":"record","record":{"live":true,"did":"did:plc:alice","rev":"3lrev2222222a",` +
		`"collection":"app.bsky.feed.post","rkey":"3lrkey222222a","action":"create","record":{` +
		`"$type":"app.bsky.feed.post",` +
		`"Zed":0,` +
		`"bytes":{"$bytes":"+/8B"},` +
		`"count":-9007199254740991,` +
		`"createdAt":"2024-01-01T00:00:00.000Z",` +
		`"empty":{"$bytes":""},` +
		`"flag":true,` +
		`"img":{"$type":"blob","ref":{"$link":"` + blobRef.String() + `"},"mimeType":"image/png","size":1234},` +
		`"langs":["en","fr"],` +
		`"link":{"$link":"` + link.String() + `"},` +
		`"max":9007199254740991,` +
		`"none":null,` +
		`"reply":{"parent":{"cid":"` + link.String() + `","uri":"at://x"}},` +
		`"text":"a \u003cb\u003e \u0026 c \u2028 \"q\" \\ \n\t\u0001 é 🦋"` +
		`},"cid":"` + recCID + `"}}`
	require.Equal(t, want, got)
	requireValidJSON(t, got)
}

func TestRecordUpdateAndDelete(t *testing.T) {
	recCID := cidOf(t, cid.DagCBOR, "v2").String()
	got, err := event(t, 7, eventjson.Record{
		Live: false, DID: did, Rev: rev, Collection: coll, RKey: rkey,
		Action: "update", CID: recCID, CBOR: cborOf(t, map[string]any{"b": "x", "a": int64(1)}),
	})
	require.NoError(t, err)
	require.Equal(t, `{"id":7,"type":"record","record":{"live":false,"did":"did:plc:alice","rev":"3lrev2222222a",`+
		`"collection":"app.bsky.feed.post","rkey":"3lrkey222222a","action":"update","record":{"a":1,"b":"x"},`+
		`"cid":"`+recCID+`"}}`, got)

	// A delete has neither record nor cid, whatever the op carried.
	got, err = event(t, 9007199254740991, eventjson.Record{
		Live: true, DID: did, Rev: rev, Collection: coll, RKey: rkey,
		Action: "delete", CID: "ignored", CBOR: []byte{0xff},
	})
	require.NoError(t, err)
	require.Equal(t, `{"id":9007199254740991,"type":"record","record":{"live":true,"did":"did:plc:alice",`+
		`"rev":"3lrev2222222a","collection":"app.bsky.feed.post","rkey":"3lrkey222222a","action":"delete"}}`, got)
	requireValidJSON(t, got)
}

func TestIdentity(t *testing.T) {
	cases := []struct {
		in   eventjson.Identity
		want string
	}{
		{eventjson.Identity{DID: did, Handle: "alice.test", IsActive: true, Status: "active"},
			`{"id":13,"type":"identity","identity":{"did":"did:plc:alice","handle":"alice.test","is_active":true,"status":"active"}}`},
		{eventjson.Identity{DID: did, Handle: "", IsActive: false, Status: "deleted"},
			`{"id":13,"type":"identity","identity":{"did":"did:plc:alice","handle":"handle.invalid","is_active":false,"status":"deleted"}}`},
		{eventjson.Identity{DID: did, Handle: "not a handle", IsActive: false, Status: "takendown"},
			`{"id":13,"type":"identity","identity":{"did":"did:plc:alice","handle":"handle.invalid","is_active":false,"status":"takendown"}}`},
	}
	for _, c := range cases {
		got := string(eventjson.AppendEvent(nil, 13, eventjson.AppendIdentityBody(nil, c.in)))
		require.Equal(t, c.want, got)
		requireValidJSON(t, got)
	}
}

// TestMatchesEncodingJSON renders the envelope through encoding/json structs laid out as spec
// B§5 describes, and the record through atdata + encoding/json, and compares: for valid data
// the output must be identical to what the reference produces.
func TestMatchesEncodingJSON(t *testing.T) {
	type recordData struct {
		Live       bool            `json:"live"`
		DID        string          `json:"did"`
		Rev        string          `json:"rev"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Action     string          `json:"action"`
		Record     json.RawMessage `json:"record,omitempty"`
		CID        string          `json:"cid,omitempty"`
	}
	type envelope struct {
		ID     int64       `json:"id"`
		Type   string      `json:"type"`
		Record *recordData `json:"record"`
	}
	strs := []string{"plain", "<&>", "\u2028\u2029", "\x00\x1f\x7f", "é\U0001F98B", `"\`, "\b\f"}
	for i, s := range strs {
		rec := cborOf(t, map[string]any{"$type": coll, "text": s, s: []any{s, map[string]any{"k": s}}})
		obj, err := atdata.UnmarshalCBOR(rec)
		require.NoError(t, err)
		payload, err := json.Marshal(obj)
		require.NoError(t, err)
		recCID := cidOf(t, cid.DagCBOR, s).String()
		want, err := json.Marshal(envelope{ID: int64(i), Type: "record", Record: &recordData{
			Live: i%2 == 0, DID: did + s, Rev: rev, Collection: coll, RKey: s, Action: "create",
			Record: payload, CID: recCID,
		}})
		require.NoError(t, err)
		got, err := event(t, int64(i), eventjson.Record{
			Live: i%2 == 0, DID: did + s, Rev: rev, Collection: coll, RKey: s,
			Action: "create", CID: recCID, CBOR: rec,
		})
		require.NoError(t, err)
		require.Equal(t, string(want), got, "string %q", s)
	}
}

func TestUnrenderable(t *testing.T) {
	recCID := cidOf(t, cid.DagCBOR, "r").String()
	dagRef := cidOf(t, cid.DagCBOR, "blob")
	rawRef := cidOf(t, cid.Raw, "blob")
	cases := map[string][]byte{
		"empty":                 {},
		"not a map":             {0x82, 0x01, 0x02},
		"float":                 {0xa1, 0x61, 'a', 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0},
		"half float":            {0xa1, 0x61, 'a', 0xf9, 0x3c, 0x00},
		"integer above 2^53-1":  {0xa1, 0x61, 'a', 0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0},
		"uint64 max":            {0xa1, 0x61, 'a', 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"integer below -2^53+1": {0xa1, 0x61, 'a', 0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"invalid utf-8 value":   {0xa1, 0x61, 'a', 0x62, 0xff, 0xfe},
		"invalid utf-8 key":     {0xa1, 0x61, 0xff, 0x01},
		"undefined":             {0xa1, 0x61, 'a', 0xf7},
		"indefinite map":        {0xbf, 0x61, 'a', 0x01, 0xff},
		"indefinite string":     {0xa1, 0x61, 'a', 0x7f, 0x61, 'b', 0xff},
		"trailing bytes":        {0xa1, 0x61, 'a', 0x01, 0x00},
		"truncated":             {0xa2, 0x61, 'a', 0x01},
		"truncated string":      {0xa1, 0x61, 'a', 0x65, 'b'},
		"int key":               {0xa1, 0x01, 0x01},
		"duplicate key":         {0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02},
		"other tag":             {0xa1, 0x61, 'a', 0xc1, 0x01},
		"link not bytes":        {0xa1, 0x61, 'a', 0xd8, 0x2a, 0x61, 'x'},
		"link without prefix":   append([]byte{0xa1, 0x61, 'a', 0xd8, 0x2a, 0x58, byte(len(dagRef.Bytes()))}, dagRef.Bytes()...),
		"garbage link":          {0xa1, 0x61, 'a', 0xd8, 0x2a, 0x43, 0x00, 0x01, 0x02},
		"__proto__ key":         cborOf(t, map[string]any{"__proto__": "x"}),
		"long key":              cborOf(t, map[string]any{strings.Repeat("k", 8193): "x"}),
		"empty $type":           cborOf(t, map[string]any{"$type": ""}),
		"$link not a cid":       cborOf(t, map[string]any{"a": map[string]any{"$link": "nope"}}),
		"$link with extra key":  cborOf(t, map[string]any{"a": map[string]any{"$link": dagRef.String(), "b": "c"}}),
		"$bytes not base64":     cborOf(t, map[string]any{"a": map[string]any{"$bytes": "!!"}}),
		"blob with dag ref":     cborOf(t, map[string]any{"a": atdata.Blob{Ref: atdata.CIDLink(dagRef), MimeType: "image/png", Size: 1}}),
		"blob without / mime":   cborOf(t, map[string]any{"a": atdata.Blob{Ref: atdata.CIDLink(rawRef), MimeType: "png", Size: 1}}),
		"blob with extra field": cborOf(t, map[string]any{"a": map[string]any{"$type": "blob", "ref": atdata.CIDLink(rawRef), "mimeType": "a/b", "size": int64(1), "x": int64(1)}}),
		"blob negative size":    cborOf(t, map[string]any{"a": map[string]any{"$type": "blob", "ref": atdata.CIDLink(rawRef), "mimeType": "a/b", "size": int64(-1)}}),
		"too deep":              cborOf(t, nest(31)),
	}
	for name, rec := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := event(t, 1, eventjson.Record{DID: did, Rev: rev, Collection: coll, RKey: rkey,
				Action: "create", CID: recCID, CBOR: rec})
			require.ErrorIs(t, err, eventjson.ErrUnrenderable)
		})
	}
	t.Run("invalid cid", func(t *testing.T) {
		hexCID := "f" + hex.EncodeToString(cidOf(t, cid.DagCBOR, "x").Bytes()) // valid, but base16
		for _, c := range []string{"", "bafynotacid", "Qm", hexCID} {
			_, err := event(t, 1, eventjson.Record{DID: did, Rev: rev, Collection: coll, RKey: rkey,
				Action: "update", CID: c, CBOR: cborOf(t, map[string]any{"a": "b"})})
			require.ErrorIs(t, err, eventjson.ErrUnrenderable, "cid %q", c)
		}
	})
}

func TestLimitsThatStillRender(t *testing.T) {
	recCID := cidOf(t, cid.DagCBOR, "r").String()
	rawRef := cidOf(t, cid.Raw, "blob")
	for name, obj := range map[string]map[string]any{
		"depth 30":    nest(30),
		"key of 8192": {strings.Repeat("k", 8192): "x"},
		"legacy blob": {"a": map[string]any{"cid": rawRef.String(), "mimeType": "image/png"}},
		"blob size 0": {"a": atdata.Blob{Ref: atdata.CIDLink(rawRef), MimeType: "a/b", Size: 0}},
		"$type other": {"$type": "app.x", "a": map[string]any{"$type": "app.y"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := event(t, 1, eventjson.Record{DID: did, Rev: rev, Collection: coll, RKey: rkey,
				Action: "create", CID: recCID, CBOR: cborOf(t, obj)})
			require.NoError(t, err)
			requireValidJSON(t, got)
		})
	}
	got, err := eventjson.AppendRecordData(nil, cborOf(t, map[string]any{
		"a": map[string]any{"cid": rawRef.String(), "mimeType": "image/png"}}))
	require.NoError(t, err)
	require.Equal(t, `{"a":{"cid":"`+rawRef.String()+`","mimeType":"image/png"}}`, string(got))
}

// nest returns a record whose deepest container is at depth d (the record is depth 0).
func nest(d int) map[string]any {
	var v any = map[string]any{}
	for range d - 1 {
		v = []any{v}
	}
	return map[string]any{"a": v}
}

func requireValidJSON(t *testing.T, s string) {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
}

func TestErrorsWrap(t *testing.T) {
	_, err := eventjson.AppendRecordData(nil, []byte{0xa1, 0x61, 'a', 0xf7})
	require.True(t, errors.Is(err, eventjson.ErrUnrenderable))
	require.Contains(t, err.Error(), "simple value 23")
}

func BenchmarkRecordBody(b *testing.B) {
	rec := cborOf(b, map[string]any{
		"$type": coll, "text": strings.Repeat("hello world ", 20), "createdAt": "2024-01-01T00:00:00.000Z",
		"langs": []any{"en"},
		"embed": map[string]any{"$type": "app.bsky.embed.images", "images": []any{map[string]any{
			"alt": "x", "image": atdata.Blob{Ref: atdata.CIDLink(cidOf(b, cid.Raw, "i")), MimeType: "image/jpeg", Size: 100}}}},
	})
	r := eventjson.Record{Live: true, DID: did, Rev: rev, Collection: coll, RKey: rkey, Action: "create",
		CID: cidOf(b, cid.DagCBOR, "r").String(), CBOR: rec}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = eventjson.AppendRecordBody(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
}
