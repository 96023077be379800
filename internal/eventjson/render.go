package eventjson

// The renderer writes the JSON of a record checkCBOR has accepted, straight from its CBOR and
// byte for byte as atdata.UnmarshalCBOR followed by encoding/json wrote it (that path is kept
// as the oracle in oracle_test.go, and FuzzRecordData holds the two to the same output):
//
//   - Object keys come out sorted bytewise, as encoding/json sorts map keys (DAG-CBOR sorts them
//     length first). A key repeated in a map is an error: the decoder refuses it.
//   - Maps with the keys atdata gives a meaning ($link, $bytes, $type, a legacy blob's cid and
//     mimeType) render as atdata reads them: see special.go.
//   - The record itself must be a plain object, none of those.
//   - Everything else renders as encoding/json writes it: strings as in jsontext.go, integers
//     in decimal, bytes as {"$bytes":"<std base64, no padding>"}, CID links as
//     {"$link":"<CID string>"}, true, false, null.

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
)

// renderer walks a checked record and appends its JSON to dst.
type renderer struct {
	b   []byte
	pos int
	dst []byte
	// ents holds the entries of the maps being rendered, outermost first; each map appends its
	// own and truncates them when done.
	ents []entry
}

// entry is one map entry: the key's content is b[key:keyEnd] and its value starts at b[val].
type entry struct {
	key, keyEnd, val int
}

// next reads the head of an item. The record is checked, so it is there and well formed.
func (r *renderer) next() (major byte, arg uint64) {
	ib := r.b[r.pos]
	r.pos++
	major, info := ib>>5, ib&0x1f
	if info < 24 {
		return major, uint64(info)
	}
	n := 1 << (info - 24) // 1, 2, 4 or 8 bytes
	for _, c := range r.b[r.pos : r.pos+n] {
		arg = arg<<8 | uint64(c)
	}
	r.pos += n
	return major, arg
}

// span reads the n bytes of a string's content.
func (r *renderer) span(n uint64) []byte {
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// skip moves past one item.
func (r *renderer) skip() {
	for todo := 1; todo > 0; todo-- {
		switch major, arg := r.next(); major {
		case majorBytes, majorText:
			r.pos += int(arg)
		case majorArray:
			todo += int(arg)
		case majorMap:
			todo += 2 * int(arg)
		case majorTag:
			todo++
		}
	}
}

// value renders one item.
func (r *renderer) value() error {
	major, arg := r.next()
	switch major {
	case majorUint:
		r.dst = strconv.AppendUint(r.dst, arg, 10)
	case majorNegInt:
		r.dst = strconv.AppendUint(append(r.dst, '-'), arg+1, 10)
	case majorBytes:
		r.dst = appendBytes(r.dst, r.span(arg))
	case majorText:
		r.dst = appendText(r.dst, r.span(arg))
	case majorArray:
		r.dst = append(r.dst, '[')
		for i := range arg {
			if i > 0 {
				r.dst = append(r.dst, ',')
			}
			if err := r.value(); err != nil {
				return err
			}
		}
		r.dst = append(r.dst, ']')
	case majorMap:
		return r.object(int(arg), false)
	case majorTag:
		r.dst = appendLink(r.dst, r.link())
	case majorSimple:
		switch arg {
		case simpleFalse:
			r.dst = append(r.dst, "false"...)
		case simpleTrue:
			r.dst = append(r.dst, "true"...)
		default:
			r.dst = append(r.dst, "null"...)
		}
	}
	return nil
}

// link reads the rest of a CID link whose tag head has been read and returns its binary CID.
func (r *renderer) link() []byte {
	_, n := r.next()
	return r.span(n)[1:] // after the 0x00 multibase prefix
}

// object renders a map of n entries whose head has been read; top says it is the record.
func (r *renderer) object(n int, top bool) error {
	base := len(r.ents)
	sp := special{-1, -1, -1, -1, -1, -1, -1}
	for range n {
		_, keyLen := r.next()
		e := entry{key: r.pos, keyEnd: r.pos + int(keyLen), val: r.pos + int(keyLen)}
		r.pos = e.val
		sp.note(r.b[e.key:e.keyEnd], e.val)
		r.skip()
		r.ents = append(r.ents, e)
	}
	end := r.pos
	err := r.entries(r.ents[base:], sp, top)
	r.ents = r.ents[:base]
	r.pos = end
	return err
}

// entries renders the map with entries ents and special keys sp as atdata reads it.
func (r *renderer) entries(ents []entry, sp special, top bool) error {
	slices.SortFunc(ents, func(x, y entry) int {
		return bytes.Compare(r.b[x.key:x.keyEnd], r.b[y.key:y.keyEnd])
	})
	for i := 1; i < len(ents); i++ {
		if k := r.b[ents[i].key:ents[i].keyEnd]; bytes.Equal(k, r.b[ents[i-1].key:ents[i-1].keyEnd]) {
			return unrenderable("repeated map key %q", k)
		}
	}
	kind, err := r.kind(len(ents), sp)
	switch {
	case err != nil:
		return err
	case top && kind != objectKindPlain:
		return unrenderable("the record is a %s, not an object", objectKindNames[kind])
	case kind == objectKindLink:
		return r.linkObject(len(ents), sp.link)
	case kind == objectKindBytes:
		return r.bytesObject(len(ents), sp.bytes)
	case kind == objectKindBlob:
		return r.blob(len(ents), sp)
	case kind == objectKindLegacyBlob:
		return r.legacyBlob(sp)
	}
	r.dst = append(r.dst, '{')
	for i, e := range ents {
		if i > 0 {
			r.dst = append(r.dst, ',')
		}
		r.dst = append(appendText(r.dst, r.b[e.key:e.keyEnd]), ':')
		r.pos = e.val
		if err := r.value(); err != nil {
			return err
		}
	}
	r.dst = append(r.dst, '}')
	return nil
}

// appendBytes appends b as a $bytes object.
func appendBytes(dst, b []byte) []byte {
	dst = append(dst, `{"$bytes":"`...)
	return append(base64.RawStdEncoding.AppendEncode(dst, b), `"}`...)
}

// appendLink appends the valid binary CID b as a $link object.
func appendLink(dst, b []byte) []byte {
	return append(appendCID(append(dst, `{"$link":"`...), b), `"}`...)
}

// appendLinkString appends the CID string s as a $link object.
func appendLinkString(dst []byte, s string) []byte {
	return append(appendString(append(dst, `{"$link":`...), s), '}')
}
