package eventjson_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ipfs/go-cid"
)

// cborWriter builds CBOR by hand, so tests can write what atdata would not: repeated keys,
// non-minimal heads, any key order.
type cborWriter struct{}

// head returns a minimal CBOR head.
func (cborWriter) head(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 1<<8:
		return []byte{major<<5 | 24, byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	case n < 1<<32:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{major<<5 | 27}, n)
	}
}

func (w cborWriter) int(i int64) []byte {
	if i < 0 {
		return w.head(1, uint64(-1-i))
	}
	return w.head(0, uint64(i))
}

func (w cborWriter) text(s string) []byte { return append(w.head(3, uint64(len(s))), s...) }

func (w cborWriter) bytes(b []byte) []byte { return append(w.head(2, uint64(len(b))), b...) }

// link returns a CID link to the binary CID c.
func (w cborWriter) link(c []byte) []byte {
	return append([]byte{0xd8, 42}, w.bytes(append([]byte{0}, c...))...)
}

// mapOf returns a map of the key, encoded value pairs kv, in the order given.
func (w cborWriter) mapOf(kv ...any) []byte {
	out := w.head(5, uint64(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		out = append(out, w.text(kv[i].(string))...)
		out = append(out, kv[i+1].([]byte)...)
	}
	return out
}

// recordGen generates random records, mostly renderable.
type recordGen struct {
	rnd *rand.Rand
	w   cborWriter
}

// genKeys are map keys of many lengths, whose length-first and bytewise orders differ, and the
// keys atdata gives a meaning.
var genKeys = []string{"a", "b", "B", "z", "aa", "ab", "ba", "Zed", "text", "langs", "$type", "$link",
	"$bytes", "cid", "mimeType", "ref", "size", "createdAt", "é", "<&>", "\u2028", "a b", "\x01",
	"__proto_", "", "🦋", "embed", "images", "alt", "aspectRatio", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}

// genStrings are pieces of tricky strings.
var genStrings = []string{"plain", "<", ">", "&", "\u2028", "\u2029", "\u2027", "\u202a", "€", "â",
	`"`, `\`, "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "é", "🦋", "日本", " ", "blob",
	"a/b", "\xed\x9f\xbf", "\U0010ffff"}

// genInts are integers at the edges of CBOR heads and of ±(2^53-1).
var genInts = []int64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<53 - 1, -1, -24, -25,
	-256, -257, -(1<<53 - 1)}

func (g *recordGen) record() []byte {
	if g.rnd.IntN(20) == 0 {
		return g.special(0) // unrenderable as the record, but not always for the same reason
	}
	return g.plainMap(0)
}

// rare reports true once in n times.
func (g *recordGen) rare(n int) bool { return g.rnd.IntN(n) == 0 }

func (g *recordGen) value(depth int) []byte {
	w := g.w
	if depth > 5 {
		return g.scalar()
	}
	switch g.rnd.IntN(12) {
	case 0, 1:
		n := g.rnd.IntN(4)
		out := w.head(4, uint64(n))
		for range n {
			out = append(out, g.value(depth+1)...)
		}
		return out
	case 2, 3:
		return g.plainMap(depth + 1)
	case 4, 5:
		return g.special(depth + 1)
	default:
		return g.scalar()
	}
}

func (g *recordGen) scalar() []byte {
	w := g.w
	switch g.rnd.IntN(14) {
	case 0, 1:
		return w.int(genInts[g.rnd.IntN(len(genInts))])
	case 2:
		return w.int(g.rnd.Int64N(1<<53) - 1<<52)
	case 3, 4, 5:
		return w.text(g.str())
	case 6:
		b := make([]byte, g.rnd.IntN(8))
		for i := range b {
			b[i] = byte(g.rnd.Uint32())
		}
		return w.bytes(b)
	case 7:
		return []byte{0xf4 + byte(g.rnd.IntN(3))} // false, true, null
	case 8, 9:
		return w.link(g.cid())
	case 10:
		if g.rare(4) {
			return g.invalid()
		}
		return g.nonMinimal()
	default:
		return w.text(g.cidString())
	}
}

// str returns a string of random tricky pieces.
func (g *recordGen) str() string {
	var b strings.Builder
	for range g.rnd.IntN(5) {
		b.WriteString(genStrings[g.rnd.IntN(len(genStrings))])
	}
	return b.String()
}

// key returns a map key: mostly from genKeys, sometimes a tricky string.
func (g *recordGen) key() string {
	if g.rare(4) {
		return g.str()
	}
	return genKeys[g.rnd.IntN(len(genKeys))]
}

// plainMap returns a map of random entries, usually in DAG-CBOR order (length first).
func (g *recordGen) plainMap(depth int) []byte {
	n := g.rnd.IntN(7)
	type kv struct {
		k string
		v []byte
	}
	var kvs []kv
	for range n {
		k := g.key()
		if slices.ContainsFunc(kvs, func(e kv) bool { return e.k == k }) && !g.rare(20) {
			continue // a repeated key now and then
		}
		kvs = append(kvs, kv{k, g.value(depth)})
	}
	if !g.rare(5) {
		slices.SortFunc(kvs, func(a, b kv) int {
			if len(a.k) != len(b.k) {
				return len(a.k) - len(b.k)
			}
			return strings.Compare(a.k, b.k)
		})
	}
	out := g.w.head(5, uint64(len(kvs)))
	for _, e := range kvs {
		out = append(out, g.w.text(e.k)...)
		out = append(out, e.v...)
	}
	return out
}

// special returns one of the maps atdata gives a meaning: blobs, legacy blobs, $link and
// $bytes objects, $type; usually valid, sometimes slightly off.
func (g *recordGen) special(depth int) []byte {
	w := g.w
	mime := []string{"image/jpeg", "a/<b>", "png", "", "\u2028/"}[g.rnd.IntN(5)]
	kv := []any{}
	switch g.rnd.IntN(5) {
	case 0:
		ref := w.link(g.cid())
		if g.rare(4) {
			ref = w.mapOf("$link", w.text(g.cidString()))
		}
		size := w.int([]int64{0, 1, 1 << 20, 1<<53 - 1, -1}[g.rnd.IntN(5)])
		typ := w.text("blob")
		if g.rare(8) {
			typ = []byte{0x78, 4, 'b', 'l', 'o', 'b'}
		}
		kv = []any{"$type", typ, "ref", ref, "mimeType", w.text(mime), "size", size}
	case 1:
		c := w.text(g.cidString())
		switch g.rnd.IntN(4) {
		case 0:
			c = w.link(g.cid())
		case 1:
			c = w.bytes(g.cid())
		}
		kv = []any{"cid", c, "mimeType", w.text(mime)}
	case 2:
		kv = []any{"$link", w.text(g.cidString())}
	case 3:
		b := make([]byte, g.rnd.IntN(6))
		for i := range b {
			b[i] = byte(g.rnd.Uint32())
		}
		s := base64.RawStdEncoding.EncodeToString(b)
		if g.rare(4) {
			s = []string{base64.StdEncoding.EncodeToString(b), s + "\n", "!!", s[:len(s)/2]}[g.rnd.IntN(4)]
		}
		kv = []any{"$bytes", w.text(s)}
	default:
		kv = []any{"$type", w.text([]string{"app.bsky.feed.post", "", "blob", "x"}[g.rnd.IntN(4)])}
		if g.rare(8) {
			kv[1] = w.int(1)
		}
		kv = append(kv, "text", w.text(g.str()), "z", g.value(depth))
	}
	if g.rare(6) { // an extra key, or one fewer
		if g.rare(2) {
			kv = append(kv, g.key(), g.value(depth))
		} else {
			kv = kv[:len(kv)-2]
		}
	}
	// DAG-CBOR order, as a real record has it, most of the time.
	if !g.rare(4) {
		type pair struct {
			k string
			v []byte
		}
		var ps []pair
		for i := 0; i < len(kv); i += 2 {
			ps = append(ps, pair{kv[i].(string), kv[i+1].([]byte)})
		}
		slices.SortFunc(ps, func(a, b pair) int {
			if len(a.k) != len(b.k) {
				return len(a.k) - len(b.k)
			}
			return strings.Compare(a.k, b.k)
		})
		kv = kv[:0]
		for _, p := range ps {
			kv = append(kv, p.k, p.v)
		}
	}
	return w.mapOf(kv...)
}

// genCIDs are binary CIDs: CIDv1 dag-cbor and raw, CIDv0, an identity hash, and broken ones.
var genCIDs = func() [][]byte {
	v1 := func(codec uint64, data string) []byte {
		c, err := cid.Prefix{Version: 1, Codec: codec, MhType: 0x12, MhLength: -1}.Sum([]byte(data))
		if err != nil {
			panic(err)
		}
		return c.Bytes()
	}
	v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	if err != nil {
		panic(err)
	}
	dag := v1(cid.DagCBOR, "x")
	return [][]byte{
		dag, v1(cid.Raw, "y"), v1(cid.DagCBOR, "z"), v1(cid.Raw, "w"), v0.Bytes(),
		{0x01, 0x55, 0x00, 0x03, 'a', 'b', 'c'}, // identity multihash
		append(dag[:len(dag):len(dag)], 0),      // trailing byte
		dag[:len(dag)-1],                        // short digest
		append([]byte{0x02}, dag[1:]...),        // version 2
		{0x01, 0x80, 0x00, 0x00, 0x00},          // non-minimal codec varint
	}
}()

// cid returns a binary CID, now and then a broken one.
func (g *recordGen) cid() []byte {
	if g.rare(10) {
		return genCIDs[5+g.rnd.IntN(len(genCIDs)-5)]
	}
	return genCIDs[g.rnd.IntN(5)]
}

// cidString returns a CID string in some multibase, now and then a broken one.
func (g *recordGen) cidString() string {
	b := g.cid()
	c, err := cid.Cast(b)
	if err != nil {
		return "b" + base64.RawURLEncoding.EncodeToString(b)
	}
	switch g.rnd.IntN(6) {
	case 0:
		return base58btc(b)
	case 1:
		return "f" + hex.EncodeToString(b)
	case 2:
		return "/ipfs/" + c.String()
	case 3:
		return strings.ToUpper(c.String())
	default:
		return c.String()
	}
}

// nonMinimal returns a valid item with a longer head than needed.
func (g *recordGen) nonMinimal() []byte {
	switch g.rnd.IntN(4) {
	case 0:
		return []byte{0x19, 0, 7} // 7
	case 1:
		return []byte{0x38, 0} // -1
	case 2:
		return []byte{0x79, 0, 2, 'h', 'i'} // "hi"
	default:
		return append([]byte{0xd9, 0, 42}, g.w.bytes(append([]byte{0}, g.cid()...))...) // a link
	}
}

// invalid returns an item that is not atproto data.
func (g *recordGen) invalid() []byte {
	items := [][]byte{
		{0xf9, 0x3c, 0x00},                // half float
		{0xf7},                            // undefined
		{0xf8, 20},                        // two-byte false
		{0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0}, // 2^53
		{0x62, 0xc3, 0x28},                // invalid UTF-8
		{0xc1, 0x01},                      // tag 1
		{0x9f, 0xff},                      // indefinite array
		{0xa1, 0x01, 0x01},                // integer key
	}
	return items[g.rnd.IntN(len(items))]
}

// base58btc returns b in multibase base58btc ("z"), as CIDv1 strings may be written.
func base58btc(b []byte) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int).SetBytes(b)
	var out []byte
	for mod := new(big.Int); n.Sign() > 0; {
		n.DivMod(n, big.NewInt(58), mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	slices.Reverse(out)
	return "z" + string(out)
}
