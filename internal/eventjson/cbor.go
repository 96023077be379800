package eventjson

import (
	"encoding/binary"
	"unicode/utf8"
)

// Limits of what the @atproto/tap client accepts in strict mode (lex-data constants), applied
// to the record payload.
const (
	// maxSafeInt is the largest integer a JavaScript number holds exactly (2^53-1); the
	// smallest is its negation.
	maxSafeInt = 1<<53 - 1
	// maxDepth is the deepest JSON container (object or array, including the objects $link,
	// $bytes and blobs render as) below the record object, which is depth 0. The client allows
	// 32 levels in the whole message; the envelope and the record event object take two.
	maxDepth = 30
	// maxContainerLen bounds the entries of one array or map.
	maxContainerLen = 128 * 1024
	// maxKeyLen bounds an object key, in bytes.
	maxKeyLen = 8192
	// cidLinkTag is the CBOR tag of a CID link.
	cidLinkTag = 42
	// maxRecordSize is the largest record, in CBOR bytes, atdata decodes (its
	// MAX_CBOR_RECORD_SIZE).
	maxRecordSize = 1 << 20
)

// CBOR major types.
const (
	majorUint = iota
	majorNegInt
	majorBytes
	majorText
	majorArray
	majorMap
	majorTag
	majorSimple
)

// CBOR simple values allowed in the data model.
const (
	simpleFalse = 20
	simpleTrue  = 21
	simpleNull  = 22
)

// checkCBOR checks that rec is exactly one CBOR map of at most 1 MiB holding only what renders
// faithfully as atproto JSON: integers within ±(2^53-1), valid UTF-8 strings and keys,
// booleans and null in their one-byte form, byte strings, CID links (tag 42 over a valid
// binary CID), arrays and maps with text keys, all of definite length, within the client's
// depth, length and key limits, no "__proto__" key, and no typed blob ($type "blob") with a
// negative size. It reads rec without allocating. It leaves to the renderer what needs a map's
// keys together: repeated keys and atdata's special objects.
func checkCBOR(rec []byte) error {
	if len(rec) == 0 || rec[0]>>5 != majorMap {
		return unrenderable("record is not a CBOR map")
	}
	if len(rec) > maxRecordSize {
		return unrenderable("record of %d bytes exceeds %d", len(rec), maxRecordSize)
	}
	c := cborChecker{b: rec}
	if err := c.item(0); err != nil {
		return err
	}
	if c.pos != len(rec) {
		return unrenderable("%d trailing bytes after the record", len(rec)-c.pos)
	}
	return nil
}

// cborChecker walks one CBOR item tree.
type cborChecker struct {
	b   []byte
	pos int
}

// head reads an item's initial byte and argument. Indefinite lengths and reserved additional
// information are errors.
func (c *cborChecker) head() (major byte, arg uint64, err error) {
	if c.pos >= len(c.b) {
		return 0, 0, unrenderable("truncated CBOR")
	}
	ib := c.b[c.pos]
	c.pos++
	major, info := ib>>5, ib&0x1f
	if info < 24 {
		return major, uint64(info), nil
	}
	var n int
	switch info {
	case 24:
		n = 1
	case 25:
		n = 2
	case 26:
		n = 4
	case 27:
		n = 8
	case 31:
		return 0, 0, unrenderable("indefinite-length CBOR item")
	default:
		return 0, 0, unrenderable("reserved CBOR additional information %d", info)
	}
	if len(c.b)-c.pos < n {
		return 0, 0, unrenderable("truncated CBOR")
	}
	var buf [8]byte
	copy(buf[8-n:], c.b[c.pos:c.pos+n])
	c.pos += n
	return major, binary.BigEndian.Uint64(buf[:]), nil
}

// span reads n bytes of a string's content.
func (c *cborChecker) span(n uint64) ([]byte, error) {
	if n > uint64(len(c.b)-c.pos) {
		return nil, unrenderable("truncated CBOR")
	}
	s := c.b[c.pos : c.pos+int(n)]
	c.pos += int(n)
	return s, nil
}

// item checks one item; depth is the JSON depth it renders at if it is a container.
func (c *cborChecker) item(depth int) error {
	start := c.pos
	major, arg, err := c.head()
	if err != nil {
		return err
	}
	switch major {
	case majorUint:
		if arg > maxSafeInt {
			return unrenderable("integer %d beyond 2^53-1", arg)
		}
	case majorNegInt:
		if arg > maxSafeInt-1 {
			return unrenderable("integer -1-%d beyond -(2^53-1)", arg)
		}
	case majorBytes:
		if depth > maxDepth {
			return unrenderable("nested deeper than %d levels", maxDepth)
		}
		_, err = c.span(arg)
	case majorText:
		var s []byte
		if s, err = c.span(arg); err == nil && !utf8.Valid(s) {
			err = unrenderable("string is not valid UTF-8")
		}
	case majorArray:
		err = c.array(arg, depth)
	case majorMap:
		err = c.mapItem(arg, depth)
	case majorTag:
		err = c.link(arg, depth)
	case majorSimple:
		// The decoder takes false, true and null in their one-byte form only.
		switch info := c.b[start] & 0x1f; {
		case info >= 25:
			err = unrenderable("floats are not atproto data")
		case info == 24:
			err = unrenderable("two-byte CBOR simple value %d is not atproto data", arg)
		case arg != simpleFalse && arg != simpleTrue && arg != simpleNull:
			err = unrenderable("CBOR simple value %d is not atproto data", arg)
		}
	}
	return err
}

// array checks the n elements of an array at depth.
func (c *cborChecker) array(n uint64, depth int) error {
	if depth > maxDepth {
		return unrenderable("nested deeper than %d levels", maxDepth)
	}
	if n > maxContainerLen {
		return unrenderable("array of %d elements", n)
	}
	for range n {
		if err := c.item(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// mapItem checks the n entries of a map at depth.
func (c *cborChecker) mapItem(n uint64, depth int) error {
	if depth > maxDepth {
		return unrenderable("nested deeper than %d levels", maxDepth)
	}
	if n > maxContainerLen {
		return unrenderable("map of %d entries", n)
	}
	typedBlob, negativeSize := false, false
	for range n {
		key, err := c.key()
		if err != nil {
			return err
		}
		valStart := c.pos
		if err := c.item(depth + 1); err != nil {
			return err
		}
		switch string(key) {
		case "$type": // "blob" however it is encoded
			s, ok := textAt(c.b, valStart)
			typedBlob = ok && string(s) == "blob"
		case "size":
			negativeSize = c.b[valStart]>>5 == majorNegInt
		}
	}
	if typedBlob && negativeSize {
		return unrenderable("blob with a negative size")
	}
	return nil
}

// key reads a map key: a definite, valid UTF-8 text string within the length limit, not
// "__proto__" (the client refuses that key).
func (c *cborChecker) key() ([]byte, error) {
	major, arg, err := c.head()
	if err != nil {
		return nil, err
	}
	if major != majorText {
		return nil, unrenderable("map key is not a string")
	}
	key, err := c.span(arg)
	if err != nil {
		return nil, err
	}
	switch {
	case len(key) > maxKeyLen:
		return nil, unrenderable("map key of %d bytes", len(key))
	case !utf8.Valid(key):
		return nil, unrenderable("map key is not valid UTF-8")
	case string(key) == "__proto__":
		return nil, unrenderable(`map key "__proto__"`)
	}
	return key, nil
}

// link checks a tag: only 42 (CID link) is allowed, over a byte string holding the identity
// multibase prefix 0x00 and a binary CID the decoder (go-cid's Cast) accepts.
func (c *cborChecker) link(tag uint64, depth int) error {
	if tag != cidLinkTag {
		return unrenderable("CBOR tag %d is not atproto data", tag)
	}
	if depth > maxDepth {
		return unrenderable("nested deeper than %d levels", maxDepth)
	}
	major, arg, err := c.head()
	if err != nil {
		return err
	}
	if major != majorBytes {
		return unrenderable("CID link is not a byte string")
	}
	b, err := c.span(arg)
	if err != nil {
		return err
	}
	if len(b) < 2 || b[0] != 0 {
		return unrenderable("CID link without the 0x00 multibase prefix")
	}
	if !validCID(b[1:]) {
		return unrenderable("CID link %x is not a valid CID", b[1:])
	}
	return nil
}

// textAt returns the content of the text string starting at b[at], if there is one. It is for
// items the checker has already walked.
func textAt(b []byte, at int) ([]byte, bool) {
	c := cborChecker{b: b, pos: at}
	major, arg, err := c.head()
	if err != nil || major != majorText {
		return nil, false
	}
	s, err := c.span(arg)
	return s, err == nil
}
