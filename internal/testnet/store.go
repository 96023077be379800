package testnet

import (
	"context"
	"errors"
	"sync"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	blockstore "github.com/ipfs/go-ipfs-blockstore"
	ipld "github.com/ipfs/go-ipld-format"
)

// blockStore holds the immutable, content-addressed blocks (MST nodes and
// records) of one repo. Blocks are never changed, so a reader that pinned
// a commit can stream it while writers add newer blocks; garbage from old
// commits is compacted away only while no reader is pinned.
type blockStore struct {
	mu      sync.RWMutex
	blocks  map[cid.Cid][]byte
	readers int
	added   int // blocks added since the last compaction
	live    int // blocks kept by the last compaction
}

func newBlockStore() *blockStore {
	return &blockStore{blocks: make(map[cid.Cid][]byte)}
}

// get returns the bytes of c, or nil if absent.
func (s *blockStore) get(c cid.Cid) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.blocks[c]
}

// putAll adds blocks.
func (s *blockStore) putAll(bs []blocks.Block) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bs {
		if _, ok := s.blocks[b.Cid()]; !ok {
			s.blocks[b.Cid()] = b.RawData()
			s.added++
		}
	}
}

// putRaw adds one block without building a blocks.Block.
func (s *blockStore) putRaw(c cid.Cid, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blocks[c]; !ok {
		s.blocks[c] = data
		s.added++
	}
}

// settle marks every current block as live, so that a freshly bulk-built
// repo does not trigger a compaction on its next commit.
func (s *blockStore) settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = len(s.blocks)
	s.added = 0
}

// pin keeps every current block alive until the returned func is called.
func (s *blockStore) pin() (unpin func()) {
	s.mu.Lock()
	s.readers++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.readers--
			s.mu.Unlock()
		})
	}
}

// maybeCompact drops blocks unreachable from tree once enough garbage may
// have accumulated and no reader is pinned. The caller holds the repo lock,
// so tree is stable; head is the current commit block.
func (s *blockStore) maybeCompact(tree *mst.Tree, head cid.Cid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers > 0 || s.added < s.live+1024 {
		return
	}
	keep := make(map[cid.Cid]struct{}, len(s.blocks))
	markReachable(tree.Root, keep)
	keep[head] = struct{}{}
	for c := range s.blocks {
		if _, ok := keep[c]; !ok {
			delete(s.blocks, c)
		}
	}
	s.live = len(s.blocks)
	s.added = 0
}

// markReachable records the CIDs of n, its descendants and their values.
func markReachable(n *mst.Node, keep map[cid.Cid]struct{}) {
	if n == nil {
		return
	}
	if n.CID != nil {
		keep[*n.CID] = struct{}{}
	}
	for _, e := range n.Entries {
		if e.Value != nil {
			keep[*e.Value] = struct{}{}
		}
		if e.ChildCID != nil {
			keep[*e.ChildCID] = struct{}{}
		}
		markReachable(e.Child, keep)
	}
}

// diffBlocks collects the blocks mst.Tree.WriteDiffBlocks writes, in
// order. It implements only what that method uses.
type diffBlocks struct {
	list []blocks.Block
}

var _ blockstore.Blockstore = (*diffBlocks)(nil)

var errUnsupported = errors.New("testnet: diffBlocks supports Put only")

func (d *diffBlocks) Put(_ context.Context, b blocks.Block) error {
	d.list = append(d.list, b)
	return nil
}

func (d *diffBlocks) PutMany(_ context.Context, bs []blocks.Block) error {
	d.list = append(d.list, bs...)
	return nil
}

func (d *diffBlocks) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	for _, b := range d.list {
		if b.Cid() == c {
			return b, nil
		}
	}
	return nil, &ipld.ErrNotFound{Cid: c}
}

func (d *diffBlocks) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := d.Get(ctx, c)
	return err == nil, nil
}

func (d *diffBlocks) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	b, err := d.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	return len(b.RawData()), nil
}

func (d *diffBlocks) DeleteBlock(context.Context, cid.Cid) error { return errUnsupported }

func (d *diffBlocks) AllKeysChan(context.Context) (<-chan cid.Cid, error) {
	return nil, errUnsupported
}

func (d *diffBlocks) HashOnRead(bool) {}
