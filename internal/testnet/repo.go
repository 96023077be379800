package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// Errors returned by record writes.
var (
	// ErrRecordExists: a create names a path that already holds a record.
	ErrRecordExists = errors.New("testnet: record already exists")
	// ErrRecordNotFound: an update or delete names a path with no record.
	ErrRecordNotFound = errors.New("testnet: record not found")
	// ErrDuplicatePath: one commit names the same path twice.
	ErrDuplicatePath = errors.New("testnet: duplicate path in one commit")
	// ErrAccountDeleted: the account was deleted; it takes no more writes.
	ErrAccountDeleted = errors.New("testnet: account deleted")
)

// repoState is one account's repository: the in-memory MST, the block
// store behind getRepo, and the current signed commit. The owning
// Account's mutex guards it.
type repoState struct {
	did         syntax.DID
	tree        mst.Tree
	store       *blockStore
	clock       *syntax.TIDClock
	rev         syntax.TID
	commitCID   cid.Cid
	commitBytes []byte
	data        cid.Cid
	count       int
	collections map[syntax.NSID]int
	paths       *pathIndex // lazily built for the load generator
	bulk        bool       // skip compaction while bulk-building
}

// commitResult is what one applied commit produced.
type commitResult struct {
	commit    repo.Commit // signed with the account key
	commitCID cid.Cid
	since     syntax.TID // previous rev ("" for the first commit)
	prevData  cid.Cid    // previous MST root (cid.Undef for the first commit)
	nodes     []blocks.Block
	ops       []Op
}

func newRepoState(did syntax.DID) *repoState {
	return &repoState{
		did:         did,
		tree:        mst.NewEmptyTree(),
		store:       newBlockStore(),
		clock:       syntax.NewTIDClock(0),
		collections: make(map[syntax.NSID]int),
	}
}

// applyWrites validates writes, applies them to the tree, stores the new
// blocks and signs a new commit with key. Nothing changes on error.
func (r *repoState) applyWrites(writes []Write, key atcrypto.PrivateKey) (*commitResult, error) {
	ops, err := r.prepareOps(writes)
	if err != nil {
		return nil, err
	}
	res := &commitResult{since: r.rev, prevData: r.data}
	for i := range ops {
		var val *cid.Cid
		if ops[i].Action != ActionDelete {
			val = &ops[i].CID
			r.store.putRaw(ops[i].CID, ops[i].CBOR)
		}
		if _, err := repo.ApplyOp(&r.tree, ops[i].Path(), val); err != nil {
			return nil, fmt.Errorf("testnet: apply op (tree now inconsistent): %w", err)
		}
		if r.tree.IsEmpty() {
			// indigo leaves an emptied root at its old height, and a later
			// insert then builds a non-canonical tree: start afresh.
			r.tree = mst.NewEmptyTree()
		}
		r.countOp(ops[i])
	}
	res.ops = ops
	if err := r.seal(res, key); err != nil {
		return nil, err
	}
	return res, nil
}

// unchanged reports whether the update w would store the record already
// at its path.
func (r *repoState) unchanged(w Write) bool {
	op, err := r.prepareOp(w)
	return err == nil && op.CID == op.Prev
}

// prepareOps checks writes against the current tree and encodes records.
func (r *repoState) prepareOps(writes []Write) ([]Op, error) {
	ops := make([]Op, 0, len(writes))
	seen := make(map[string]struct{}, len(writes))
	for _, w := range writes {
		op, err := r.prepareOp(w)
		if err != nil {
			return nil, err
		}
		if _, dup := seen[op.Path()]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicatePath, op.Path())
		}
		seen[op.Path()] = struct{}{}
		ops = append(ops, op)
	}
	return ops, nil
}

func (r *repoState) prepareOp(w Write) (Op, error) {
	op := Op{Action: w.Action, Collection: w.Collection, RKey: w.RKey}
	if err := validPath(op.Collection, op.RKey); err != nil {
		return op, err
	}
	if op.RKey == "" && w.Action == ActionCreate {
		op.RKey = syntax.RecordKey(r.clock.Next().String())
	}
	prev, err := r.tree.Get([]byte(op.Path()))
	if err != nil {
		return op, err
	}
	switch {
	case w.Action == ActionCreate && prev != nil:
		return op, fmt.Errorf("%w: %s", ErrRecordExists, op.Path())
	case w.Action != ActionCreate && prev == nil:
		return op, fmt.Errorf("%w: %s", ErrRecordNotFound, op.Path())
	case prev != nil:
		op.Prev = *prev
	}
	if w.Action == ActionDelete {
		return op, nil
	}
	if w.Action != ActionUpdate && w.Action != ActionCreate {
		return op, fmt.Errorf("testnet: unknown action %q", w.Action)
	}
	op.CBOR, op.CID, err = encodeRecord(w.Collection, w.Record)
	return op, err
}

// countOp keeps the record and per-collection counts and the path index.
func (r *repoState) countOp(op Op) {
	switch op.Action {
	case ActionCreate:
		r.count++
		r.collections[op.Collection]++
		r.paths.add(op.Path())
	case ActionDelete:
		r.count--
		if r.collections[op.Collection]--; r.collections[op.Collection] <= 0 {
			delete(r.collections, op.Collection)
		}
		r.paths.remove(op.Path())
	}
}

// seal writes the dirty MST nodes, signs the new commit and makes it the
// repo's head.
func (r *repoState) seal(res *commitResult, key atcrypto.PrivateKey) error {
	diff := &diffBlocks{}
	root, err := r.tree.WriteDiffBlocks(context.Background(), diff)
	if err != nil {
		return fmt.Errorf("testnet: write MST blocks: %w", err)
	}
	r.store.putAll(diff.list)
	res.nodes = diff.list
	res.commit = repo.Commit{
		DID:     r.did.String(),
		Version: repo.ATPROTO_REPO_VERSION,
		Data:    *root,
		Rev:     r.clock.Next().String(),
	}
	b, c, err := signCommit(&res.commit, key)
	if err != nil {
		return err
	}
	r.store.putRaw(c, b)
	res.commitCID = c
	r.rev, r.data, r.commitCID, r.commitBytes = syntax.TID(res.commit.Rev), *root, c, b
	if !r.bulk {
		r.store.maybeCompact(&r.tree, c)
	}
	return nil
}

// signCommit signs c with key and returns its DAG-CBOR bytes and CID.
func signCommit(c *repo.Commit, key atcrypto.PrivateKey) ([]byte, cid.Cid, error) {
	c.Sig = nil
	if err := c.Sign(key); err != nil {
		return nil, cid.Undef, fmt.Errorf("testnet: sign commit: %w", err)
	}
	buf := new(bytes.Buffer)
	if err := c.MarshalCBOR(buf); err != nil {
		return nil, cid.Undef, err
	}
	id, err := cborPrefix.Sum(buf.Bytes())
	return buf.Bytes(), id, err
}

// records returns every record of the repo in path order.
func (r *repoState) records() ([]Record, error) {
	out := make([]Record, 0, r.count)
	err := r.tree.Walk(func(key []byte, val cid.Cid) error {
		coll, rkey, err := splitPath(string(key))
		if err != nil {
			return err
		}
		out = append(out, Record{Collection: coll, RKey: rkey, CID: val, CBOR: r.store.get(val)})
		return nil
	})
	return out, err
}
