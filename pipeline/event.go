package pipeline

import (
	"io"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Kind says what an Event carries.
type Kind uint8

const (
	// KindCommit is a raw firehose #commit message (Event.Commit).
	KindCommit Kind = iota + 1
	// KindSync is a raw firehose #sync message (Event.Sync).
	KindSync
	// KindIdentity is a raw firehose #identity message (Event.Identity).
	KindIdentity
	// KindAccount is a raw firehose #account message (Event.Account).
	KindAccount
	// KindDiscovery says a repo was found by the crawler or the admin API
	// and should be tracked; it carries nothing but the DID.
	KindDiscovery
	// KindSnapshot is a fetched repo export (Event.Snapshot), streamed.
	KindSnapshot
	// KindRecords is a verified set of record operations of one commit or
	// of one batch of a snapshot (Event.Records).
	KindRecords
	// KindIdentityChange is a handle or account-status change to deliver
	// (Event.Change).
	KindIdentityChange
)

var kindNames = [...]string{
	KindCommit:         "commit",
	KindSync:           "sync",
	KindIdentity:       "identity",
	KindAccount:        "account",
	KindDiscovery:      "discovery",
	KindSnapshot:       "snapshot",
	KindRecords:        "records",
	KindIdentityChange: "identity_change",
}

// String returns the kind's name, as used in logs and metrics.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Event is the unit that flows through the lanes. Exactly one payload field
// is set, matching Kind. Events of one DID are never processed concurrently,
// so a stage may read and write an event without locks.
type Event struct {
	// Kind says which payload field is set.
	Kind Kind
	// DID is the repo the event belongs to; it partitions the lanes.
	DID syntax.DID
	// Seq is the firehose sequence number, or 0 for events that did not
	// come from the firehose.
	Seq int64
	// Live is true for events from the firehose (including commits buffered
	// during a backfill) and false for backfill (snapshot) events.
	Live bool
	// Received is when the event entered tap.
	Received time.Time

	Commit   *comatproto.SyncSubscribeRepos_Commit
	Sync     *comatproto.SyncSubscribeRepos_Sync
	Identity *comatproto.SyncSubscribeRepos_Identity
	Account  *comatproto.SyncSubscribeRepos_Account
	Snapshot *Snapshot
	Records  *Records
	Change   *IdentityChange

	// Done, when set, is called exactly once when the lanes are finished
	// with the event: with nil once every stage returned successfully (the
	// event and everything it produced is committed or was filtered out),
	// or with the error that made the lanes give up on it.
	Done func(err error)
}

// Snapshot is a repo export fetched with com.atproto.sync.getRepo. The CAR
// is streamed: whoever processes the event reads it once and must not hold
// it whole.
type Snapshot struct {
	// CAR is the repo export in CAR v1 format.
	CAR io.Reader
	// Source names where the CAR came from (the PDS host), for errors.
	Source string
	// Handle is the repo's handle as resolved (and verified) just before
	// the fetch; handle.invalid when it does not verify.
	Handle syntax.Handle
}

// Action is what a record operation does.
type Action string

// The record operations, with the names of the event JSON.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// RecordOp is one verified change to one record.
type RecordOp struct {
	Action     Action
	Collection syntax.NSID
	RKey       syntax.RecordKey
	// CID is the record's CID as a string; empty on delete.
	CID string
	// Record is the record's DAG-CBOR bytes; nil on delete.
	Record []byte
}

// Records is a verified batch of record operations of one repo revision.
type Records struct {
	// Rev is the repo revision the operations belong to.
	Rev string
	// DataCID is the MST root after the operations (the commit's data).
	DataCID string
	// PrevData is the MST root before the operations, or empty when
	// unknown (snapshots, legacy commits).
	PrevData string
	// Ops are the operations, in commit order (MST key order for snapshots).
	Ops []RecordOp
	// Final is true on the last batch of a snapshot or commit: the repo
	// state (rev, data) may be recorded once it is committed.
	Final bool
}

// IdentityChange is a handle or account-status change of a repo, delivered
// as an identity event.
type IdentityChange struct {
	Handle   syntax.Handle
	IsActive bool
	// Status is one of active, takendown, suspended, deactivated, deleted.
	Status string
}

// finish reports the outcome of the event to its producer, once.
func (e *Event) finish(err error) {
	if e.Done != nil {
		done := e.Done
		e.Done = nil
		done(err)
	}
}
