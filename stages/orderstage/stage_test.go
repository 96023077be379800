package orderstage_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/orderstage"
)

func TestLifecycle(t *testing.T) {
	pipelinetest.CheckLifecycle(t, func(t *testing.T) pipeline.Component {
		return orderstage.New(orderstage.Config{}, storetest.OpenSQLite(t), nil)
	})
}

func TestFactory(t *testing.T) {
	f := orderstage.NewFactory()
	require.Equal(t, "order", f.Type)
	def := f.CreateDefaultConfig()
	require.Equal(t, &orderstage.Config{MaxBatchEvents: 1000, MaxBatchRows: 10000, IDBlockSize: 1000,
		SinkBatch: 100, DeleteBatch: 1000, DeleteInterval: time.Second, FollowInterval: 200 * time.Millisecond,
		RetryMin: 100 * time.Millisecond, RetryMax: 10 * time.Second}, def)

	decoded := f.CreateDefaultConfig()
	require.NoError(t, pipeline.Decode(map[string]any{}, decoded, "config"))
	require.Equal(t, def, decoded, "an empty config is the defaults")
	err := pipeline.Decode(map[string]any{"max_batch_event": 5}, f.CreateDefaultConfig(), "config")
	require.ErrorContains(t, err, `"config.max_batch_event"`)

	require.NoError(t, def.(*orderstage.Config).Validate())
	for key, change := range map[string]func(c *orderstage.Config){
		"max_batch_events":      func(c *orderstage.Config) { c.MaxBatchEvents = 0 },
		"max_batch_rows":        func(c *orderstage.Config) { c.MaxBatchRows = -1 },
		"id_block_size":         func(c *orderstage.Config) { c.IDBlockSize = 0 },
		"capacity":              func(c *orderstage.Config) { c.Capacity = -1 },
		"parallelism":           func(c *orderstage.Config) { c.Parallelism = -1 },
		"sink_batch":            func(c *orderstage.Config) { c.SinkBatch = 0 },
		"max_in_flight_batches": func(c *orderstage.Config) { c.MaxInFlightBatches = -2 },
		"delete_batch":          func(c *orderstage.Config) { c.DeleteBatch = 0 },
		"delete_interval":       func(c *orderstage.Config) { c.DeleteInterval = 0 },
		"follow_interval":       func(c *orderstage.Config) { c.FollowInterval = -time.Second },
		"retry_min":             func(c *orderstage.Config) { c.RetryMin = 0 },
		"retry_max":             func(c *orderstage.Config) { c.RetryMax = c.RetryMin / 2 },
	} {
		cfg := orderstage.DefaultConfig()
		change(cfg)
		require.ErrorContains(t, cfg.Validate(), key)
	}
	err = pipeline.Decode(map[string]any{"delete_interval": 5}, f.CreateDefaultConfig(), "config")
	require.ErrorContains(t, err, "delete_interval", "durations need a unit")

	set := pipeline.Settings{ID: pipeline.ID{Type: "order"}, Logger: slog.New(slog.DiscardHandler)}
	_, err = f.Create(t.Context(), set, def)
	require.ErrorContains(t, err, "*store.DB", "the store is a required resource")
	set.Resources = []any{"other", storetest.OpenSQLite(t)}
	s, err := f.Create(t.Context(), set, def)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(t.Context()))
	cfg, only := s.(*orderstage.Stage).Settings()
	require.Equal(t, orderstage.DefaultCapacity, cfg.Capacity, "without a service configuration")
	require.Equal(t, orderstage.DefaultBatchesPerWorker, cfg.MaxInFlightBatches)
	require.False(t, only)

	// outbox.* of the service configuration fill what the stage's own config leaves at 0.
	svc := &config.Config{Outbox: config.OutboxConfig{Capacity: 7, Parallelism: 3, Only: true}}
	set.Resources = append(set.Resources, svc)
	s, err = f.Create(t.Context(), set, def)
	require.NoError(t, err)
	cfg, only = s.(*orderstage.Stage).Settings()
	require.Equal(t, 7, cfg.Capacity)
	require.Equal(t, 3, cfg.Parallelism)
	require.Equal(t, 3*orderstage.DefaultBatchesPerWorker, cfg.MaxInFlightBatches)
	require.True(t, only)
	own := orderstage.DefaultConfig()
	own.Capacity, own.MaxInFlightBatches = 50, 2
	s, err = f.Create(t.Context(), set, own)
	require.NoError(t, err)
	cfg, _ = s.(*orderstage.Stage).Settings()
	require.Equal(t, 50, cfg.Capacity, "the stage's own key wins")
	require.Equal(t, 2, cfg.MaxInFlightBatches)
}

// TestEventJSON commits record and identity events and checks the stored and released JSON
// byte for byte.
func TestEventJSON(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		rec := &recorder{}
		s := startStage(t, db, orderstage.Config{}, orderstage.WithRelease(rec.release))

		create := op(t, pipeline.ActionCreate, "3k1", map[string]any{"$type": post, "text": "hi <3 & bye"})
		update := op(t, pipeline.ActionUpdate, "3k1", map[string]any{"$type": post, "text": "v2"})
		require.NoError(t, process(t, s, records(alice, true, true, "rev1", create)))
		require.NoError(t, process(t, s, records(alice, false, true, "rev2", update, delOp("3k1"))))
		require.NoError(t, process(t, s, identity(alice, "alice.test", true, "active")))
		require.NoError(t, process(t, s, identity(alice, "", false, "deactivated")))

		want := []string{
			`{"id":1,"type":"record","record":{"live":true,"did":"did:plc:alice","rev":"rev1","collection":"app.bsky.feed.post","rkey":"3k1","action":"create","record":{"$type":"app.bsky.feed.post","text":"hi \u003c3 \u0026 bye"},"cid":"` + create.CID + `"}}`,
			`{"id":2,"type":"record","record":{"live":false,"did":"did:plc:alice","rev":"rev2","collection":"app.bsky.feed.post","rkey":"3k1","action":"update","record":{"$type":"app.bsky.feed.post","text":"v2"},"cid":"` + update.CID + `"}}`,
			`{"id":3,"type":"record","record":{"live":false,"did":"did:plc:alice","rev":"rev2","collection":"app.bsky.feed.post","rkey":"3k1","action":"delete"}}`,
			`{"id":4,"type":"identity","identity":{"did":"did:plc:alice","handle":"alice.test","is_active":true,"status":"active"}}`,
			`{"id":5,"type":"identity","identity":{"did":"did:plc:alice","handle":"handle.invalid","is_active":false,"status":"deactivated"}}`,
		}
		wantLive := []bool{true, false, false, true, true}
		rows := outbox(t, db)
		released := rec.Events()
		require.Len(t, rows, len(want))
		require.Len(t, released, len(want))
		for i, w := range want {
			require.Equal(t, w, rows[i].Data)
			require.Equal(t, store.OutboxBuffer{ID: int64(i + 1), DID: alice, Live: wantLive[i], Data: w}, rows[i])
			require.Equal(t, pipeline.Delivery{ID: uint64(i + 1), DID: alice, Live: wantLive[i], JSON: []byte(w)}, released[i])
		}
		repo := getRepo(t, db, alice)
		require.Equal(t, "alice.test", repo.Handle, "an empty handle keeps the stored one")
		require.Equal(t, store.AccountStatusDeactivated, repo.Status)
		require.Empty(t, index(t, db, alice))
		st := s.Stats()
		require.EqualValues(t, 4, st.Events)
		require.EqualValues(t, 5, st.Outbox)
	})
}

// TestUnrenderableRecord: the op is indexed, no event is emitted, the op is counted and logged.
func TestUnrenderableRecord(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		logs := &logRecorder{}
		s := startStageLog(t, db, orderstage.Config{}, slog.New(logs))
		good := op(t, pipeline.ActionCreate, "good", map[string]any{"text": "ok"})
		float := rawOp(t, pipeline.ActionCreate, "float", []byte{0xa1, 0x61, 'a', 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
		badCID := op(t, pipeline.ActionUpdate, "badcid", map[string]any{"text": "ok"})
		badCID.CID = "not-a-cid"
		require.NoError(t, process(t, s, records(alice, true, true, "rev1", float, good, badCID)))

		require.Equal(t, []string{post + "/badcid=not-a-cid", post + "/float=" + float.CID, post + "/good=" + good.CID},
			index(t, db, alice), "every op reaches the index")
		rows := outbox(t, db)
		require.Len(t, rows, 1, "only the renderable op becomes an event")
		require.Contains(t, rows[0].Data, `"rkey":"good"`)
		require.Equal(t, "rev1", getRepo(t, db, alice).Rev)
		require.EqualValues(t, 2, s.Stats().Unrenderable)

		warns := logs.warnings()
		require.Len(t, warns, 2)
		require.Equal(t, alice, warns[0]["did"])
		require.Equal(t, post+"/float", warns[0]["path"])
		require.Equal(t, float.CID, warns[0]["cid"])
		require.Contains(t, warns[0]["error"], "float")
		require.Equal(t, post+"/badcid", warns[1]["path"])
	})
}

// TestIDsAcrossRestart: ids keep increasing over a restart with an empty outbox.
func TestIDsAcrossRestart(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, alice)
		var ids []int64
		for range 3 {
			s := orderstage.New(orderstage.Config{IDBlockSize: 4}, db, nil)
			require.NoError(t, s.Start(ctx, pipelinetest.NopHost{}))
			for range 3 {
				require.NoError(t, process(t, s, identity(alice, "alice.test", true, "active")))
			}
			stopStage(t, s)
			rows := outbox(t, db)
			require.Len(t, rows, 3)
			for _, r := range rows {
				ids = append(ids, r.ID)
				_, err := db.DeleteOutbox(ctx, []int64{r.ID}) // acked: the outbox is empty at the next boot
				require.NoError(t, err)
			}
		}
		require.Equal(t, []int64{1, 2, 3, 5, 6, 7, 9, 10, 11}, ids, "each boot starts above the reserved block")
	})
}

// TestIDsAboveReferenceOutbox: a database written by the reference Tap has no high-water mark;
// ids continue above its outbox.
func TestIDsAboveReferenceOutbox(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		_, err := db.Bun().NewInsert().Model(&store.OutboxBuffer{ID: 5000, DID: alice, Live: true,
			Data: `{"id":5000,"type":"identity","identity":{}}`}).Exec(t.Context())
		require.NoError(t, err)
		s := startStage(t, db, orderstage.Config{})
		require.NoError(t, process(t, s, identity(alice, "alice.test", true, "active")))
		rows := outbox(t, db)
		require.Len(t, rows, 2)
		require.EqualValues(t, 5001, rows[1].ID)
		require.True(t, strings.HasPrefix(rows[1].Data, `{"id":5001,`))
	})
}

// TestFailedTransactionWritesNothing makes a transaction fail after the record index writes
// (an outbox row already holds the id it takes): nothing is written, the event gets the error,
// and its retry commits with a fresh id.
func TestFailedTransactionWritesNothing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		s := startStage(t, db, orderstage.Config{})
		squatter := store.OutboxBuffer{ID: 1, DID: "did:plc:x", Data: "squatter"}
		_, err := db.Bun().NewInsert().Model(&squatter).Exec(t.Context())
		require.NoError(t, err)

		ev := records(alice, true, true, "rev1", op(t, pipeline.ActionCreate, "a", map[string]any{"x": int64(1)}))
		require.Error(t, process(t, s, ev))
		require.Empty(t, index(t, db, alice))
		require.Empty(t, getRepo(t, db, alice).Rev)
		require.Equal(t, []store.OutboxBuffer{squatter}, outbox(t, db))
		require.EqualValues(t, 1, s.Stats().FailedTransactions)

		require.NoError(t, process(t, s, ev), "the retry commits")
		rows := outbox(t, db)
		require.Len(t, rows, 2)
		require.EqualValues(t, 2, rows[1].ID, "the failed transaction's id is skipped")
		require.Len(t, index(t, db, alice), 1)
		require.Equal(t, "rev1", getRepo(t, db, alice).Rev)
	})
}

// TestClosedDatabase: a failing database fails the event, retryably, without a panic.
func TestClosedDatabase(t *testing.T) {
	db := storetest.OpenSQLite(t)
	addRepos(t, db, alice)
	s := startStage(t, db, orderstage.Config{})
	require.NoError(t, db.Close())
	err := process(t, s, identity(alice, "alice.test", true, "active"))
	require.Error(t, err)
	require.False(t, pipeline.IsPermanent(err))
}

func TestDeletedAccount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice, bob)
		s := startStage(t, db, orderstage.Config{})
		for _, did := range []string{alice, bob} {
			require.NoError(t, process(t, s, records(did, false, true, "rev1",
				op(t, pipeline.ActionCreate, "a", map[string]any{"x": "y"}))))
		}
		_, err := db.Bun().NewInsert().Model(&[]store.ResyncBuffer{{DID: alice, Data: "{}"}, {DID: bob, Data: "{}"}}).Exec(t.Context())
		require.NoError(t, err)

		require.NoError(t, process(t, s, identity(alice, "alice.test", false, "deleted")))
		_, err = db.GetRepo(t.Context(), alice)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Empty(t, index(t, db, alice))
		require.Len(t, index(t, db, bob), 1)
		n, err := db.CountResyncBuffer(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		rows := outbox(t, db)
		require.Len(t, rows, 3)
		require.Equal(t, `{"id":3,"type":"identity","identity":{"did":"did:plc:alice","handle":"alice.test","is_active":false,"status":"deleted"}}`, rows[2].Data)

		// Later events of the deleted repo write nothing.
		require.NoError(t, process(t, s, records(alice, true, true, "rev2", op(t, pipeline.ActionCreate, "b", map[string]any{}))))
		require.Empty(t, index(t, db, alice))
		require.Len(t, outbox(t, db), 3)
		require.EqualValues(t, 1, s.Stats().Untracked)
	})
}

// TestRemovedRepoMidFlight: the repo was removed between the stages that let the event through
// and the commit: the event succeeds and writes nothing.
func TestRemovedRepoMidFlight(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		s := startStage(t, db, orderstage.Config{})
		require.NoError(t, db.RemoveRepos(t.Context(), []string{alice}))
		require.NoError(t, process(t, s, records(alice, true, true, "rev1", op(t, pipeline.ActionCreate, "a", map[string]any{}))))
		require.NoError(t, process(t, s, identity(alice, "alice.test", true, "active")))
		require.Empty(t, index(t, db, alice))
		require.Empty(t, outbox(t, db))
		_, err := db.GetRepo(t.Context(), alice)
		require.ErrorIs(t, err, store.ErrNotFound, "the repo is not recreated")
		require.EqualValues(t, 2, s.Stats().Untracked)
		require.Zero(t, s.Stats().Events)
	})
}

func TestFinalSetsRev(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, alice)
		s := startStage(t, db, orderstage.Config{})
		require.NoError(t, process(t, s, records(alice, false, false, "snap", op(t, pipeline.ActionCreate, "a", map[string]any{}))))
		require.Empty(t, getRepo(t, db, alice).Rev, "a batch that is not final leaves rev alone")
		require.NoError(t, process(t, s, records(alice, false, true, "snap", op(t, pipeline.ActionCreate, "b", map[string]any{}))))
		repo := getRepo(t, db, alice)
		require.Equal(t, "snap", repo.Rev)
		require.Equal(t, "data-snap", repo.PrevData)
		require.NoError(t, process(t, s, records(alice, true, true, "rev2")), "a final batch without ops")
		repo = getRepo(t, db, alice)
		require.Equal(t, "rev2", repo.Rev)
		require.Equal(t, "data-rev2", repo.PrevData)
		require.NoError(t, process(t, s, records(alice, true, false, "ignored")), "nothing to write")
		require.Len(t, outbox(t, db), 2)
		require.EqualValues(t, 3, s.Stats().Transactions)
	})
}

func TestOtherKindsPassThrough(t *testing.T) {
	db := storetest.OpenSQLite(t)
	s := startStage(t, db, orderstage.Config{})
	var passed []pipeline.Kind
	next := func(_ context.Context, ev *pipeline.Event) error { passed = append(passed, ev.Kind); return nil }
	for _, k := range []pipeline.Kind{pipeline.KindCommit, pipeline.KindSync, pipeline.KindIdentity,
		pipeline.KindAccount, pipeline.KindDiscovery, pipeline.KindSnapshot} {
		require.NoError(t, s.Process(t.Context(), &pipeline.Event{Kind: k, DID: alice}, next))
	}
	require.Len(t, passed, 6)
	boom := errors.New("boom")
	err := s.Process(t.Context(), &pipeline.Event{Kind: pipeline.KindSync}, func(context.Context, *pipeline.Event) error { return boom })
	require.ErrorIs(t, err, boom)
}

func TestInvalidEventsArePermanent(t *testing.T) {
	db := storetest.OpenSQLite(t)
	addRepos(t, db, alice)
	s := startStage(t, db, orderstage.Config{})
	bad := records(alice, true, true, "r", delOp("a"))
	bad.Records.Ops[0].Action = "upsert"
	for name, ev := range map[string]*pipeline.Event{
		"unknown status": identity(alice, "alice.test", true, "throttled"),
		"unknown action": bad,
		"no records":     {Kind: pipeline.KindRecords, DID: alice},
		"no change":      {Kind: pipeline.KindIdentityChange, DID: alice},
		"no did":         records("", true, true, "r"),
	} {
		require.True(t, pipeline.IsPermanent(process(t, s, ev)), name)
	}
	require.Empty(t, outbox(t, db))
}

func TestProcessAfterShutdown(t *testing.T) {
	db := storetest.OpenSQLite(t)
	addRepos(t, db, alice)
	s := orderstage.New(orderstage.Config{}, db, nil)
	err := process(t, s, identity(alice, "a.test", true, "active"))
	require.ErrorIs(t, err, pipeline.ErrClosed, "before Start")
	require.NoError(t, s.Start(t.Context(), pipelinetest.NopHost{}))
	stopStage(t, s)
	err = process(t, s, identity(alice, "a.test", true, "active"))
	require.ErrorIs(t, err, pipeline.ErrClosed, "after Shutdown")
	require.ErrorIs(t, s.Start(t.Context(), pipelinetest.NopHost{}), pipeline.ErrClosed)
}

// TestConcurrentLanes commits many DIDs from many goroutines: every event commits exactly once,
// ids are unique and dense, and each DID's events keep their order.
func TestConcurrentLanes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		const lanes, perLane = 16, 20
		dids := make([]string, lanes)
		for i := range dids {
			dids[i] = fmt.Sprintf("did:plc:lane%02d", i)
		}
		addRepos(t, db, dids...)
		rec := &recorder{}
		s := startStage(t, db, orderstage.Config{IDBlockSize: 7}, orderstage.WithRelease(rec.release))
		var wg sync.WaitGroup
		for _, did := range dids {
			wg.Go(func() {
				for i := range perLane {
					ev := records(did, true, true, fmt.Sprintf("rev%03d", i),
						op(t, pipeline.ActionCreate, fmt.Sprintf("k%03d", i), map[string]any{"i": int64(i)}))
					if err := process(t, s, ev); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		rows := outbox(t, db)
		require.Len(t, rows, lanes*perLane)
		for i, r := range rows {
			require.EqualValues(t, i+1, r.ID, "one process, no failures: ids are dense")
		}
		require.Len(t, rec.Events(), lanes*perLane)
		last := map[string]string{}
		for _, r := range rows {
			rev := r.Data[strings.Index(r.Data, `"rev":"`)+7:][:6]
			require.Greater(t, rev, last[r.DID], "per-DID order follows id order")
			last[r.DID] = rev
		}
		st := s.Stats()
		require.EqualValues(t, lanes*perLane, st.Events)
		require.EqualValues(t, lanes*perLane*3, st.Rows, "record, outbox and repo row per event")
	})
}
