package carstream

import (
	"bufio"
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
// every block's bytes hash to its CID, spills the blocks to a temporary
// file under opts.Dir and decodes and checks the commit named by the root.
// Memory stays bounded: a 64 KiB read buffer, a 256 KiB write buffer, one
// block buffer of at most opts.MaxBlockSize and about 16.5 bytes of index
// per block.
//
// The MST is not read here: call [Snapshot.Walk] to verify it. The caller
// must Close the returned Snapshot.
func Open(ctx context.Context, r io.Reader, opts Options) (*Snapshot, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	sp, err := newSpill(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{spill: sp}
	if err := s.load(ctx, newFrameReader(r, opts)); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// load reads the whole stream into the spill file and the index, then
// loads the commit.
func (s *Snapshot) load(ctx context.Context, fr *frameReader) error {
	root, err := fr.header()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(s.spill.f, 256<<10)
	ib, err := newIndexBuilder(fr.opts.Dir)
	if err != nil {
		return err
	}
	defer func() { _ = ib.close() }()
	var off int64
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
		if err := add(w, ib, off, c, data, fr.opts.MaxBlocks); err != nil {
			return err
		}
		off += int64(len(c) + len(data))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("carstream: writing spill file: %w", err)
	}
	s.bytes = fr.n
	if s.idx, err = ib.build(); err != nil {
		return err
	}
	return s.loadCommit(root)
}

// add verifies one block's hash, appends it to the spill file at off and
// indexes it.
func add(w *bufio.Writer, ib *indexBuilder, off int64, c, data []byte, maxBlocks int) error {
	if sum := sha256.Sum256(data); string(sum[:]) != string(c[4:]) {
		return fmt.Errorf("%w: %s", ErrHashMismatch, cidString(c))
	}
	if ib.n >= maxBlocks {
		return fmt.Errorf("%w: more than MaxBlocks (%d) blocks", ErrTooLarge, maxBlocks)
	}
	if _, err := w.Write(c); err != nil {
		return fmt.Errorf("carstream: writing spill file: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("carstream: writing spill file: %w", err)
	}
	return ib.add(newEntry(c, off, len(data)))
}

// cidString renders a supported CID's binary form for error messages.
func cidString[T string | []byte](b T) string {
	c, err := cid.Cast([]byte(b))
	if err != nil {
		return fmt.Sprintf("%x", []byte(b))
	}
	return c.String()
}
