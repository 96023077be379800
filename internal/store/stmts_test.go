package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// TestCommitBatchStatementShapes commits batches in which every multi-row statement has a row
// count around the sizes of the prepared statements (none, one, a full statement and one row
// either side, several full statements and a remainder; on SQLite MaxStmtRows rows, on
// Postgres BatchSize) and compares every stored row with what the batches mean: an insert, an
// update of the same rows, deletes, and account deletions.
func TestCommitBatchStatementShapes(t *testing.T) {
	c, b := store.MaxStmtRows, store.BatchSize
	for _, n := range []int{0, 1, c - 1, c, c + 1, 3*c + 37, b, b + 1} {
		t.Run(fmt.Sprintf("rows=%d", n), func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, db *store.DB) { checkStatementShapes(t, db, n) })
		})
	}
}

// checkStatementShapes runs TestCommitBatchStatementShapes with n rows per statement.
func checkStatementShapes(t *testing.T, db *store.DB, n int) {
	repos := dids("s", n)
	addRepos(t, db, append(repos, "did:plc:other")...)
	bufs := []store.ResyncBuffer{{DID: "did:plc:other", Data: "{}"}}
	for _, did := range repos {
		bufs = append(bufs, store.ResyncBuffer{DID: did, Data: "{}"})
	}
	insert(t, db, &bufs)
	ids := newIDs(t, db)
	wantOutbox := []store.OutboxBuffer{}
	// batch commits one event per repo made by ev, an event of an untracked repo in the
	// middle, and checks the outcomes and outbox rows.
	batch := func(ev func(i int, did string) store.EventWrite) {
		t.Helper()
		events := make([]store.EventWrite, 0, n+1)
		for i, did := range repos {
			if i == n/2 {
				events = append(events, store.EventWrite{DID: "did:plc:untracked",
					Records: []store.RecordChange{put("c", "a", "x")},
					Outbox:  []store.OutboxEvent{{Data: jsonData("untracked")}}, Rev: &store.RepoRev{Rev: "x"}})
			}
			events = append(events, ev(i, did))
		}
		if len(events) == 0 {
			events = append(events, store.EventWrite{DID: "did:plc:untracked"})
		}
		res := commit(t, db, ids, events...)
		for _, out := range res.Outcomes {
			wantOutbox = append(wantOutbox, out.Outbox...)
		}
		stored, err := db.ListOutbox(t.Context(), 0, 0)
		require.NoError(t, err)
		require.Equal(t, wantOutbox, stored)
	}
	wantRepos := func(f func(i int, did string) store.Repo) {
		t.Helper()
		want := []store.Repo{{DID: "did:plc:other", State: store.RepoStatePending, Status: store.AccountStatusActive}}
		for i, did := range repos {
			if r := f(i, did); r.DID != "" {
				want = append(want, r)
			}
		}
		got, err := db.ListRepos(t.Context(), store.ListReposQuery{})
		require.NoError(t, err)
		require.Equal(t, want, got)
	}

	// Insert: one record, one event, a rev and a handle per repo.
	batch(func(i int, did string) store.EventWrite {
		return store.EventWrite{DID: did, Records: []store.RecordChange{put("c", "a", fmt.Sprint("a1-", i))},
			Outbox:   []store.OutboxEvent{{Live: i%2 == 0, Data: jsonData(did)}},
			Rev:      &store.RepoRev{Rev: fmt.Sprint("rev1-", i), PrevData: fmt.Sprint("data1-", i)},
			Identity: &store.IdentityUpdate{Handle: fmt.Sprintf("h%d.test", i), Status: store.AccountStatusTakendown}}
	})
	repoAt := func(i int, did string, rev int, status store.AccountStatus) store.Repo {
		return store.Repo{DID: did, State: store.RepoStatePending, Status: status, Handle: fmt.Sprintf("h%d.test", i),
			Rev: fmt.Sprintf("rev%d-%d", rev, i), PrevData: fmt.Sprintf("data%d-%d", rev, i)}
	}
	wantRepos(func(i int, did string) store.Repo { return repoAt(i, did, 1, store.AccountStatusTakendown) })
	requireAllRecords(t, db, repos, func(i int) []string { return []string{fmt.Sprint("c/a=a1-", i)} })

	// Delete that record, add another, change the status only.
	batch(func(i int, did string) store.EventWrite {
		return store.EventWrite{DID: did, Records: []store.RecordChange{del("c", "a"), put("c", "b", fmt.Sprint("b1-", i))},
			Outbox:   []store.OutboxEvent{{Live: true, Data: jsonData(did)}},
			Identity: &store.IdentityUpdate{Status: store.AccountStatusDeactivated}}
	})
	wantRepos(func(i int, did string) store.Repo { return repoAt(i, did, 1, store.AccountStatusDeactivated) })
	requireAllRecords(t, db, repos, func(i int) []string { return []string{fmt.Sprint("c/b=b1-", i)} })

	// Update the existing record (the upsert's conflict path) and the rev.
	batch(func(i int, did string) store.EventWrite {
		return store.EventWrite{DID: did, Records: []store.RecordChange{put("c", "b", fmt.Sprint("b2-", i))},
			Rev: &store.RepoRev{Rev: fmt.Sprint("rev2-", i), PrevData: fmt.Sprint("data2-", i)}}
	})
	wantRepos(func(i int, did string) store.Repo { return repoAt(i, did, 2, store.AccountStatusDeactivated) })
	requireAllRecords(t, db, repos, func(i int) []string { return []string{fmt.Sprint("c/b=b2-", i)} })
	requireTotal(t, int64(n+1), db.CountResyncBuffer)

	// Delete every account.
	batch(func(_ int, did string) store.EventWrite {
		return store.EventWrite{DID: did, Outbox: []store.OutboxEvent{{Live: true, Data: jsonData(did)}},
			Identity: &store.IdentityUpdate{Status: store.AccountStatusDeleted}}
	})
	wantRepos(func(int, string) store.Repo { return store.Repo{} })
	requireAllRecords(t, db, nil, nil)
	requireTotal(t, 1, db.CountResyncBuffer)
	require.Len(t, wantOutbox, 3*n)
}

// requireAllRecords checks the whole record index: recs(i) for repos[i], nothing else.
func requireAllRecords(t *testing.T, db *store.DB, repos []string, recs func(i int) []string) {
	t.Helper()
	var want, got []string
	for i, did := range repos {
		for _, r := range recs(i) {
			want = append(want, did+" "+r)
		}
	}
	var rows []store.RepoRecord
	require.NoError(t, db.Bun().NewSelect().Model(&rows).Order("did", "collection", "rkey").Scan(t.Context()))
	for _, r := range rows {
		got = append(got, r.DID+" "+r.Collection+"/"+r.RKey+"="+r.CID)
	}
	require.Equal(t, want, got)
}

// TestHotPathsOnReferenceDatabase runs the prepared statements against the reference Tap's
// tables and NULLs: a claim returns NULL columns as "", a batch commits.
func TestHotPathsOnReferenceDatabase(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, u string) {
		createReferenceDB(t, u)
		db := storetest.Open(t, u)
		ctx := t.Context()
		r, ok, err := db.ClaimResync(ctx, time.Unix(1_700_000_000, 0))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, store.Repo{DID: "did:plc:nulls", State: store.RepoStateResyncing, Status: store.AccountStatusActive}, r)
		r, ok, err = db.ClaimResync(ctx, time.Unix(1_700_000_000, 0))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, store.Repo{DID: "did:plc:err", State: store.RepoStateResyncing, Status: store.AccountStatusDeactivated,
			Handle: "bob.test", ErrorMsg: "fetch failed", RetryCount: 3, RetryAfter: 1700000000}, r)

		ids := newIDs(t, db)
		res := commit(t, db, ids, store.EventWrite{DID: "did:plc:full",
			Records: []store.RecordChange{put("app.bsky.feed.post", "3k1", "bafynew"), del("app.bsky.feed.post", "3k2")},
			Outbox:  []store.OutboxEvent{{Live: true, Data: jsonData("full")}, {Live: false, Data: jsonData("full")}},
			Rev:     &store.RepoRev{Rev: "3lrev2", PrevData: "bafyprev2"}},
			identityWrite("did:plc:nulls", "n.test"))
		require.Equal(t, []int64{8, 9}, outboxIDs(res.Outcomes[0]))
		out, err := db.ListOutbox(ctx, 7, 0)
		require.NoError(t, err)
		require.Equal(t, append(res.Outcomes[0].Outbox, res.Outcomes[1].Outbox...), out)
		require.Equal(t, []string{"app.bsky.feed.post/3k1=bafynew"}, records(t, db, "did:plc:full"))
		full, err := db.GetRepo(ctx, "did:plc:full")
		require.NoError(t, err)
		require.Equal(t, "3lrev2", full.Rev)
		nulls, err := db.GetRepo(ctx, "did:plc:nulls")
		require.NoError(t, err)
		require.Equal(t, "n.test", nulls.Handle)

		idx, err := db.RecordIndexPage(ctx, "did:plc:full", "", 0)
		require.NoError(t, err)
		require.Equal(t, []store.IndexEntry{{Path: "app.bsky.feed.post/3k1", CID: "bafynew"}}, idx, "0: no limit")
	})
}
