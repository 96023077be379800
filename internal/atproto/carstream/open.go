package carstream

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// ctxCheckEvery is how many blocks or MST entries pass between two checks
// of the context.
const ctxCheckEvery = 1024

// Open reads a CAR v1 stream once: it checks the header, verifies that
// every block's bytes hash to its CID, stores the blocks and decodes and
// checks the commit named by the root.
//
// The blocks stay in memory while they add up to at most
// opts.MemoryBytes (1 MiB by default), in buffers pooled across
// snapshots, so a typical repo costs no file and no system call. Past
// that, Open moves them to a temporary spill file under opts.Dir and
// continues there. Memory stays bounded either way: a pooled 64 KiB read
// buffer, one block buffer of at most opts.MaxBlockSize, at most
// opts.MemoryBytes of blocks, a 256 KiB write buffer once spilled, and
// about 16.5 bytes of index per block.
//
// The MST is not read here: call [Snapshot.Walk] to verify it. The caller
// must Close the returned Snapshot.
func Open(ctx context.Context, r io.Reader, opts Options) (*Snapshot, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Snapshot{limit: opts.MemoryBytes}
	fr := newFrameReader(r, opts)
	err = s.load(ctx, fr)
	fr.release()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// load reads the whole stream into the store and the index, then loads
// the commit.
func (s *Snapshot) load(ctx context.Context, fr *frameReader) error {
	var ib indexBuilder
	defer func() { _ = ib.close() }()
	if s.limit < 0 {
		if err := s.spill(&ib, fr.opts.Dir); err != nil {
			return err
		}
	} else {
		s.bufs = getMemBufs()
		s.store.mem, ib.mem = s.bufs, s.bufs
	}
	root, err := fr.header()
	if err != nil {
		return err
	}
	for {
		if ib.n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c, data, err := fr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := s.add(&ib, c, data, fr.opts); err != nil {
			return err
		}
	}
	if err := s.store.finish(); err != nil {
		return err
	}
	s.bytes, s.blocks = fr.n, ib.n
	if s.idx, err = ib.build(); err != nil {
		return err
	}
	return s.loadCommit(root)
}

// add verifies one block's hash, stores it (moving the store to disk first
// if it would not fit in memory) and indexes it.
func (s *Snapshot) add(ib *indexBuilder, c, data []byte, opts Options) error {
	if sum := sha256.Sum256(data); string(sum[:]) != string(c[4:]) {
		return fmt.Errorf("%w: %s", ErrHashMismatch, cidString(c))
	}
	if ib.n >= opts.MaxBlocks {
		return limitError("MaxBlocks", int64(opts.MaxBlocks), "more than MaxBlocks (%d) blocks", opts.MaxBlocks)
	}
	if s.bufs != nil && !s.store.fits(len(c)+len(data), s.limit) {
		if err := s.spill(ib, opts.Dir); err != nil {
			return err
		}
	}
	off, err := s.store.add(c, data, s.limit)
	if err != nil {
		return err
	}
	return ib.add(newEntry(c, off, len(data)))
}

// spill moves the store and the index builder to files under dir and
// returns the memory buffers to the pool.
func (s *Snapshot) spill(ib *indexBuilder, dir string) error {
	if err := s.store.spill(dir); err != nil {
		return err
	}
	if err := ib.spill(dir); err != nil {
		return err
	}
	if s.bufs != nil {
		s.bufs.put(s.limit)
		s.bufs = nil
	}
	return nil
}

// cidString renders a supported CID's binary form for error messages.
func cidString[T string | []byte](b T) string {
	c, err := cid.Cast([]byte(b))
	if err != nil {
		return fmt.Sprintf("%x", []byte(b))
	}
	return c.String()
}
