package carstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	blockstore "github.com/ipfs/go-ipfs-blockstore"
	car "github.com/ipld/go-car"
	"github.com/ipld/go-car/util"
	"github.com/multiformats/go-multihash"
)

const testDID = "did:plc:carstreamtest0000000000"

// block is one CAR block.
type block struct {
	cid  cid.Cid
	data []byte
}

// entry is one (path, CID) pair of a repo, as Walk yields them.
type entry struct {
	path string
	cid  cid.Cid
}

// fixture is a signed repo built with indigo: its commit block, MST node
// blocks (root of the MST first) and record blocks (in path order).
type fixture struct {
	priv    atcrypto.PrivateKey
	commit  repo.Commit
	root    block
	nodes   []block
	records []block
	entries []entry
}

// blocks returns every block: commit, nodes, records.
func (f *fixture) blocks() []block {
	return slices.Concat([]block{f.root}, f.nodes, f.records)
}

// car encodes the fixture as a CAR v1 with the commit as root.
func (f *fixture) car(t testing.TB) []byte {
	return writeCAR(t, 1, []cid.Cid{f.root.cid}, f.blocks())
}

func newKey(t testing.TB) atcrypto.PrivateKey {
	t.Helper()
	priv, err := atcrypto.GeneratePrivateKeyK256()
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// newFixture builds a repo holding one record per path, inserting the
// paths into indigo's MST in the given order.
func newFixture(t testing.TB, paths []string) *fixture {
	t.Helper()
	f := &fixture{priv: newKey(t)}
	tree := mst.NewEmptyTree()
	for _, p := range paths {
		b := recordBlock(t, p)
		if _, err := tree.Insert([]byte(p), b.cid); err != nil {
			t.Fatal(err)
		}
		f.records = append(f.records, b)
		f.entries = append(f.entries, entry{p, b.cid})
	}
	slices.SortFunc(f.entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	byCID := map[cid.Cid]block{}
	for _, b := range f.records {
		byCID[b.cid] = b
	}
	f.records = f.records[:0]
	for _, e := range f.entries {
		f.records = append(f.records, byCID[e.cid])
	}
	store := &memStore{}
	data, err := tree.WriteDiffBlocks(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	f.nodes = store.blocks
	// put the MST root first
	slices.SortStableFunc(f.nodes, func(a, b block) int {
		return boolCmp(b.cid == *data, a.cid == *data)
	})
	f.commit = repo.Commit{DID: testDID, Version: repo.ATPROTO_REPO_VERSION, Data: *data, Rev: syntax.NewTIDNow(0).String()}
	f.resign(t, nil)
	return f
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// resign applies mutate to the commit, signs it and re-encodes the commit
// block. mutate may clear the signature afterwards via unsign.
func (f *fixture) resign(t testing.TB, mutate func(*repo.Commit)) {
	t.Helper()
	if mutate != nil {
		mutate(&f.commit)
	}
	if err := f.commit.Sign(f.priv); err != nil {
		t.Fatal(err)
	}
	f.root = cborBlock(t, f.commit.MarshalCBOR)
}

// withCommit returns a copy of f whose commit block is c, encoded as is.
func (f *fixture) withCommit(t testing.TB, c repo.Commit) *fixture {
	g := *f
	g.commit = c
	g.root = cborBlock(t, c.MarshalCBOR)
	return &g
}

// cborBlock encodes a value with its MarshalCBOR into a dag-cbor block.
func cborBlock(t testing.TB, marshal func(io.Writer) error) block {
	t.Helper()
	var buf bytes.Buffer
	if err := marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return dagCBOR(t, buf.Bytes())
}

func dagCBOR(t testing.TB, data []byte) block {
	t.Helper()
	c, err := cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256).Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return block{c, data}
}

// recordBlock is a small post-like record naming its path.
func recordBlock(t testing.TB, path string) block {
	t.Helper()
	coll, _, _ := strings.Cut(path, "/")
	data, err := atdata.MarshalCBOR(map[string]any{
		"$type":     coll,
		"text":      "record at " + path,
		"createdAt": "2024-05-01T12:00:00.000Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	return dagCBOR(t, data)
}

var collections = []string{"app.bsky.feed.like", "app.bsky.feed.post", "app.bsky.graph.follow"}

// randomPaths returns n distinct repo paths with TID record keys, in
// random order.
func randomPaths(rng *rand.Rand, n int) []string {
	seen := map[string]bool{}
	var out []string
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for len(out) < n {
		tid := syntax.NewTID(base+rng.Int64N(365*24*3600*1e6), uint(rng.IntN(1024)))
		p := collections[rng.IntN(len(collections))] + "/" + tid.String()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// writeCAR encodes a CAR with go-car's header writer and frame writer.
func writeCAR(t testing.TB, version uint64, roots []cid.Cid, bs []block) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := car.WriteHeader(&car.CarHeader{Roots: roots, Version: version}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := util.LdWrite(&buf, b.cid.Bytes(), b.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// without returns bs minus the block with CID c.
func without(bs []block, c cid.Cid) []block {
	return slices.DeleteFunc(slices.Clone(bs), func(b block) bool { return b.cid == c })
}

// memStore is the blockstore WriteDiffBlocks writes MST nodes into; it
// keeps them in write order.
type memStore struct {
	blocks []block
}

var _ blockstore.Blockstore = (*memStore)(nil)

func (m *memStore) Put(_ context.Context, b blocks.Block) error {
	m.blocks = append(m.blocks, block{b.Cid(), b.RawData()})
	return nil
}

func (m *memStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	for _, b := range bs {
		_ = m.Put(ctx, b)
	}
	return nil
}

func (m *memStore) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	for _, b := range m.blocks {
		if b.cid == c {
			return blocks.NewBlockWithCid(b.data, c)
		}
	}
	return nil, fmt.Errorf("not found: %s", c)
}

func (m *memStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := m.Get(ctx, c)
	return err == nil, nil
}

func (m *memStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	b, err := m.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	return len(b.RawData()), nil
}

func (m *memStore) DeleteBlock(context.Context, cid.Cid) error { return nil }

func (m *memStore) AllKeysChan(context.Context) (<-chan cid.Cid, error) { return nil, nil }

func (m *memStore) HashOnRead(bool) {}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
