package verifystage

import (
	"encoding/base32"

	"github.com/ipfs/go-cid"
)

// maxCIDBytes is the longest binary CID cidString encodes itself: a
// CIDv1 with a 32-byte digest (every repo block) is 36 bytes.
const maxCIDBytes = 64

// base32Lower is the multibase 'b' encoding, as cid.Cid.String writes it.
var base32Lower = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// cidString returns c.String() in one allocation instead of three: a CIDv1
// is encoded on the stack. Other CIDs take c.String() itself.
func cidString(c cid.Cid) string {
	raw := c.KeyString()
	if c.Version() != 1 || len(raw) > maxCIDBytes {
		return c.String()
	}
	var src [maxCIDBytes]byte
	n := copy(src[:], raw)
	var dst [1 + (maxCIDBytes*8+4)/5]byte
	dst[0] = 'b'
	base32Lower.Encode(dst[1:], src[:n])
	return string(dst[:1+base32Lower.EncodedLen(n)])
}
