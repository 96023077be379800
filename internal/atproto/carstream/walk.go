package carstream

import (
	"bytes"
	"context"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/ipfs/go-cid"
)

// Walk visits every record of the MST rooted at the commit's data, in key
// order, calling fn with its path ("collection/rkey") and CID. It streams:
// node blocks are read back from the spill file and only the path from the
// root to the current node is held. It verifies the tree as it goes (see
// the package documentation) and stops at the first violation, which wraps
// ErrPartialTree, ErrBadTree or ErrMissingRecord, or at the first error of
// fn or ctx, which it returns as is. Records visited before an error have
// already been passed to fn: a caller must not act on them until Walk
// returned nil.
func (s *Snapshot) Walk(ctx context.Context, fn func(path string, c cid.Cid) error) error {
	return s.walk(ctx, false, func(path string, c cid.Cid, _ []byte) error { return fn(path, c) })
}

// WalkRecords is Walk that also passes each record's DAG-CBOR bytes to fn.
// The bytes are only valid during the call; copy them to keep them.
func (s *Snapshot) WalkRecords(ctx context.Context, fn func(path string, c cid.Cid, data []byte) error) error {
	return s.walk(ctx, true, fn)
}

// walker is the state of one walk: the stack of nodes from the root to the
// current one and the last key visited.
type walker struct {
	s        *Snapshot
	withData bool
	fn       func(path string, c cid.Cid, data []byte) error

	stack      []frame
	last       []byte       // last key visited, across all nodes
	nodes      window       // read-ahead for MST nodes
	recs       window       // read-ahead for records
	enc        bytes.Buffer // re-encoding of the current node
	collection string       // last collection that passed NSID validation
	steps      int
}

// frame is one MST node on the walk's stack.
type frame struct {
	cid     cid.Cid
	entries []mst.EntryData
	next    int    // index of the next entry to visit
	height  int    // the node's layer
	key     []byte // the last key decoded in this node (keys are prefix-compressed per node)
}

func (s *Snapshot) walk(ctx context.Context, withData bool, fn func(string, cid.Cid, []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &walker{s: s, withData: withData, fn: fn, nodes: window{sp: s.spill}, recs: window{sp: s.spill}}
	if err := w.root(s.commit.Data); err != nil {
		return err
	}
	for len(w.stack) > 0 {
		if w.steps++; w.steps%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
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
	if e.Right == nil {
		return nil
	}
	return w.descend(*e.Right, top.height-1, top.cid)
}
