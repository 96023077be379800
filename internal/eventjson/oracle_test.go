package eventjson_test

// The oracle: record rendering as it was before the direct CBOR→JSON renderer, kept verbatim
// (renamed, and with the one change marked in oracleChecker.mapItem) so that the renderer can
// be held to its output byte for byte (TestRecordDataMatchesOracle, FuzzRecordData).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/ipfs/go-cid"

	"github.com/tapkit/tap/internal/eventjson"
)

// oRawCodec is the multicodec of raw binary data, the only codec a blob ref may have.
const oRawCodec = 0x55

// Limits of what the @atproto/tap client accepts in strict mode (lex-data constants), applied
// to the record payload.
const (
	// oMaxSafeInt is the largest integer a JavaScript number holds exactly (2^53-1); the
	// smallest is its negation.
	oMaxSafeInt = 1<<53 - 1
	// oMaxDepth is the deepest JSON container (object or array, including the objects $link,
	// $bytes and blobs render as) below the record object, which is depth 0. The client allows
	// 32 levels in the whole message; the envelope and the record event object take two.
	oMaxDepth = 30
	// oMaxContainerLen bounds the entries of one array or map.
	oMaxContainerLen = 128 * 1024
	// oMaxKeyLen bounds an object key, in bytes.
	oMaxKeyLen = 8192
	// oCIDLinkTag is the CBOR tag of a CID link.
	oCIDLinkTag = 42
)

// CBOR major types.
const (
	oMajorUint = iota
	oMajorNegInt
	oMajorBytes
	oMajorText
	oMajorArray
	oMajorMap
	oMajorTag
	oMajorSimple
)

// CBOR simple values allowed in the data model.
const (
	oSimpleFalse = 20
	oSimpleTrue  = 21
	oSimpleNull  = 22
)

// oracleEncoders holds reusable JSON oracleEncoders writing into their own buffers.
var oracleEncoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// oracleRecordData is AppendRecordData as it was before the renderer: check, decode with
// atdata, check blobs, encode with encoding/json.
func oracleRecordData(dst []byte, rec []byte) ([]byte, error) {
	if err := oracleCheckCBOR(rec); err != nil {
		return dst, err
	}
	obj, err := atdata.UnmarshalCBOR(rec)
	if err != nil {
		return dst, oracleErr("%v", err)
	}
	if err := oracleCheckBlobs(obj); err != nil {
		return dst, err
	}
	e := oracleEncoders.Get().(*encoder)
	defer oracleEncoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(obj); err != nil {
		return dst, oracleErr("%v", err)
	}
	out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	if e.buf.Cap() > 1<<20 {
		e.buf = bytes.Buffer{} // do not keep the buffer of a huge record around
	}
	return append(dst, out...), nil
}

// oracleCheckBlobs walks decoded record data and checks every blob the way the client does: a typed
// blob needs a CIDv1 raw-codec ref and a mimeType containing "/"; legacy blobs (Size < 0)
// render as plain objects and pass. Negative sizes of typed blobs are caught by oracleCheckCBOR, so
// Size < 0 here always means a legacy blob.
func oracleCheckBlobs(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for _, val := range v {
			if err := oracleCheckBlobs(val); err != nil {
				return err
			}
		}
	case []any:
		for _, val := range v {
			if err := oracleCheckBlobs(val); err != nil {
				return err
			}
		}
	case atdata.Blob:
		if v.Size < 0 {
			return nil
		}
		ref := cid.Cid(v.Ref)
		if ref.Version() != 1 || ref.Type() != oRawCodec {
			return oracleErr("blob ref %s is not a raw CIDv1", ref)
		}
		if !strings.Contains(v.MimeType, "/") {
			return oracleErr("blob mimeType %q has no /", v.MimeType)
		}
	}
	return nil
}

// oracleCheckCBOR checks that rec is exactly one CBOR map holding only what renders faithfully as
// atproto JSON: integers within ±(2^53-1), valid UTF-8 strings and keys, booleans, null, byte
// strings, CID links (tag 42), arrays and maps with text keys, all of definite length, within
// the client's depth, length and key limits, no "__proto__" key, and no typed blob
// ($type "blob") with a negative size. It reads rec without allocating.
func oracleCheckCBOR(rec []byte) error {
	if len(rec) == 0 || rec[0]>>5 != oMajorMap {
		return oracleErr("record is not a CBOR map")
	}
	c := oracleChecker{b: rec}
	if err := c.item(0); err != nil {
		return err
	}
	if c.pos != len(rec) {
		return oracleErr("%d trailing bytes after the record", len(rec)-c.pos)
	}
	return nil
}

// oracleChecker walks one CBOR item tree.
type oracleChecker struct {
	b   []byte
	pos int
}

// head reads an item's initial byte and argument. Indefinite lengths and reserved additional
// information are errors.
func (c *oracleChecker) head() (major byte, arg uint64, err error) {
	if c.pos >= len(c.b) {
		return 0, 0, oracleErr("truncated CBOR")
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
		return 0, 0, oracleErr("indefinite-length CBOR item")
	default:
		return 0, 0, oracleErr("reserved CBOR additional information %d", info)
	}
	if len(c.b)-c.pos < n {
		return 0, 0, oracleErr("truncated CBOR")
	}
	var buf [8]byte
	copy(buf[8-n:], c.b[c.pos:c.pos+n])
	c.pos += n
	return major, binary.BigEndian.Uint64(buf[:]), nil
}

// span reads n bytes of a string's content.
func (c *oracleChecker) span(n uint64) ([]byte, error) {
	if n > uint64(len(c.b)-c.pos) {
		return nil, oracleErr("truncated CBOR")
	}
	s := c.b[c.pos : c.pos+int(n)]
	c.pos += int(n)
	return s, nil
}

// item checks one item; depth is the JSON depth it renders at if it is a container.
func (c *oracleChecker) item(depth int) error {
	start := c.pos
	major, arg, err := c.head()
	if err != nil {
		return err
	}
	switch major {
	case oMajorUint:
		if arg > oMaxSafeInt {
			return oracleErr("integer %d beyond 2^53-1", arg)
		}
	case oMajorNegInt:
		if arg > oMaxSafeInt-1 {
			return oracleErr("integer -1-%d beyond -(2^53-1)", arg)
		}
	case oMajorBytes:
		if depth > oMaxDepth {
			return oracleErr("nested deeper than %d levels", oMaxDepth)
		}
		_, err = c.span(arg)
	case oMajorText:
		var s []byte
		if s, err = c.span(arg); err == nil && !utf8.Valid(s) {
			err = oracleErr("string is not valid UTF-8")
		}
	case oMajorArray:
		err = c.array(arg, depth)
	case oMajorMap:
		err = c.mapItem(arg, depth)
	case oMajorTag:
		err = c.link(arg, depth)
	case oMajorSimple:
		switch {
		case c.b[start]&0x1f >= 25:
			err = oracleErr("floats are not atproto data")
		case arg != oSimpleFalse && arg != oSimpleTrue && arg != oSimpleNull:
			err = oracleErr("CBOR simple value %d is not atproto data", arg)
		}
	}
	return err
}

// array checks the n elements of an array at depth.
func (c *oracleChecker) array(n uint64, depth int) error {
	if depth > oMaxDepth {
		return oracleErr("nested deeper than %d levels", oMaxDepth)
	}
	if n > oMaxContainerLen {
		return oracleErr("array of %d elements", n)
	}
	for range n {
		if err := c.item(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// mapItem checks the n entries of a map at depth.
func (c *oracleChecker) mapItem(n uint64, depth int) error {
	if depth > oMaxDepth {
		return oracleErr("nested deeper than %d levels", oMaxDepth)
	}
	if n > oMaxContainerLen {
		return oracleErr("map of %d entries", n)
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
		case "$type":
			// The one change from the old checker: it compared the encoded value with the
			// minimal encoding of "blob", so a typed blob with a negative size and a
			// non-minimally encoded $type slipped through and rendered as a legacy blob,
			// altered. The renderer refuses it (TestTypedBlobNegativeSizeNonMinimal).
			v := oracleChecker{b: c.b, pos: valStart}
			major, n, err := v.head()
			s, _ := v.span(n)
			typedBlob = err == nil && major == oMajorText && string(s) == "blob"
		case "size":
			negativeSize = c.b[valStart]>>5 == oMajorNegInt
		}
	}
	if typedBlob && negativeSize {
		return oracleErr("blob with a negative size")
	}
	return nil
}

// key reads a map key: a definite, valid UTF-8 text string within the length limit, not
// "__proto__" (the client refuses that key).
func (c *oracleChecker) key() ([]byte, error) {
	major, arg, err := c.head()
	if err != nil {
		return nil, err
	}
	if major != oMajorText {
		return nil, oracleErr("map key is not a string")
	}
	key, err := c.span(arg)
	if err != nil {
		return nil, err
	}
	switch {
	case len(key) > oMaxKeyLen:
		return nil, oracleErr("map key of %d bytes", len(key))
	case !utf8.Valid(key):
		return nil, oracleErr("map key is not valid UTF-8")
	case string(key) == "__proto__":
		return nil, oracleErr(`map key "__proto__"`)
	}
	return key, nil
}

// link checks a tag: only 42 (CID link) is allowed, over a byte string starting with the
// identity multibase prefix 0x00. The CID itself is validated by the decoder.
func (c *oracleChecker) link(tag uint64, depth int) error {
	if tag != oCIDLinkTag {
		return oracleErr("CBOR tag %d is not atproto data", tag)
	}
	if depth > oMaxDepth {
		return oracleErr("nested deeper than %d levels", oMaxDepth)
	}
	major, arg, err := c.head()
	if err != nil {
		return err
	}
	if major != oMajorBytes {
		return oracleErr("CID link is not a byte string")
	}
	b, err := c.span(arg)
	if err != nil {
		return err
	}
	if len(b) < 2 || b[0] != 0 {
		return oracleErr("CID link without the 0x00 multibase prefix")
	}
	return nil
}

// oracleErr returns an error wrapping ErrUnrenderable with the formatted reason.
func oracleErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", eventjson.ErrUnrenderable, fmt.Sprintf(format, args...))
}
