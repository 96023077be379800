package verifystage

import (
	"bytes"
	"context"
	"strings"
	"testing"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	lexutil "github.com/bluesky-social/indigo/lex/util"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car"
	carutil "github.com/ipld/go-car/util"
	"github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
)

func TestCommitOps(t *testing.T) {
	fx := newCommitFixture(t)
	got := fx.process(t, fx.repo.commit(t,
		memOp{pipeline.ActionCreate, "app.bsky.feed.post/3laaaaaaaaaa2"},
		memOp{pipeline.ActionCreate, "app.bsky.graph.follow/self"},
	))
	require.NotNil(t, got, "the commit verifies")
	requireOps(t, fx.repo, got.Records.Ops,
		memOp{pipeline.ActionCreate, "app.bsky.feed.post/3laaaaaaaaaa2"},
		memOp{pipeline.ActionCreate, "app.bsky.graph.follow/self"})

	got = fx.process(t, fx.repo.commit(t,
		memOp{pipeline.ActionUpdate, "app.bsky.graph.follow/self"},
		memOp{pipeline.ActionDelete, "app.bsky.feed.post/3laaaaaaaaaa2"},
	))
	require.NotNil(t, got, "the commit verifies")
	requireOps(t, fx.repo, got.Records.Ops,
		memOp{pipeline.ActionUpdate, "app.bsky.graph.follow/self"},
		memOp{pipeline.ActionDelete, "app.bsky.feed.post/3laaaaaaaaaa2"})
	require.Zero(t, fx.stage.Stats.Desyncs.Load())
}

// TestCommitRejectsUnparsableCreatePath pins what commitOps relies on to
// skip ParseRepoPath for creates: repo.VerifyCommitMessage fails a commit
// whose create path is in the MST but is no repo path.
func TestCommitRejectsUnparsableCreatePath(t *testing.T) {
	for _, path := range []string{"app.bsky.feed.post/a/b", "not an nsid/x", "app.bsky.feed.post/..", "nopath"} {
		t.Run(path, func(t *testing.T) {
			fx := newCommitFixture(t)
			require.Nil(t, fx.process(t, fx.repo.commit(t, memOp{pipeline.ActionCreate, path})))
			fx.requireDesynchronized(t, FailureCommit, "invalid repo path")
		})
	}
}

// TestCommitRejectsUnparsableDeletePath: indigo only uses a delete's path as
// an MST key, so commitOps still parses it.
func TestCommitRejectsUnparsableDeletePath(t *testing.T) {
	fx := newCommitFixture(t)
	fx.repo.commit(t, memOp{pipeline.ActionCreate, "app.bsky.feed.post/a/b"}) // never seen by the stage
	fx.advance(t, fx.repo.rev, fx.repo.root(t))
	require.Nil(t, fx.process(t, fx.repo.commit(t, memOp{pipeline.ActionDelete, "app.bsky.feed.post/a/b"})))
	fx.requireDesynchronized(t, FailureOps, `op path "app.bsky.feed.post/a/b"`)
}

// A commit whose prevData is not the stored MST root breaks the chain.
func TestCommitChainBreakCountsChain(t *testing.T) {
	fx := newCommitFixture(t)
	fx.repo.commit(t, memOp{pipeline.ActionCreate, "app.bsky.feed.post/a"}) // never seen by the stage
	stale := fx.repo.root(t)
	fx.repo.commit(t, memOp{pipeline.ActionCreate, "app.bsky.feed.post/b"}) // never seen either
	fx.advance(t, fx.repo.rev, stale)
	require.Nil(t, fx.process(t, fx.repo.commit(t, memOp{pipeline.ActionCreate, "app.bsky.feed.post/c"})))
	fx.requireDesynchronized(t, FailureChain, "does not match the stored data")
}

func TestVerifiedOpPathMatchesParseRepoPath(t *testing.T) {
	c := cid.MustParse("bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq")
	link := lexutil.LexLink(c)
	for _, path := range []string{"app.bsky.feed.post/3laaaaaaaaaa2", "com.example.fooBar/self", "a.b.c/x:y~z"} {
		for _, action := range []string{"create", "update", "delete"} {
			op := &comatproto.SyncSubscribeRepos_RepoOp{Action: action, Path: path, Cid: &link}
			coll, rkey, err := verifiedOpPath(op)
			require.NoError(t, err)
			wantColl, wantRKey, _ := syntax.ParseRepoPath(path)
			require.Equal(t, wantColl, coll)
			require.Equal(t, wantRKey, rkey)
		}
	}
	for _, op := range []*comatproto.SyncSubscribeRepos_RepoOp{
		{Action: "delete", Path: "app.bsky.feed.post/a/b"},
		{Action: "create", Path: "app.bsky.feed.post/a/b"}, // no CID: indigo did not parse it
		{Action: "create", Path: "nopath", Cid: &link},
	} {
		_, _, err := verifiedOpPath(op)
		require.Error(t, err, "%s %s", op.Action, op.Path)
	}
}

// requireOps checks ops against want, with each record's CID and bytes as
// repo holds them.
func requireOps(t *testing.T, r *memRepo, ops []pipeline.RecordOp, want ...memOp) {
	t.Helper()
	require.Len(t, ops, len(want))
	for i, w := range want {
		coll, rkey, _ := strings.Cut(w.path, "/")
		got := ops[i]
		require.Equal(t, w.action, got.Action)
		require.Equal(t, syntax.NSID(coll), got.Collection)
		require.Equal(t, syntax.RecordKey(rkey), got.RKey)
		if w.action == pipeline.ActionDelete {
			require.Empty(t, got.CID)
			require.Nil(t, got.Record)
			continue
		}
		rec := r.records[w.path]
		require.Equal(t, rec.cid.String(), got.CID)
		require.Equal(t, rec.data, got.Record)
	}
}

// commitFixture is a stage, a SQLite store tracking one in-memory repo and
// a directory declaring the repo's key.
type commitFixture struct {
	db    *store.DB
	stage *Stage
	repo  *memRepo
}

func newCommitFixture(t *testing.T) *commitFixture {
	t.Helper()
	key := newSigningKey(t)
	dir := identity.NewMockDirectory()
	dir.Insert(identityWithKey(t, testDID, key))
	db := storetest.OpenSQLite(t)
	_, err := db.AddRepos(t.Context(), []string{testDID.String()})
	require.NoError(t, err)
	fx := &commitFixture{db: db, stage: New(Config{SnapshotBatch: 1}, db, dir, nil), repo: newMemRepo(testDID, key)}
	fx.advance(t, "", "")
	return fx
}

// process runs ev through the stage and returns the Records event it
// emitted, nil if none; it then stores the new rev and data as the order
// stage would.
func (fx *commitFixture) process(t *testing.T, ev *pipeline.Event) *pipeline.Event {
	t.Helper()
	var out *pipeline.Event
	require.NoError(t, fx.stage.Process(t.Context(), ev, func(_ context.Context, e *pipeline.Event) error {
		out = e
		return nil
	}))
	if out != nil {
		fx.advance(t, out.Records.Rev, out.Records.DataCID)
	}
	return out
}

// advance makes the stored repo active at rev and data.
func (fx *commitFixture) advance(t *testing.T, rev, data string) {
	t.Helper()
	_, err := fx.db.Bun().NewUpdate().Model((*store.Repo)(nil)).
		Set("state = ?", store.RepoStateActive).Set("rev = ?", rev).Set("prev_data = ?", data).
		Where("did = ?", testDID.String()).Exec(t.Context())
	require.NoError(t, err)
}

// requireDesynchronized checks that the repo was marked desynchronized
// with a reason containing reason, counted as a failure for why only.
func (fx *commitFixture) requireDesynchronized(t *testing.T, why FailureReason, reason string) {
	t.Helper()
	require.EqualValues(t, 1, fx.stage.Stats.Desyncs.Load())
	for r := range NumFailureReasons {
		want := uint64(0)
		if r == why {
			want = 1
		}
		require.Equal(t, want, fx.stage.Stats.Failures(r), "failures counted as %s", r)
	}
	r, err := fx.db.GetRepo(t.Context(), testDID.String())
	require.NoError(t, err)
	require.Equal(t, store.RepoStateDesynchronized, r.State)
	require.Contains(t, r.ErrorMsg, reason)
}

// memRepo builds the signed #commit events of one repo in memory, with MST
// keys of any shape: also ones no PDS writes, which the testnet refuses.
type memRepo struct {
	did     syntax.DID
	key     atcrypto.PrivateKey
	tree    mst.Tree
	rev     string
	clock   *syntax.TIDClock
	seq     int64
	records map[string]memRecord
}

// memOp is one write of a memRepo commit.
type memOp struct {
	action pipeline.Action
	path   string
}

type memRecord struct {
	cid  cid.Cid
	data []byte
}

var cborPrefix = cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256)

func newMemRepo(did syntax.DID, key atcrypto.PrivateKey) *memRepo {
	return &memRepo{did: did, key: key, tree: mst.NewEmptyTree(), clock: syntax.NewTIDClock(0), records: map[string]memRecord{}}
}

func (r *memRepo) root(t *testing.T) string {
	t.Helper()
	root, err := r.tree.RootCID()
	require.NoError(t, err)
	return root.String()
}

// commit applies ops and returns them as a live #commit event whose CAR
// slice holds the signed commit, every MST node and the new records.
func (r *memRepo) commit(t *testing.T, ops ...memOp) *pipeline.Event {
	t.Helper()
	prevData, err := r.tree.RootCID()
	require.NoError(t, err)
	prevData = new(*prevData)
	wire := make([]*comatproto.SyncSubscribeRepos_RepoOp, 0, len(ops))
	var blocks []memRecord
	for _, op := range ops {
		w := &comatproto.SyncSubscribeRepos_RepoOp{Action: string(op.action), Path: op.path}
		var prev *cid.Cid
		if op.action == pipeline.ActionDelete {
			prev, err = r.tree.Remove([]byte(op.path))
			delete(r.records, op.path)
		} else {
			rec := r.record(t, op.path)
			prev, err = r.tree.Insert([]byte(op.path), rec.cid)
			w.Cid, blocks = link(rec.cid), append(blocks, rec)
		}
		require.NoError(t, err)
		if prev != nil {
			w.Prev = link(*prev)
		}
		wire = append(wire, w)
	}
	data, err := r.tree.RootCID()
	require.NoError(t, err)
	commit := repo.Commit{DID: r.did.String(), Version: repo.ATPROTO_REPO_VERSION, Data: *data, Rev: r.clock.Next().String()}
	require.NoError(t, commit.Sign(r.key))
	var buf bytes.Buffer
	require.NoError(t, commit.MarshalCBOR(&buf))
	commitCID, err := cborPrefix.Sum(buf.Bytes())
	require.NoError(t, err)
	msg := &comatproto.SyncSubscribeRepos_Commit{
		Repo: r.did.String(), Rev: commit.Rev, Time: syntax.DatetimeNow().String(), Commit: lexutil.LexLink(commitCID),
		Blocks: r.car(t, commitCID, buf.Bytes(), blocks), PrevData: link(*prevData), Ops: wire, Blobs: []lexutil.LexLink{},
	}
	if r.rev != "" {
		msg.Since = new(r.rev)
	}
	r.rev, r.seq = commit.Rev, r.seq+1
	return &pipeline.Event{Kind: pipeline.KindCommit, DID: r.did, Seq: r.seq, Live: true, Commit: msg}
}

// record makes (and keeps) a new record for path.
func (r *memRepo) record(t *testing.T, path string) memRecord {
	t.Helper()
	coll, _, _ := strings.Cut(path, "/")
	data, err := atdata.MarshalCBOR(map[string]any{"$type": coll, "text": path + " at " + r.clock.Next().String()})
	require.NoError(t, err)
	c, err := cborPrefix.Sum(data)
	require.NoError(t, err)
	rec := memRecord{cid: c, data: data}
	r.records[path] = rec
	return rec
}

// car writes a CAR v1 slice rooted at the commit.
func (r *memRepo) car(t *testing.T, commitCID cid.Cid, commit []byte, records []memRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, car.WriteHeader(&car.CarHeader{Roots: []cid.Cid{commitCID}, Version: 1}, &buf))
	write := func(c cid.Cid, data []byte) { require.NoError(t, carutil.LdWrite(&buf, c.Bytes(), data)) }
	write(commitCID, commit)
	writeNodes(t, r.tree.Root, write)
	for _, rec := range records {
		write(rec.cid, rec.data)
	}
	return buf.Bytes()
}

// writeNodes writes the blocks of n and of every node under it.
func writeNodes(t *testing.T, n *mst.Node, write func(cid.Cid, []byte)) {
	t.Helper()
	nd := n.NodeData()
	data, c, err := nd.Bytes()
	require.NoError(t, err)
	write(*c, data)
	for _, e := range n.Entries {
		if e.Child != nil {
			writeNodes(t, e.Child, write)
		}
	}
}

func link(c cid.Cid) *lexutil.LexLink {
	l := lexutil.LexLink(c)
	return &l
}
