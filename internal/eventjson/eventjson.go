// Package eventjson renders tap's event JSON, byte for byte as the reference Tap delivers it
// (spec B§5) and as the @atproto/tap client parses it:
//
//	{"id":12,"type":"record","record":{"live":true,"did":"did:plc:..","rev":"3l..","collection":"app.bsky.feed.post","rkey":"3l..","action":"create","record":{...},"cid":"bafyrei.."}}
//	{"id":13,"type":"identity","identity":{"did":"did:plc:..","handle":"alice.test","is_active":true,"status":"active"}}
//
// An event is rendered in two parts, because its id is only known when it commits: the body
// (AppendRecordBody, AppendIdentityBody: everything after `{"id":N`, rendered where the
// expensive work can run in parallel) and the id prefix (AppendEvent, applied by the single
// committer that assigns ids).
//
// # Record payload
//
// The `record` member is the atproto data-model JSON of the record's DAG-CBOR, as indigo's
// atdata renders it: links {"$link":"bafy.."}, bytes {"$bytes":"<std base64, no padding>"},
// blobs {"$type":"blob","ref":{"$link":..},"mimeType":..,"size":N}, legacy blobs
// {"cid":..,"mimeType":..}; object keys sorted bytewise; `<`, `>`, `&`, U+2028 and U+2029
// escaped as encoding/json does. `record` and `cid` are omitted on delete.
//
// # Records that cannot be rendered faithfully
//
// The @atproto/tap client parses every message strictly and rejects (and never acks) an event
// whose record is not valid atproto data; the repo would then stall behind it. atdata alone is
// not enough to prevent that: it accepts CBOR floats (rendering 1.0 as 1), integers beyond
// ±2^53 (a uint64 above 2^63 even decodes as a negative number), invalid UTF-8 (replaced by
// U+FFFD), undefined, indefinite-length items, trailing bytes and blobs with negative sizes or
// non-raw refs. So a record is first checked on its raw CBOR — one map, definite lengths, no
// floats or undefined, integers within ±(2^53-1), valid UTF-8, only tag 42, no "__proto__" key,
// nesting, container and key limits of the client — and, as it is rendered, its blobs are
// checked against what the client accepts. A create or update whose record fails any check — or whose
// CID is not a valid CID in canonical form — is not rendered at all: AppendRecordBody returns an
// error wrapping ErrUnrenderable, and the caller decides what to do (the order stage still
// applies the op to the record index, emits no event for it and counts it). Nothing is ever
// sent with the record left out or altered. (The reference Tap sends such a create without its
// record, which the client rejects.)
//
// The record is rendered straight from its CBOR, without decoding it into Go values (record
// events are tap's hot path): checkCBOR (cbor.go) checks it without allocating, then the
// renderer (render.go) walks it again and writes the JSON, sorting each map's keys. Its output
// is byte for byte what atdata.UnmarshalCBOR followed by encoding/json wrote, which is kept in
// oracle_test.go as the oracle that TestRecordDataMatchesOracle and FuzzRecordData hold it to.
package eventjson

import (
	"errors"
	"strconv"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// ErrUnrenderable is returned (wrapped, with the reason) when a record cannot be rendered as
// JSON the @atproto/tap client would accept with the same content.
var ErrUnrenderable = errors.New("record cannot be rendered faithfully")

// MaxID is the largest event id the JSON can carry: clients parse ids as JavaScript numbers.
const MaxID = 1<<53 - 1

// HandleInvalid is rendered in place of an empty or syntactically invalid handle: the client
// requires a handle and accepts this one.
const HandleInvalid = "handle.invalid"

// Record is one record event.
type Record struct {
	// Live is true for events from the firehose, false for backfill.
	Live bool
	// DID is the repo's DID.
	DID string
	// Rev is the repo revision the operation belongs to.
	Rev string
	// Collection and RKey name the record.
	Collection string
	RKey       string
	// Action is create, update or delete.
	Action string
	// CID is the record's CID; ignored on delete.
	CID string
	// CBOR is the record's DAG-CBOR; ignored on delete.
	CBOR []byte
}

// Identity is one identity event.
type Identity struct {
	// DID is the repo's DID.
	DID string
	// Handle is the account's handle; "" or an invalid handle renders as handle.invalid.
	Handle string
	// IsActive is the account's active flag.
	IsActive bool
	// Status is active, takendown, suspended, deactivated or deleted.
	Status string
}

// AppendEvent appends the complete event JSON to dst: `{"id":` id, then body as returned by
// AppendRecordBody or AppendIdentityBody.
func AppendEvent(dst []byte, id int64, body []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, id, 10)
	return append(dst, body...)
}

// AppendRecordBody appends the body of a record event (everything after `{"id":N`) to dst.
// On error dst is returned unchanged (truncated to its original length) with an error wrapping
// ErrUnrenderable.
func AppendRecordBody(dst []byte, r Record) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `,"type":"record","record":{"live":`...)
	dst = strconv.AppendBool(dst, r.Live)
	dst = appendMember(dst, "did", r.DID)
	dst = appendMember(dst, "rev", r.Rev)
	dst = appendMember(dst, "collection", r.Collection)
	dst = appendMember(dst, "rkey", r.RKey)
	dst = appendMember(dst, "action", r.Action)
	if r.Action != "delete" {
		// The client parses base32 (CIDv1) and base58btc (CIDv0) only: the canonical forms.
		if !validCIDString(r.CID) {
			return dst[:start], unrenderable("invalid or non-canonical cid %q", r.CID)
		}
		dst = append(dst, `,"record":`...)
		var err error
		if dst, err = AppendRecordData(dst, r.CBOR); err != nil {
			return dst[:start], err
		}
		dst = appendMember(dst, "cid", r.CID)
	}
	return append(dst, "}}"...), nil
}

// AppendIdentityBody appends the body of an identity event (everything after `{"id":N`) to
// dst. An empty or syntactically invalid handle is rendered as handle.invalid.
func AppendIdentityBody(dst []byte, id Identity) []byte {
	handle := id.Handle
	if _, err := syntax.ParseHandle(handle); err != nil {
		handle = HandleInvalid
	}
	dst = append(dst, `,"type":"identity","identity":{"did":`...)
	dst = appendString(dst, id.DID)
	dst = appendMember(dst, "handle", handle)
	dst = append(dst, `,"is_active":`...)
	dst = strconv.AppendBool(dst, id.IsActive)
	dst = appendMember(dst, "status", id.Status)
	return append(dst, "}}"...)
}

// appendMember appends `,"name":` and s as a JSON string.
func appendMember(dst []byte, name, s string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, s)
}
