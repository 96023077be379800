package carstream

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/ipfs/go-cid"
)

// Snapshot is a verified CAR held in memory or in a spill file: its
// commit, its blocks and an index of them. After Open returns, its methods
// are safe for concurrent use, except Close, which must come last.
type Snapshot struct {
	store     store
	bufs      *memBufs // pooled buffers of store and idx while held in memory
	limit     int      // Options.MemoryBytes
	idx       index
	commit    repo.Commit
	commitCID cid.Cid
	bytes     int64
	blocks    int

	nodes     atomic.Int64
	records   atomic.Int64
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Stats counts what a Snapshot read. Nodes and Records add up over every
// walk of the snapshot.
type Stats struct {
	// Bytes is the length of the CAR stream.
	Bytes int64
	// Blocks is the number of blocks in the CAR, repeats included.
	Blocks int
	// Nodes is the number of MST nodes visited by walks.
	Nodes int64
	// Records is the number of records visited by walks.
	Records int64
}

// Close removes the spill file or returns the memory buffers to their
// pool; later reads fail with ErrClosed. It is idempotent.
func (s *Snapshot) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.store.close()
		s.idx = index{}
		if s.bufs != nil {
			s.bufs.put(s.limit)
			s.bufs = nil
		}
	})
	return s.closeErr
}

// Commit returns a copy of the decoded commit (the CAR's root block),
// which passed repo.Commit.VerifyStructure.
func (s *Snapshot) Commit() *repo.Commit {
	c := s.commit
	return &c
}

// CommitCID returns the CID of the commit block.
func (s *Snapshot) CommitCID() cid.Cid { return s.commitCID }

// VerifySignature checks the commit signature against pub; a mismatch
// wraps ErrBadSignature.
func (s *Snapshot) VerifySignature(pub atcrypto.PublicKey) error {
	if err := s.commit.VerifySignature(pub); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// Stats returns the counters of the snapshot.
func (s *Snapshot) Stats() Stats {
	return Stats{Bytes: s.bytes, Blocks: s.blocks, Nodes: s.nodes.Load(), Records: s.records.Load()}
}

// Block returns a copy of the data of block c (for example a record's
// DAG-CBOR bytes), or ErrNotFound.
func (s *Snapshot) Block(c cid.Cid) ([]byte, error) {
	data, ok, err := s.read(c.KeyString(), direct{st: &s.store, fresh: true}, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, c)
	}
	return data, nil
}

// storeReader reads n bytes of the store at off.
type storeReader interface {
	read(off int64, n int) ([]byte, error)
}

// direct is a storeReader that reads each block on its own: a fresh slice
// if fresh or from the spill file, else a slice of the memory buffer.
type direct struct {
	st    *store
	fresh bool
}

func (d direct) read(off int64, n int) ([]byte, error) { return d.st.view(off, n, d.fresh) }

// read finds the block whose CID has binary form k. With withData it
// returns the block's data, read through r; without, it only proves that
// the block is present. Candidates are confirmed by comparing the full CID
// stored with the block.
func (s *Snapshot) read(k string, r storeReader, withData bool) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	if !supportedCID(k) {
		return nil, false, nil
	}
	for _, e := range s.idx.candidates(digestKey(k)) {
		n := cidLen
		if withData {
			n += e.size()
		}
		b, err := r.read(e.offset(), n)
		if err != nil {
			return nil, false, err
		}
		if string(b[:cidLen]) == k {
			return b[cidLen:], true, nil
		}
	}
	return nil, false, nil
}

// loadCommit reads, decodes and checks the root block.
func (s *Snapshot) loadCommit(root cid.Cid) error {
	data, ok, err := s.read(root.KeyString(), direct{st: &s.store}, true)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: root %s", ErrNoCommit, root)
	}
	r := bytes.NewReader(data)
	if err := s.commit.UnmarshalCBOR(r); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadCommit, root, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrBadCommit, root, r.Len())
	}
	if err := s.commit.VerifyStructure(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadCommit, root, err)
	}
	if d := s.commit.Data; !supportedCID(d.KeyString()) || d.Prefix().Codec != codecDagCBOR {
		return fmt.Errorf("%w: %s: data %s is not a CIDv1 dag-cbor sha2-256 CID", ErrBadCommit, root, d)
	}
	s.commitCID = root
	return nil
}
