package store

import (
	"fmt"

	"github.com/uptrace/bun"
)

// RepoState is the sync state of a tracked repo (repos.state). See spec B§9.
type RepoState string

// Repo states. The reference also defines takendown, suspended and deactivated states but
// never writes them; account status lives in Repo.Status.
const (
	// RepoStatePending is a newly tracked repo waiting for its first resync.
	RepoStatePending RepoState = "pending"
	// RepoStateResyncing is a repo claimed by a resync worker.
	RepoStateResyncing RepoState = "resyncing"
	// RepoStateActive is a repo in sync with its PDS; live commits apply directly.
	RepoStateActive RepoState = "active"
	// RepoStateDesynchronized is a repo whose commit chain broke; it waits for a resync.
	RepoStateDesynchronized RepoState = "desynchronized"
	// RepoStateError is a repo whose resync failed; it is retried after Repo.RetryAfter.
	RepoStateError RepoState = "error"
)

// repoStates lists every RepoState tap writes, in lifecycle order.
var repoStates = []RepoState{
	RepoStatePending, RepoStateResyncing, RepoStateActive, RepoStateDesynchronized, RepoStateError,
}

// ParseRepoState returns the RepoState named s, or an error naming s if it is not one.
func ParseRepoState(s string) (RepoState, error) {
	for _, st := range repoStates {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("invalid repo state %q", s)
}

// AccountStatus is the hosting status of a repo's account (repos.status), from #account.
type AccountStatus string

// Account statuses.
const (
	// AccountStatusActive is an account in good standing.
	AccountStatusActive AccountStatus = "active"
	// AccountStatusTakendown is an account taken down by its host or relay.
	AccountStatusTakendown AccountStatus = "takendown"
	// AccountStatusSuspended is a temporarily suspended account.
	AccountStatusSuspended AccountStatus = "suspended"
	// AccountStatusDeactivated is an account its owner deactivated.
	AccountStatusDeactivated AccountStatus = "deactivated"
	// AccountStatusDeleted is a deleted account (tap removes its repo row).
	AccountStatusDeleted AccountStatus = "deleted"
)

// Repo is a tracked repository (table repos).
type Repo struct {
	bun.BaseModel `bun:"table:repos"`

	// DID is the repo's DID, the primary key.
	DID string `bun:"did,pk"`
	// State is the sync state.
	State RepoState `bun:"state,notnull"`
	// Status is the account status.
	Status AccountStatus `bun:"status,notnull"`
	// Handle is the last known handle; "" when unknown (NULL in reference databases).
	Handle string `bun:"handle"`
	// Rev is the rev of the last applied commit; "" before the first resync.
	Rev string `bun:"rev"`
	// PrevData is the MST root CID of the last applied commit (Sync 1.1 prevData chain).
	PrevData string `bun:"prev_data"`
	// ErrorMsg is the last resync error; "" when none.
	ErrorMsg string `bun:"error_msg"`
	// RetryCount counts consecutive failed resyncs.
	RetryCount int `bun:"retry_count,notnull"`
	// RetryAfter is the unix time (seconds) before which a failed resync is not retried; 0
	// means now.
	RetryAfter int64 `bun:"retry_after,notnull"`
}

// RepoRecord is one record of the record index (table repo_records).
type RepoRecord struct {
	bun.BaseModel `bun:"table:repo_records"`

	// DID, Collection and RKey form the primary key.
	DID        string `bun:"did,pk"`
	Collection string `bun:"collection,pk"`
	RKey       string `bun:"rkey,pk"`
	// CID is the record's CID.
	CID string `bun:"cid,notnull"`
}

// OutboxBuffer is one event waiting for delivery (table outbox_buffers).
type OutboxBuffer struct {
	bun.BaseModel `bun:"table:outbox_buffers"`

	// ID is the event id, assigned by tap (never by the database).
	ID int64 `bun:"id,pk"`
	// DID is the repo the event belongs to.
	DID string `bun:"did,notnull"`
	// Live is true for live events, false for historical (backfill) ones.
	Live bool `bun:"live,notnull"`
	// Data is the event JSON, stored verbatim.
	Data string `bun:"data,notnull"`
}

// ResyncBuffer is a live commit buffered while its repo resyncs (table resync_buffers).
type ResyncBuffer struct {
	bun.BaseModel `bun:"table:resync_buffers"`

	// ID is assigned by the database and orders a DID's buffered commits.
	ID int64 `bun:"id,pk,autoincrement"`
	// DID is the repo the commit belongs to.
	DID string `bun:"did,notnull"`
	// Data is the commit JSON (spec B§7).
	Data string `bun:"data,notnull"`
}

// FirehoseCursor is the last committed firehose seq of a relay (table firehose_cursors).
type FirehoseCursor struct {
	bun.BaseModel `bun:"table:firehose_cursors"`

	// URL is the relay URL exactly as configured.
	URL string `bun:"url,pk"`
	// Cursor is the firehose seq.
	Cursor int64 `bun:"cursor,notnull"`
}

// ListReposCursor is the full-network crawl position of a relay (table list_repos_cursors).
type ListReposCursor struct {
	bun.BaseModel `bun:"table:list_repos_cursors"`

	// URL is the relay URL.
	URL string `bun:"url,pk"`
	// Cursor is the opaque listRepos cursor.
	Cursor string `bun:"cursor,notnull"`
}

// CollectionCursor is the signal-collection crawl position (table collection_cursors).
type CollectionCursor struct {
	bun.BaseModel `bun:"table:collection_cursors"`

	// URL and Collection form the primary key.
	URL        string `bun:"url,pk"`
	Collection string `bun:"collection,pk"`
	// Cursor is the opaque listReposByCollection cursor.
	Cursor string `bun:"cursor,notnull"`
}

// Meta is one durable tap setting (table tap_meta, added by tap).
type Meta struct {
	bun.BaseModel `bun:"table:tap_meta"`

	// Key names the setting.
	Key string `bun:"key,pk"`
	// Value is the setting's value.
	Value string `bun:"value,notnull"`
}
