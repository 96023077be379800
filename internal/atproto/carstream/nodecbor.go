package carstream

import (
	"errors"
	"math"

	"github.com/ipfs/go-cid"
)

// MST node blocks are decoded here rather than with indigo's generated
// mst.NodeData.UnmarshalCBOR, which allocates for every key and CID and
// accepts non-canonical encodings (a record block would pass as an empty
// node), so that each node would have to be re-encoded and compared.
// decodeNode accepts exactly the bytes that indigo's
// mst.NodeData.MarshalCBOR writes, the canonical DAG-CBOR of an MST node:
//
//	node  = A2 61 "e" array(n <= 8192) entry{n} 61 "l" (F6 | link)
//	entry = A4 61 "k" bytes(<= 2 MiB) 61 "p" (uint | negint) 61 "t" (F6 | link) 61 "v" link
//	link  = D8 2A bytes(2..512) 00 CID (any CID go-cid's Cast takes)
//
// with every header in its shortest form. That is the set of blocks that
// decoding with mst.NodeData.UnmarshalCBOR and requiring the re-encoding
// to give the block back accepted (FuzzDecodeNode checks that they agree),
// but it neither allocates (except one string per CID) nor re-encodes.

// maxNodeEntries and maxKeySuffix are the limits of indigo's generated
// decoder and encoder.
const (
	maxNodeEntries = 8192
	maxKeySuffix   = 2 << 20
	maxLinkBytes   = 512
)

// CBOR major types.
const (
	majUint   = 0
	majNegint = 1
	majBytes  = 2
	majArray  = 4
	majTag    = 6
	cborNull  = 0xf6
	tagCID    = 42
)

// errNotCanonical means a block is not an MST node in canonical form.
var errNotCanonical = errors.New("not a canonically encoded MST node")

// nodeData is a decoded MST node. Key suffixes alias the block's bytes,
// or keys if the walker copied them there.
type nodeData struct {
	left    cid.Cid // cid.Undef if none
	entries []nodeEntry
	keys    []byte
}

// nodeEntry is one entry of an MST node.
type nodeEntry struct {
	prefixLen int64
	keySuffix []byte
	value     cid.Cid
	right     cid.Cid // cid.Undef if none
}

// nodeDecoder reads a node block from the front.
type nodeDecoder struct {
	b []byte
}

// decodeNode decodes data, appending its entries to entries[:0]; it
// returns the node and the number of trailing bytes after it. Key suffixes
// alias data.
func decodeNode(data []byte, entries []nodeEntry) (nodeData, int, error) {
	d := nodeDecoder{b: data}
	if !d.literal("\xa2\x61e") {
		return nodeData{}, 0, errNotCanonical
	}
	n, ok := d.header(majArray)
	if !ok || n > maxNodeEntries {
		return nodeData{}, 0, errNotCanonical
	}
	nd := nodeData{entries: entries[:0]}
	for range n {
		e, err := d.entry()
		if err != nil {
			return nodeData{}, 0, err
		}
		nd.entries = append(nd.entries, e)
	}
	if !d.literal("\x61l") {
		return nodeData{}, 0, errNotCanonical
	}
	var err error
	if nd.left, err = d.optionalLink(); err != nil {
		return nodeData{}, 0, err
	}
	return nd, len(d.b), nil
}

func (d *nodeDecoder) entry() (nodeEntry, error) {
	var e nodeEntry
	if !d.literal("\xa4\x61k") {
		return e, errNotCanonical
	}
	n, ok := d.header(majBytes)
	if !ok || n > maxKeySuffix || n > uint64(len(d.b)) {
		return e, errNotCanonical
	}
	e.keySuffix, d.b = d.b[:n:n], d.b[n:]
	if !d.literal("\x61p") || len(d.b) == 0 {
		return e, errNotCanonical
	}
	switch d.b[0] >> 5 {
	case majUint:
		v, ok := d.header(majUint)
		if !ok || v > math.MaxInt64 {
			return e, errNotCanonical
		}
		e.prefixLen = int64(v)
	case majNegint:
		v, ok := d.header(majNegint)
		if !ok || v > math.MaxInt64 {
			return e, errNotCanonical
		}
		e.prefixLen = -1 - int64(v)
	default:
		return e, errNotCanonical
	}
	if !d.literal("\x61t") {
		return e, errNotCanonical
	}
	var err error
	if e.right, err = d.optionalLink(); err != nil {
		return e, err
	}
	if !d.literal("\x61v") {
		return e, errNotCanonical
	}
	e.value, err = d.link()
	return e, err
}

// optionalLink reads null (cid.Undef) or a link.
func (d *nodeDecoder) optionalLink() (cid.Cid, error) {
	if len(d.b) > 0 && d.b[0] == cborNull {
		d.b = d.b[1:]
		return cid.Undef, nil
	}
	return d.link()
}

// link reads a DAG-CBOR link: tag 42 on a byte string holding a zero byte
// (the identity multibase) and a binary CID.
func (d *nodeDecoder) link() (cid.Cid, error) {
	if t, ok := d.header(majTag); !ok || t != tagCID {
		return cid.Undef, errNotCanonical
	}
	n, ok := d.header(majBytes)
	if !ok || n < 2 || n > maxLinkBytes || n > uint64(len(d.b)) || d.b[0] != 0 {
		return cid.Undef, errNotCanonical
	}
	c, err := cid.Cast(d.b[1:n])
	if err != nil {
		return cid.Undef, errNotCanonical
	}
	d.b = d.b[n:]
	return c, nil
}

// literal consumes s if the input starts with it.
func (d *nodeDecoder) literal(s string) bool {
	if len(d.b) < len(s) || string(d.b[:len(s)]) != s {
		return false
	}
	d.b = d.b[len(s):]
	return true
}

// header reads a CBOR header of major type maj in its shortest form and
// returns its argument.
func (d *nodeDecoder) header(maj byte) (uint64, bool) {
	if len(d.b) == 0 || d.b[0]>>5 != maj {
		return 0, false
	}
	ai := d.b[0] & 0x1f
	var v, least uint64
	var size int
	switch {
	case ai < 24:
		d.b = d.b[1:]
		return uint64(ai), true
	case ai == 24:
		size, least = 1, 24
	case ai == 25:
		size, least = 2, 1<<8
	case ai == 26:
		size, least = 4, 1<<16
	case ai == 27:
		size, least = 8, 1<<32
	default:
		return 0, false
	}
	if len(d.b) < 1+size {
		return 0, false
	}
	for _, c := range d.b[1 : 1+size] {
		v = v<<8 | uint64(c)
	}
	if v < least {
		return 0, false
	}
	d.b = d.b[1+size:]
	return v, true
}
