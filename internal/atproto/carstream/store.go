package carstream

import (
	"bufio"
	"bytes"
	"fmt"
	"sync"
)

// A snapshot's blocks live in memory while they fit in
// Options.MemoryBytes and in a spill file once they do not:
//
//   - Open starts in memory, with buffers from memPool: the blocks in
//     memBufs.blocks, the index entries in memBufs.entries.
//   - When the next block would take the blocks past MemoryBytes, Open
//     creates the spill file and the index's scratch file, copies what it
//     holds to them, returns the buffers to the pool and carries on on
//     disk. A block's offset is the same in memory and in the file.
//   - Reads of a snapshot held in memory are slices of its buffer, with no
//     copy and no system call; Close returns the buffers to the pool.
//
// So an Open holds at most MemoryBytes of blocks in memory, plus the index
// that both paths keep (about 16.5 bytes per block).

// spillWriteBuffer is the size of the spill file's write buffer.
const spillWriteBuffer = 256 << 10

// minMemBlocks is the first capacity of a fresh blocks buffer.
const minMemBlocks = 32 << 10

// memBufs are the buffers of a snapshot held in memory. They are pooled:
// in steady state an Open allocates none of them.
type memBufs struct {
	blocks  []byte
	entries []entry
	buckets []uint32
}

var memPool = sync.Pool{New: func() any { return new(memBufs) }}

// getMemBufs returns empty buffers from the pool.
func getMemBufs() *memBufs {
	m := memPool.Get().(*memBufs)
	m.blocks, m.entries, m.buckets = m.blocks[:0], m.entries[:0], m.buckets[:0]
	return m
}

// put returns m to the pool, dropping any buffer of more than
// max(limit, DefaultMemoryBytes) bytes, so that the pool only holds
// buffers of the size the threshold lets grow.
func (m *memBufs) put(limit int) {
	keep := max(limit, DefaultMemoryBytes)
	if cap(m.blocks) > keep {
		m.blocks = nil
	}
	if cap(m.entries)*entrySize > keep {
		m.entries = nil
	}
	if cap(m.buckets)*4 > keep {
		m.buckets = nil
	}
	memPool.Put(m)
}

// store holds a snapshot's blocks, each as its 36-byte CID followed by its
// data: in mem.blocks while in memory, then in a spill file.
type store struct {
	mem  *memBufs      // the snapshot's pooled buffers while in memory; nil once spilled
	sp   *spill        // the spill file, once created
	w    *bufio.Writer // buffers writes to sp while Open runs
	size int64         // bytes stored
}

// fits reports whether n more bytes may go to memory under limit.
func (st *store) fits(n, limit int) bool {
	return st.mem != nil && len(st.mem.blocks)+n <= limit
}

// add appends block c (its CID) with its data and returns its offset. In
// memory, the caller has checked that it fits under limit.
func (st *store) add(c, data []byte, limit int) (int64, error) {
	off := st.size
	st.size += int64(len(c) + len(data))
	if st.mem == nil {
		if _, err := st.w.Write(c); err != nil {
			return 0, fmt.Errorf("carstream: writing spill file: %w", err)
		}
		if _, err := st.w.Write(data); err != nil {
			return 0, fmt.Errorf("carstream: writing spill file: %w", err)
		}
		return off, nil
	}
	b := st.mem.blocks
	if need := len(b) + len(c) + len(data); need > cap(b) {
		// grow by doubling, but never past the threshold
		nb := make([]byte, len(b), min(max(2*cap(b), need, minMemBlocks), limit))
		copy(nb, b)
		b = nb
	}
	st.mem.blocks = append(append(b, c...), data...)
	return off, nil
}

// spill creates the spill file under dir, copies the blocks held in memory
// to it and continues there. The caller returns the buffers to the pool.
func (st *store) spill(dir string) error {
	sp, err := newSpill(dir)
	if err != nil {
		return err
	}
	st.sp, st.w = sp, bufio.NewWriterSize(sp.f, spillWriteBuffer)
	if st.mem != nil {
		_, err = st.w.Write(st.mem.blocks)
		st.mem = nil
	}
	if err != nil {
		return fmt.Errorf("carstream: writing spill file: %w", err)
	}
	return nil
}

// finish flushes the spill file's writer at the end of Open.
func (st *store) finish() error {
	if st.w == nil {
		return nil
	}
	err := st.w.Flush()
	st.w = nil
	if err != nil {
		return fmt.Errorf("carstream: writing spill file: %w", err)
	}
	return nil
}

// view returns n bytes at off: in memory, a slice of the buffer (which the
// caller must not modify) or with fresh a copy; on disk, a fresh slice.
func (st *store) view(off int64, n int, fresh bool) ([]byte, error) {
	if st.mem != nil {
		b, err := st.memSlice(off, n)
		if fresh && err == nil {
			b = bytes.Clone(b)
		}
		return b, err
	}
	b := make([]byte, n)
	return b, st.sp.readAt(b, off)
}

// memSlice returns n bytes of the blocks buffer at off.
func (st *store) memSlice(off int64, n int) ([]byte, error) {
	b := st.mem.blocks
	if off < 0 || off > int64(len(b)) || int64(n) > int64(len(b))-off {
		return nil, fmt.Errorf("carstream: %d bytes at %d past the end of %d stored", n, off, len(b))
	}
	return b[off : off+int64(n) : off+int64(n)], nil
}

// close removes the spill file, if any. The caller returns the buffers to
// the pool.
func (st *store) close() error {
	st.mem, st.w = nil, nil
	if st.sp == nil {
		return nil
	}
	return st.sp.close()
}
