package eventjson

// What atdata makes of a map with the keys it gives a meaning, and so what the renderer does:
//
//   - A map with a "$link" key must have no other key and a string CID (any multibase) there;
//     it renders as {"$link":"<the CID in canonical form>"}.
//   - Otherwise a map with a "$bytes" key must have no other key and std base64 without padding
//     there; it renders as {"$bytes":"<the bytes encoded again>"}.
//   - Otherwise a "$type" must be a non-empty string. $type "blob" makes the map a blob: exactly
//     $type, ref (a CID link or a $link map), mimeType (a string) and size (an integer); the
//     client needs the ref to be a raw-codec CIDv1 and the mimeType to contain "/". It renders
//     as {"$type":"blob","ref":{"$link":..},"mimeType":..,"size":N}.
//   - Otherwise a map of exactly the keys cid and mimeType is a legacy blob: mimeType a string,
//     cid a string CID, a binary CID in a byte string, or a CID link. It renders as
//     {"cid":"<the CID in canonical form>","mimeType":..}.
//
// Apart from blobs these are rare in records, so they may allocate (go-cid parses and prints
// CIDs given as strings); a blob whose ref is a CID link does not.

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/ipfs/go-cid"
)

// special holds where the values of the keys atdata gives a meaning start, or -1.
type special struct {
	link, bytes, typ, mimeType, cid, ref, size int
}

// note records where the value of key starts if atdata gives key a meaning.
func (sp *special) note(key []byte, val int) {
	switch string(key) {
	case "$link":
		sp.link = val
	case "$bytes":
		sp.bytes = val
	case "$type":
		sp.typ = val
	case "mimeType":
		sp.mimeType = val
	case "cid":
		sp.cid = val
	case "ref":
		sp.ref = val
	case "size":
		sp.size = val
	}
}

// objectKind is what atdata makes of a map.
type objectKind int

const (
	objectKindPlain objectKind = iota
	objectKindLink
	objectKindBytes
	objectKindBlob
	objectKindLegacyBlob
)

// objectKindNames names the kinds in errors.
var objectKindNames = [...]string{"plain object", "$link object", "$bytes object", "blob", "legacy blob"}

// kind tells what atdata makes of a map of n entries with the special keys sp.
func (r *renderer) kind(n int, sp special) (objectKind, error) {
	switch {
	case sp.link >= 0:
		return objectKindLink, nil
	case sp.bytes >= 0:
		return objectKindBytes, nil
	case sp.typ >= 0:
		switch t, ok := textAt(r.b, sp.typ); {
		case !ok || len(t) == 0:
			return 0, unrenderable("$type is not a non-empty string")
		case string(t) == "blob":
			return objectKindBlob, nil
		}
	}
	if n == 2 && sp.mimeType >= 0 && sp.cid >= 0 {
		return objectKindLegacyBlob, nil
	}
	return objectKindPlain, nil
}

// linkObject renders a map of n entries with a "$link" key whose value starts at b[at].
func (r *renderer) linkObject(n, at int) error {
	c, err := r.linkString(n, at)
	if err != nil {
		return err
	}
	r.dst = appendLinkString(r.dst, c.String())
	return nil
}

// linkString parses the CID of a $link map of n entries whose $link value starts at b[at].
func (r *renderer) linkString(n, at int) (cid.Cid, error) {
	if n != 1 {
		return cid.Undef, unrenderable("$link object with %d keys", n)
	}
	s, ok := textAt(r.b, at)
	if !ok {
		return cid.Undef, unrenderable("$link is not a string")
	}
	c, err := cid.Parse(string(s))
	if err != nil || !c.Defined() {
		return cid.Undef, unrenderable("$link %q is not a CID", s)
	}
	return c, nil
}

// bytesObject renders a map of n entries with a "$bytes" key whose value starts at b[at].
func (r *renderer) bytesObject(n, at int) error {
	if n != 1 {
		return unrenderable("$bytes object with %d keys", n)
	}
	s, ok := textAt(r.b, at)
	if !ok {
		return unrenderable("$bytes is not a string")
	}
	b, err := base64.RawStdEncoding.DecodeString(string(s))
	if err != nil {
		return unrenderable("$bytes is not base64: %v", err)
	}
	r.dst = appendBytes(r.dst, b)
	return nil
}

// blob renders a map of n entries with $type "blob".
func (r *renderer) blob(n int, sp special) error {
	if n != 4 || sp.size < 0 || sp.mimeType < 0 || sp.ref < 0 {
		return unrenderable("blob without exactly the keys $type, ref, mimeType and size")
	}
	r.pos = sp.size
	major, size := r.next()
	if major != majorUint {
		return unrenderable("blob size is not a non-negative integer")
	}
	mimeType, ok := textAt(r.b, sp.mimeType)
	if !ok {
		return unrenderable("blob mimeType is not a string")
	}
	bin, parsed, err := r.blobRef(sp.ref)
	if err != nil {
		return err
	}
	if !bytes.Contains(mimeType, []byte("/")) {
		return unrenderable("blob mimeType %q has no /", mimeType)
	}
	r.dst = append(r.dst, `{"$type":"blob","ref":`...)
	if bin != nil {
		r.dst = appendLink(r.dst, bin)
	} else {
		r.dst = appendLinkString(r.dst, parsed.String())
	}
	r.dst = append(appendText(append(r.dst, `,"mimeType":`...), mimeType), `,"size":`...)
	r.dst = append(strconv.AppendUint(r.dst, size, 10), '}')
	return nil
}

// blobRef reads the ref of a blob, which starts at b[at]: a CID link, whose binary CID it
// returns as bin, or a $link object, whose CID it returns as parsed. Either must be a raw
// CIDv1.
func (r *renderer) blobRef(at int) (bin []byte, parsed cid.Cid, err error) {
	r.pos = at
	switch major, n := r.next(); {
	case major == majorTag:
		if bin = r.link(); !isRawCIDv1(bin) {
			return nil, cid.Undef, unrenderable("blob ref %s is not a raw CIDv1", appendCID(nil, bin))
		}
		return bin, cid.Undef, nil
	case major == majorMap && n == 1:
		if _, keyLen := r.next(); string(r.span(keyLen)) != "$link" {
			break
		}
		if parsed, err = r.linkString(1, r.pos); err != nil {
			return nil, cid.Undef, err
		}
		if parsed.Version() != 1 || parsed.Type() != rawCodec {
			return nil, cid.Undef, unrenderable("blob ref %s is not a raw CIDv1", parsed)
		}
		return nil, parsed, nil
	}
	return nil, cid.Undef, unrenderable("blob ref is not a CID link")
}

// legacyBlob renders a map of exactly the keys cid and mimeType.
func (r *renderer) legacyBlob(sp special) error {
	mimeType, ok := textAt(r.b, sp.mimeType)
	if !ok {
		return unrenderable("legacy blob mimeType is not a string")
	}
	r.pos = sp.cid
	var c cid.Cid
	var err error
	switch major, n := r.next(); major {
	case majorText:
		c, err = cid.Parse(string(r.span(n)))
	case majorBytes:
		c, err = cid.Cast(r.span(n))
	case majorTag:
		c, err = cid.Cast(r.link())
	default:
		return unrenderable("legacy blob cid is not a CID")
	}
	if err != nil {
		return unrenderable("legacy blob cid: %v", err)
	}
	r.dst = appendString(append(r.dst, `{"cid":`...), c.String())
	r.dst = append(appendText(append(r.dst, `,"mimeType":`...), mimeType), '}')
	return nil
}
