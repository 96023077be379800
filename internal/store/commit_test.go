package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// addRepos tracks dids (state pending).
func addRepos(t testing.TB, db *store.DB, dids ...string) {
	t.Helper()
	_, err := db.AddRepos(t.Context(), dids)
	require.NoError(t, err)
}

// commit runs CommitBatch and fails t on error.
func commit(t testing.TB, db *store.DB, ids *store.OutboxIDs, events ...store.EventWrite) store.CommitResult {
	t.Helper()
	res, err := db.CommitBatch(t.Context(), ids, events)
	require.NoError(t, err)
	require.Len(t, res.Outcomes, len(events))
	return res
}

// jsonData renders a stand-in event JSON for an id.
func jsonData(tag string) func(int64) string {
	return func(id int64) string { return fmt.Sprintf(`{"id":%d,"tag":%q}`, id, tag) }
}

func identityWrite(did, handle string) store.EventWrite {
	return store.EventWrite{
		DID:      did,
		Outbox:   []store.OutboxEvent{{Live: true, Data: jsonData("identity " + handle)}},
		Identity: &store.IdentityUpdate{Handle: handle, Status: store.AccountStatusActive},
	}
}

func put(coll, rkey, cid string) store.RecordChange {
	return store.RecordChange{Collection: coll, RKey: rkey, CID: cid}
}

func del(coll, rkey string) store.RecordChange {
	return store.RecordChange{Collection: coll, RKey: rkey, Delete: true}
}

// records returns did's record index as "collection/rkey=cid".
func records(t testing.TB, db *store.DB, did string) []string {
	t.Helper()
	var rows []store.RepoRecord
	err := db.Bun().NewSelect().Model(&rows).Where("did = ?", did).Order("collection", "rkey").Scan(t.Context())
	require.NoError(t, err)
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Collection+"/"+r.RKey+"="+r.CID)
	}
	return out
}

func newIDs(t testing.TB, db *store.DB) *store.OutboxIDs {
	t.Helper()
	ids, err := db.NewOutboxIDs(t.Context(), 100)
	require.NoError(t, err)
	return ids
}

func TestCommitBatchWritesEverything(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a", "did:plc:b")
		ids := newIDs(t, db)
		res := commit(t, db, ids,
			store.EventWrite{
				DID:     "did:plc:a",
				Records: []store.RecordChange{put("c.x", "1", "cid1"), put("c.x", "2", "cid2"), put("c.y", "1", "cid3")},
				Outbox: []store.OutboxEvent{
					{Live: true, Data: jsonData("a1")}, {Live: true, Data: jsonData("a2")}, {Live: true, Data: jsonData("a3")},
				},
			},
			store.EventWrite{
				DID:     "did:plc:b",
				Records: []store.RecordChange{put("c.x", "1", "b1")},
				Outbox:  []store.OutboxEvent{{Live: false, Data: jsonData("b1")}},
				Rev:     &store.RepoRev{Rev: "rev1", PrevData: "data1"},
			},
		)
		require.Equal(t, 3+3+1+1+1, res.Rows)
		require.Equal(t, []int64{1, 2, 3}, outboxIDs(res.Outcomes[0]))
		require.Equal(t, []int64{4}, outboxIDs(res.Outcomes[1]))
		require.Equal(t, store.OutboxBuffer{ID: 4, DID: "did:plc:b", Live: false, Data: `{"id":4,"tag":"b1"}`},
			res.Outcomes[1].Outbox[0])
		stored, err := db.ListOutbox(ctx, 0, 0)
		require.NoError(t, err)
		require.Equal(t, append(res.Outcomes[0].Outbox, res.Outcomes[1].Outbox...), stored)

		// Updates, deletes, a final rev and an identity change, in a second batch.
		commit(t, db, ids,
			store.EventWrite{
				DID:     "did:plc:a",
				Records: []store.RecordChange{put("c.x", "1", "cid1b"), del("c.x", "2"), del("c.z", "missing")},
				Rev:     &store.RepoRev{Rev: "rev2", PrevData: "data2"},
			},
			store.EventWrite{
				DID:      "did:plc:b",
				Outbox:   []store.OutboxEvent{{Live: true, Data: jsonData("identity")}},
				Identity: &store.IdentityUpdate{Handle: "bob.test", Status: store.AccountStatusDeactivated},
			},
		)
		require.Equal(t, []string{"c.x/1=cid1b", "c.y/1=cid3"}, records(t, db, "did:plc:a"))
		a, err := db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, "rev2", a.Rev)
		require.Equal(t, "data2", a.PrevData)
		require.Equal(t, store.RepoStatePending, a.State, "state is not the order stage's business")
		b, err := db.GetRepo(ctx, "did:plc:b")
		require.NoError(t, err)
		require.Equal(t, "rev1", b.Rev)
		require.Equal(t, "bob.test", b.Handle)
		require.Equal(t, store.AccountStatusDeactivated, b.Status)

		// A status change without a handle keeps the stored handle.
		commit(t, db, ids, store.EventWrite{DID: "did:plc:b",
			Identity: &store.IdentityUpdate{Status: store.AccountStatusActive}})
		b, err = db.GetRepo(ctx, "did:plc:b")
		require.NoError(t, err)
		require.Equal(t, "bob.test", b.Handle)
		require.Equal(t, store.AccountStatusActive, b.Status)
	})
}

func outboxIDs(o store.EventOutcome) []int64 {
	var ids []int64
	for _, r := range o.Outbox {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestCommitBatchInOrder checks that writes of one batch apply as if one event after the
// other: the last change of a record wins.
func TestCommitBatchInOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, "did:plc:a")
		ids := newIDs(t, db)
		commit(t, db, ids, store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "gone", "x")}})
		commit(t, db, ids,
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "1", "v1"), del("c", "gone")}},
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{del("c", "1"), put("c", "gone", "back")}},
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "2", "v1"), put("c", "2", "v2")},
				Rev: &store.RepoRev{Rev: "r1"}},
			store.EventWrite{DID: "did:plc:a", Rev: &store.RepoRev{Rev: "r2", PrevData: "d2"}},
		)
		require.Equal(t, []string{"c/2=v2", "c/gone=back"}, records(t, db, "did:plc:a"))
		a, err := db.GetRepo(t.Context(), "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, "r2", a.Rev)
		require.Equal(t, "d2", a.PrevData)
	})
}

func TestCommitBatchUntrackedRepo(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		ids := newIDs(t, db)
		res := commit(t, db, ids,
			store.EventWrite{DID: "did:plc:gone", Records: []store.RecordChange{put("c", "1", "x")},
				Outbox: []store.OutboxEvent{{Data: jsonData("gone")}}, Rev: &store.RepoRev{Rev: "r"}},
			identityWrite("did:plc:gone", "gone.test"),
			identityWrite("did:plc:a", "a.test"),
		)
		require.True(t, res.Outcomes[0].Untracked)
		require.True(t, res.Outcomes[1].Untracked)
		require.False(t, res.Outcomes[2].Untracked)
		require.Equal(t, []int64{1}, outboxIDs(res.Outcomes[2]), "untracked events take no ids")
		require.Empty(t, records(t, db, "did:plc:gone"))
		_, err := db.GetRepo(ctx, "did:plc:gone")
		require.ErrorIs(t, err, store.ErrNotFound, "an untracked repo is not created")
		requireTotal(t, 1, db.CountOutbox)
	})
}

func TestCommitBatchDeletedAccount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a", "did:plc:keep")
		ids := newIDs(t, db)
		commit(t, db, ids,
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "old", "x")}},
			store.EventWrite{DID: "did:plc:keep", Records: []store.RecordChange{put("c", "1", "k")}},
		)
		insert(t, db, &[]store.ResyncBuffer{{DID: "did:plc:a", Data: "{}"}, {DID: "did:plc:keep", Data: "{}"}})

		res := commit(t, db, ids,
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "new", "y")},
				Outbox: []store.OutboxEvent{{Live: true, Data: jsonData("record before deletion")}},
				Rev:    &store.RepoRev{Rev: "r"}},
			store.EventWrite{DID: "did:plc:a",
				Outbox:   []store.OutboxEvent{{Live: true, Data: jsonData("deleted")}},
				Identity: &store.IdentityUpdate{Handle: "a.test", Status: store.AccountStatusDeleted}},
			store.EventWrite{DID: "did:plc:a", Records: []store.RecordChange{put("c", "after", "z")},
				Outbox: []store.OutboxEvent{{Live: true, Data: jsonData("after deletion")}}},
		)
		require.False(t, res.Outcomes[0].Untracked)
		require.False(t, res.Outcomes[1].Untracked)
		require.True(t, res.Outcomes[2].Untracked, "the repo is gone for later events of the batch")

		_, err := db.GetRepo(ctx, "did:plc:a")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Empty(t, records(t, db, "did:plc:a"))
		require.Equal(t, []string{"c/1=k"}, records(t, db, "did:plc:keep"))
		requireTotal(t, 1, db.CountResyncBuffer)
		out, err := db.ListOutbox(ctx, 0, 0)
		require.NoError(t, err)
		require.Len(t, out, 2, "the events committed before and with the deletion stay in the outbox")
		require.Contains(t, out[1].Data, "deleted")
	})
}

// TestCommitBatchAtomic makes the outbox insert fail after the record index writes already ran
// in the transaction: nothing may be left behind, and the ids it took are skipped.
func TestCommitBatchAtomic(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		ids := newIDs(t, db)
		commit(t, db, ids, identityWrite("did:plc:a", "a.test")) // id 1, reserves [1, 101)
		insert(t, db, &store.OutboxBuffer{ID: 3, DID: "did:plc:x", Data: "squatter"})

		_, err := db.CommitBatch(ctx, ids, []store.EventWrite{{
			DID:      "did:plc:a",
			Records:  []store.RecordChange{put("c", "1", "x")},
			Outbox:   []store.OutboxEvent{{Data: jsonData("2")}, {Data: jsonData("3 conflicts")}},
			Rev:      &store.RepoRev{Rev: "r1", PrevData: "d1"},
			Identity: &store.IdentityUpdate{Handle: "new.test", Status: store.AccountStatusTakendown},
		}})
		require.Error(t, err)
		require.Empty(t, records(t, db, "did:plc:a"))
		a, err := db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Empty(t, a.Rev)
		require.Equal(t, "a.test", a.Handle)
		require.Equal(t, store.AccountStatusActive, a.Status)
		requireTotal(t, 2, db.CountOutbox)

		res := commit(t, db, ids, identityWrite("did:plc:a", "b.test"))
		require.Equal(t, []int64{4}, outboxIDs(res.Outcomes[0]), "ids 2 and 3 of the failed batch are skipped")
	})
}

// TestCommitBatchFailedReservation fails the transaction that reserved a block: the mark is
// not raised, and the next transaction reserves again above the skipped ids.
func TestCommitBatchFailedReservation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		ids, err := db.NewOutboxIDs(ctx, 2)
		require.NoError(t, err)
		insert(t, db, &store.OutboxBuffer{ID: 1, DID: "did:plc:x", Data: "squatter"}) // after NewOutboxIDs read the max
		_, err = db.CommitBatch(ctx, ids, []store.EventWrite{identityWrite("did:plc:a", "a.test")})
		require.Error(t, err)
		_, ok, err := db.GetMeta(ctx, store.OutboxNextIDKey)
		require.NoError(t, err)
		require.False(t, ok, "the reservation rolled back with its transaction")

		res := commit(t, db, ids, identityWrite("did:plc:a", "a.test"))
		require.Equal(t, []int64{2}, outboxIDs(res.Outcomes[0]))
		mark, _, err := db.GetMeta(ctx, store.OutboxNextIDKey)
		require.NoError(t, err)
		require.Equal(t, "4", mark)

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = db.CommitBatch(cancelled, ids, []store.EventWrite{identityWrite("did:plc:a", "c.test")})
		require.ErrorIs(t, err, context.Canceled)
		res = commit(t, db, ids, identityWrite("did:plc:a", "d.test"))
		require.Greater(t, outboxIDs(res.Outcomes[0])[0], int64(2))
	})
}

// TestCommitBatchLarge crosses every chunk size: more rows than one statement takes, and
// event JSON larger than one statement's byte budget.
func TestCommitBatchLarge(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		dids := make([]string, 1200)
		for i := range dids {
			dids[i] = fmt.Sprintf("did:plc:%05d", i)
		}
		addRepos(t, db, dids...)
		ids := newIDs(t, db)
		big := strings.Repeat("x", 1<<20)
		events := make([]store.EventWrite, 0, len(dids))
		for i, did := range dids {
			data := jsonData(did)
			if i < 5 { // 5 MiB of JSON: more than one statement's budget
				data = func(id int64) string { return fmt.Sprintf(`{"id":%d,"big":%q}`, id, big) }
			}
			events = append(events, store.EventWrite{DID: did,
				Records: []store.RecordChange{put("c", "1", "x"), put("c", "2", "y")},
				Outbox:  []store.OutboxEvent{{Live: true, Data: data}},
				Rev:     &store.RepoRev{Rev: "r" + did}})
		}
		res := commit(t, db, ids, events...)
		require.Equal(t, 1200*4, res.Rows)
		requireTotal(t, 2400, db.CountRecords)
		requireTotal(t, 1200, db.CountOutbox)
		last, err := db.GetRepo(ctx, dids[1199])
		require.NoError(t, err)
		require.Equal(t, "r"+dids[1199], last.Rev)
		first, err := db.ListOutbox(ctx, 0, 1)
		require.NoError(t, err)
		require.Len(t, first[0].Data, len(big)+len(`{"id":1,"big":""}`))

		for i := range events {
			events[i].Records = []store.RecordChange{del("c", "1"), del("c", "2")}
			events[i].Outbox = nil
		}
		commit(t, db, ids, events...)
		requireTotal(t, 0, db.CountRecords)
	})
}
