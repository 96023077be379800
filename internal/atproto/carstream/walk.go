package carstream

import (
	"context"
	"sync"

	"github.com/ipfs/go-cid"
)

// Walk visits every record of the MST rooted at the commit's data, in key
// order, calling fn with its path ("collection/rkey") and CID. It streams:
// node blocks are read back from the store (memory or spill file) and only
// the path from the root to the current node is held. It verifies the tree as it goes (see
// the package documentation) and stops at the first violation, which wraps
// ErrPartialTree, ErrBadTree or ErrMissingRecord, or at the first error of
// fn or ctx, which it returns as is. Records visited before an error have
// already been passed to fn: a caller must not act on them until Walk
// returned nil.
func (s *Snapshot) Walk(ctx context.Context, fn func(path string, c cid.Cid) error) error {
	return s.walk(ctx, false, func(path string, c cid.Cid, _ []byte) error { return fn(path, c) })
}

// WalkRecords is Walk that also passes each record's DAG-CBOR bytes to fn.
// The bytes are only valid during the call and must not be modified; copy
// them to keep them.
func (s *Snapshot) WalkRecords(ctx context.Context, fn func(path string, c cid.Cid, data []byte) error) error {
	return s.walk(ctx, true, fn)
}

// walker is the state of one walk: the stack of nodes from the root to the
// current one and the last key visited. Walkers are pooled with their
// buffers, so that a walk in steady state allocates little but the paths
// and CIDs it yields.
type walker struct {
	s        *Snapshot
	withData bool
	inMemory bool // the store is in memory: its slices stay valid during the walk
	fn       func(path string, c cid.Cid, data []byte) error

	stack       []frame // slots above the top keep their buffers for reuse
	last        []byte  // last key visited, across all nodes
	nodes       window  // read-ahead for MST nodes
	recs        window  // read-ahead for records
	collection  string  // collection of the current run of keys
	nsids       nsidSet // collections that passed NSID validation
	steps       int
	nodeCount   int64 // added to the snapshot's Stats when the walk ends
	recordCount int64
}

// frame is one MST node on the walk's stack.
type frame struct {
	cid     cid.Cid
	entries []nodeEntry
	keys    []byte // on disk, the key suffixes of entries (in memory they alias the store)
	next    int    // index of the next entry to visit
	height  int    // the node's layer
	key     []byte // the last key decoded in this node (keys are prefix-compressed per node)
}

var walkerPool = sync.Pool{New: func() any { return new(walker) }}

// newWalker returns a pooled walker over s, reset; release gives it back.
func newWalker(s *Snapshot, withData bool, fn func(string, cid.Cid, []byte) error) *walker {
	w := walkerPool.Get().(*walker)
	w.s, w.withData, w.inMemory, w.fn = s, withData, s.store.mem != nil, fn
	w.stack, w.last, w.collection = w.stack[:0], w.last[:0], ""
	w.steps, w.nodeCount, w.recordCount = 0, 0, 0
	w.nodes.reset(&s.store)
	w.recs.reset(&s.store)
	return w
}

// release adds the walk's counts to the snapshot's and returns w to the
// pool, dropping its references to the snapshot and its data.
func (w *walker) release() {
	w.s.nodes.Add(w.nodeCount)
	w.s.records.Add(w.recordCount)
	w.s, w.fn = nil, nil
	slots := w.stack[:cap(w.stack)]
	for i := range slots {
		slots[i].cid = cid.Undef
		clear(slots[i].entries)
	}
	w.nodes.reset(nil)
	w.recs.reset(nil)
	walkerPool.Put(w)
}

func (s *Snapshot) walk(ctx context.Context, withData bool, fn func(string, cid.Cid, []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	w := newWalker(s, withData, fn)
	defer w.release()
	if err := w.root(s.commit.Data); err != nil {
		return err
	}
	for len(w.stack) > 0 {
		if w.steps++; w.steps%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// fn may have closed the snapshot: stop before the keys of the
		// stack, which may alias its returned buffer, are read
		if s.closed.Load() {
			return ErrClosed
		}
		if err := w.step(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// step visits the next entry of the node on top of the stack, then
// descends into the subtree to its right, or pops the node when done.
func (w *walker) step() error {
	top := &w.stack[len(w.stack)-1]
	if top.next == len(top.entries) {
		w.stack = w.stack[:len(w.stack)-1]
		return nil
	}
	e := &top.entries[top.next]
	top.next++
	if err := top.decodeKey(e); err != nil {
		return err
	}
	if err := w.visit(top, e); err != nil {
		return err
	}
	if !e.right.Defined() {
		return nil
	}
	return w.descend(e.right, top.height-1, top.cid)
}
