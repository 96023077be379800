package orderstage_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/orderstage"
)

const (
	alice = "did:plc:alice"
	bob   = "did:plc:bob"
	post  = "app.bsky.feed.post"
)

// recorder is a release hook that records what it is given.
type recorder struct {
	mu     sync.Mutex
	events []pipeline.Delivery
}

func (r *recorder) release(committed []pipeline.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, committed...)
}

// Events returns a copy of everything released so far.
func (r *recorder) Events() []pipeline.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// warnings returns the attributes of every warning, keyed by name, with the message as "msg".
func (h *logRecorder) warnings() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r.Level != slog.LevelWarn {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// startStage starts an order stage on db and shuts it down when t ends.
func startStage(t testing.TB, db *store.DB, cfg orderstage.Config, opts ...orderstage.Option) *orderstage.Stage {
	t.Helper()
	return startStageLog(t, db, cfg, nil, opts...)
}

func startStageLog(t testing.TB, db *store.DB, cfg orderstage.Config, log *slog.Logger, opts ...orderstage.Option) *orderstage.Stage {
	t.Helper()
	s := orderstage.New(cfg, db, log, opts...)
	require.NoError(t, s.Start(t.Context(), pipelinetest.NopHost{}))
	t.Cleanup(func() { stopStage(t, s) })
	return s
}

func stopStage(t testing.TB, s *orderstage.Stage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
}

// process runs ev through s with a next that fails the test if called.
func process(t testing.TB, s *orderstage.Stage, ev *pipeline.Event) error {
	t.Helper()
	return s.Process(t.Context(), ev, func(context.Context, *pipeline.Event) error {
		t.Errorf("committed event %s passed on", ev.Kind)
		return nil
	})
}

// cborCID returns the CIDv1 dag-cbor sha2-256 of b.
func cborCID(t testing.TB, b []byte) string {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: 0x12, MhLength: -1}.Sum(b)
	require.NoError(t, err)
	return c.String()
}

// op returns a create or update of rkey in post with the record rec.
func op(t testing.TB, action pipeline.Action, rkey string, rec map[string]any) pipeline.RecordOp {
	t.Helper()
	b, err := atdata.MarshalCBOR(rec)
	require.NoError(t, err)
	return rawOp(t, action, rkey, b)
}

// rawOp returns an op with the given record CBOR.
func rawOp(t testing.TB, action pipeline.Action, rkey string, b []byte) pipeline.RecordOp {
	t.Helper()
	return pipeline.RecordOp{Action: action, Collection: post, RKey: syntax.RecordKey(rkey), CID: cborCID(t, b), Record: b}
}

// delOp returns a delete of rkey in post.
func delOp(rkey string) pipeline.RecordOp {
	return pipeline.RecordOp{Action: pipeline.ActionDelete, Collection: post, RKey: syntax.RecordKey(rkey)}
}

// records returns a Records event of did.
func records(did string, live, final bool, rev string, ops ...pipeline.RecordOp) *pipeline.Event {
	return &pipeline.Event{Kind: pipeline.KindRecords, DID: syntax.DID(did), Live: live,
		Records: &pipeline.Records{Rev: rev, DataCID: "data-" + rev, Ops: ops, Final: final}}
}

// identity returns an IdentityChange event of did.
func identity(did, handle string, active bool, status string) *pipeline.Event {
	return &pipeline.Event{Kind: pipeline.KindIdentityChange, DID: syntax.DID(did), Live: true,
		Change: &pipeline.IdentityChange{Handle: syntax.Handle(handle), IsActive: active, Status: status}}
}

// outbox returns every outbox row in id order.
func outbox(t testing.TB, db *store.DB) []store.OutboxBuffer {
	t.Helper()
	rows, err := db.ListOutbox(t.Context(), 0, 0)
	require.NoError(t, err)
	return rows
}

// index returns did's record index as "collection/rkey=cid".
func index(t testing.TB, db *store.DB, did string) []string {
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

func addRepos(t testing.TB, db *store.DB, dids ...string) {
	t.Helper()
	_, err := db.AddRepos(t.Context(), dids)
	require.NoError(t, err)
}

func getRepo(t testing.TB, db *store.DB, did string) store.Repo {
	t.Helper()
	r, err := db.GetRepo(t.Context(), did)
	require.NoError(t, err)
	return r
}
