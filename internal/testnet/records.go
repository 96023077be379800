package testnet

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Action is what a write or an op does to a record path.
type Action string

// Actions, with the wire names of com.atproto.sync.subscribeRepos ops.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Write is one requested change to a repo; see [Create], [Update] and
// [Delete]. Several writes applied together form one commit.
type Write struct {
	// Action is create, update or delete.
	Action Action
	// Collection is the record's collection NSID.
	Collection syntax.NSID
	// RKey is the record key; empty on create means a fresh TID.
	RKey syntax.RecordKey
	// Record is the record value (atproto data model: atdata.CIDLink,
	// atdata.Bytes and atdata.Blob values are encoded as such). "$type"
	// defaults to Collection. Ignored on delete.
	Record map[string]any
}

// Create returns a write creating collection/rkey (rkey may be empty).
func Create(collection syntax.NSID, rkey syntax.RecordKey, record map[string]any) Write {
	return Write{Action: ActionCreate, Collection: collection, RKey: rkey, Record: record}
}

// Update returns a write replacing the record at collection/rkey.
func Update(collection syntax.NSID, rkey syntax.RecordKey, record map[string]any) Write {
	return Write{Action: ActionUpdate, Collection: collection, RKey: rkey, Record: record}
}

// Delete returns a write removing the record at collection/rkey.
func Delete(collection syntax.NSID, rkey syntax.RecordKey) Write {
	return Write{Action: ActionDelete, Collection: collection, RKey: rkey}
}

// Op is one record change of an emitted commit, as the firehose carries
// it, plus the record bytes so tests can compare rendered records.
type Op struct {
	// Action is create, update or delete.
	Action Action
	// Collection and RKey name the record.
	Collection syntax.NSID
	RKey       syntax.RecordKey
	// CID is the new record CID (cid.Undef on delete).
	CID cid.Cid
	// Prev is the previous record CID (cid.Undef on create).
	Prev cid.Cid
	// CBOR is the new record's DAG-CBOR bytes (nil on delete); shared with
	// the network, do not modify.
	CBOR []byte
}

// Path returns "collection/rkey".
func (o Op) Path() string { return o.Collection.String() + "/" + o.RKey.String() }

// Record is one record of a repo as the network stores it.
type Record struct {
	// Collection and RKey name the record.
	Collection syntax.NSID
	RKey       syntax.RecordKey
	// CID is the record's CID.
	CID cid.Cid
	// CBOR is the record's DAG-CBOR bytes; shared with the network, do
	// not modify.
	CBOR []byte
}

// Path returns "collection/rkey".
func (r Record) Path() string { return r.Collection.String() + "/" + r.RKey.String() }

// JSON renders the record as atproto data-model JSON (as indigo's atdata
// renders it: $link, $bytes, blob objects, sorted keys).
func (r Record) JSON() ([]byte, error) {
	return recordJSON(r.CBOR)
}

// Value decodes the record into a generic atproto data map.
func (r Record) Value() (map[string]any, error) {
	return atdata.UnmarshalCBOR(r.CBOR)
}

func recordJSON(b []byte) ([]byte, error) {
	v, err := atdata.UnmarshalCBOR(b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

var cborPrefix = cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256)

// encodeRecord returns the DAG-CBOR bytes and CID of record, setting
// "$type" to collection if absent.
func encodeRecord(collection syntax.NSID, record map[string]any) ([]byte, cid.Cid, error) {
	if _, ok := record["$type"]; !ok {
		withType := make(map[string]any, len(record)+1)
		for k, v := range record {
			withType[k] = v
		}
		withType["$type"] = collection.String()
		record = withType
	}
	b, err := atdata.MarshalCBOR(record)
	if err != nil {
		return nil, cid.Undef, fmt.Errorf("testnet: encode record: %w", err)
	}
	c, err := cborPrefix.Sum(b)
	if err != nil {
		return nil, cid.Undef, err
	}
	return b, c, nil
}

// splitPath parses an MST key into collection and record key.
func splitPath(path string) (syntax.NSID, syntax.RecordKey, error) {
	return syntax.ParseRepoPath(path)
}

// splitKnownPath splits a path taken from the repo's own tree (already
// valid) without re-parsing it.
func splitKnownPath(path string) (syntax.NSID, syntax.RecordKey) {
	coll, rkey, _ := strings.Cut(path, "/")
	return syntax.NSID(coll), syntax.RecordKey(rkey)
}

// validNSIDs caches collection NSIDs already validated (there are few).
var validNSIDs sync.Map

// validPath checks a write's collection and record key (an empty rkey is
// allowed: creates then get a TID).
func validPath(coll syntax.NSID, rkey syntax.RecordKey) error {
	if _, ok := validNSIDs.Load(coll); !ok {
		if _, err := syntax.ParseNSID(coll.String()); err != nil {
			return fmt.Errorf("testnet: invalid collection %q: %w", coll, err)
		}
		validNSIDs.Store(coll, struct{}{})
	}
	if rkey == "" {
		return nil
	}
	if _, err := syntax.ParseRecordKey(rkey.String()); err != nil {
		return fmt.Errorf("testnet: invalid record key %q: %w", rkey, err)
	}
	return nil
}
