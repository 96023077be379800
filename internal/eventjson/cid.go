package eventjson

import (
	"encoding/base32"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// A binary CID is a CIDv0 (a bare sha2-256 multihash: 0x12 0x20 and 32 bytes) or a CIDv1
// (varint version 1, varint codec, multihash). These helpers read and print one without
// allocating, exactly as go-cid's Cast and String do; every CID they accept, go-cid accepts
// and prints the same.

// cidV0Len is the length of a binary CIDv0.
const cidV0Len = 34

// maxUvarintLen is the most bytes go-varint reads for one varint (it refuses values >= 2^63).
const maxUvarintLen = 9

// base32Lower is the multibase "b" alphabet go-cid prints CIDv1 with.
var base32Lower = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// isCIDv0 reports whether the binary CID b takes go-cid's CIDv0 path.
func isCIDv0(b []byte) bool {
	return len(b) > 2 && b[0] == mh.SHA2_256 && b[1] == 32
}

// validCID reports whether go-cid's Cast accepts b: a CIDv0, or a CIDv1 with minimal varints
// and a multihash whose digest fills the rest of b.
func validCID(b []byte) bool {
	if isCIDv0(b) {
		return len(b) == cidV0Len
	}
	version, n, ok := uvarint(b)
	if !ok || version != 1 {
		return false
	}
	_, m, ok := uvarint(b[n:])
	if !ok {
		return false
	}
	hashLen, _, err := mh.MHFromBytes(b[n+m:])
	return err == nil && n+m+hashLen == len(b)
}

// uvarint reads an unsigned varint as go-varint's FromUvarint does: at most 9 bytes, the last
// one not zero unless it is the only one.
func uvarint(b []byte) (v uint64, n int, ok bool) {
	var shift uint
	for i, c := range b {
		if i == maxUvarintLen-1 && c >= 0x80 || i >= maxUvarintLen {
			return 0, 0, false
		}
		if c < 0x80 {
			if c == 0 && shift > 0 {
				return 0, 0, false
			}
			return v | uint64(c)<<shift, i + 1, true
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0, false
}

// isRawCIDv1 reports whether the valid binary CID b is a CIDv1 of raw data, the only kind of
// CID a blob may reference.
func isRawCIDv1(b []byte) bool {
	if isCIDv0(b) {
		return false
	}
	_, n, _ := uvarint(b)
	codec, _, ok := uvarint(b[n:])
	return ok && codec == rawCodec
}

// appendCID appends the string form of the valid binary CID b: base58btc for a CIDv0 (rare in
// atproto, so left to go-cid), multibase base32 for a CIDv1.
func appendCID(dst, b []byte) []byte {
	if isCIDv0(b) {
		return append(dst, mh.Multihash(b).B58String()...)
	}
	dst = append(dst, 'b')
	return base32Lower.AppendEncode(dst, b)
}

// canonicalCID reports whether s is a valid CIDv1 in its canonical string form (the one String
// prints), without allocating. It returns false for anything else, CIDv0 included; the caller
// then asks go-cid.
func canonicalCID(s string) bool {
	var raw [96]byte
	var again [160]byte // base32 of 96 bytes
	if len(s) < 2 || s[0] != 'b' || (len(s)-1)*5/8 > len(raw) {
		return false
	}
	// Decode leniently; printing the bytes again and comparing rejects every string that is
	// not the canonical form of some bytes (bad length, nonzero trailing bits).
	var acc uint64
	bits, n := 0, 0
	for i := 1; i < len(s); i++ {
		var v byte
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			v = c - 'a'
		case c >= '2' && c <= '7':
			v = c - '2' + 26
		default:
			return false
		}
		acc, bits = acc<<5|uint64(v), bits+5
		if bits >= 8 {
			bits -= 8
			raw[n] = byte(acc >> bits)
			n++
		}
	}
	if isCIDv0(raw[:n]) || !validCID(raw[:n]) {
		return false
	}
	return string(base32Lower.AppendEncode(again[:0], raw[:n])) == s[1:]
}

// validCIDString reports whether s is a valid CID in canonical form, the only forms the client
// parses: base32 for CIDv1, base58btc for CIDv0.
func validCIDString(s string) bool {
	if canonicalCID(s) {
		return true
	}
	c, err := cid.Decode(s)
	return err == nil && c.String() == s
}
