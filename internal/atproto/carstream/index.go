package carstream

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// Supported CIDs are CIDv1, dag-cbor or raw, sha2-256: always 36 bytes
// in binary form, a 4-byte prefix and the digest.
const (
	cidLen       = 36
	codecDagCBOR = 0x71
	codecRaw     = 0x55
	mhSHA256     = 0x12
	sha256Len    = 0x20
)

// Packing of an index entry's ref: store offset in the high bits, block
// data size in the low bits.
const (
	sizeBits   = 24
	offsetBits = 64 - sizeBits
)

// supportedCID reports whether b is the binary form of a CIDv1 sha2-256
// CID with codec dag-cbor or raw.
func supportedCID[T string | []byte](b T) bool {
	return len(b) == cidLen && b[0] == 1 && (b[1] == codecDagCBOR || b[1] == codecRaw) &&
		b[2] == mhSHA256 && b[3] == sha256Len
}

// entry locates one block in the store. key is the first 8 bytes of the
// digest; since a missing CID can be forged to share them, a lookup always
// compares the full CID stored with the block.
type entry struct {
	key uint64
	ref uint64 // offset<<sizeBits | data size
}

func newEntry(c []byte, off int64, size int) entry {
	return entry{key: digestKey(c), ref: uint64(off)<<sizeBits | uint64(size)}
}

// offset is where the block's CID starts in the store; its data follows.
func (e entry) offset() int64 { return int64(e.ref >> sizeBits) }

// size is the length of the block's data.
func (e entry) size() int { return int(e.ref & (1<<sizeBits - 1)) }

func digestKey[T string | []byte](c T) uint64 {
	var b [8]byte
	copy(b[:], c[4:12])
	return binary.BigEndian.Uint64(b[:])
}

// index maps digest keys to store offsets, sorted by key, with a bucket
// table over the top bits of the key (digests are uniform, so each bucket
// holds a handful of entries and a lookup scans a few cache lines).
type index struct {
	entries []entry
	shift   uint     // key >> shift is the bucket
	buckets []uint32 // entries of bucket b are entries[buckets[b]:buckets[b+1]]
}

// indexBuilder collects the entries while the stream is read. While the
// blocks are held in memory so are the entries, in the snapshot's pooled
// buffer (one entry per 37 bytes or more of blocks, so the threshold
// bounds them too). Once the blocks spill, the entries go to a scratch
// file rather than a growing slice, so that for a large CAR the only copy
// ever in memory is the final one, allocated once at its exact size
// (growing by doubling would hold the old and the new slice at once and
// leave the garbage collector a heap of about five times the index).
type indexBuilder struct {
	mem *memBufs // entries are in mem.entries while in memory; nil once spilled
	tmp *spill
	w   *bufio.Writer
	n   int
	buf [entrySize]byte
}

// entrySize is the encoded size of an entry in the builder's file.
const entrySize = 16

// indexWriteBuffer is the size of the scratch file's buffers.
const indexWriteBuffer = 64 << 10

func (b *indexBuilder) add(e entry) error {
	b.n++
	if b.mem != nil {
		b.mem.entries = append(b.mem.entries, e)
		return nil
	}
	return b.write(e)
}

func (b *indexBuilder) write(e entry) error {
	binary.LittleEndian.PutUint64(b.buf[:8], e.key)
	binary.LittleEndian.PutUint64(b.buf[8:], e.ref)
	if _, err := b.w.Write(b.buf[:]); err != nil {
		return fmt.Errorf("carstream: writing index file: %w", err)
	}
	return nil
}

// spill creates the scratch file under dir, moves the entries held in
// memory to it and continues there. The caller returns the buffers to the
// pool.
func (b *indexBuilder) spill(dir string) error {
	tmp, err := newSpill(dir)
	if err != nil {
		return err
	}
	b.tmp, b.w = tmp, bufio.NewWriterSize(tmp.f, indexWriteBuffer)
	if b.mem != nil {
		for _, e := range b.mem.entries {
			if err := b.write(e); err != nil {
				return err
			}
		}
		b.mem = nil
	}
	return nil
}

// close removes the builder's file, if any.
func (b *indexBuilder) close() error {
	if b.tmp == nil {
		return nil
	}
	return b.tmp.close()
}

// build returns the index: in memory, the pooled entries sorted in place
// with a pooled bucket table; on disk, the entries read back into one
// slice of their exact size, sorted, and a fresh bucket table.
func (b *indexBuilder) build() (index, error) {
	var ix index
	if b.mem != nil {
		ix.entries = b.mem.entries
		ix.sortAndBucketize(b.mem.buckets)
		b.mem.buckets = ix.buckets
		return ix, nil
	}
	if err := b.w.Flush(); err != nil {
		return index{}, fmt.Errorf("carstream: writing index file: %w", err)
	}
	ix.entries = make([]entry, b.n)
	r := bufio.NewReaderSize(io.NewSectionReader(b.tmp.f, 0, int64(b.n)*entrySize), indexWriteBuffer)
	for i := range ix.entries {
		if _, err := io.ReadFull(r, b.buf[:]); err != nil {
			return index{}, fmt.Errorf("carstream: reading index file: %w", err)
		}
		ix.entries[i] = entry{key: binary.LittleEndian.Uint64(b.buf[:8]), ref: binary.LittleEndian.Uint64(b.buf[8:])}
	}
	ix.sortAndBucketize(nil)
	return ix, nil
}

// sortAndBucketize sorts the entries by key and builds the bucket table,
// in buf if it is large enough.
func (ix *index) sortAndBucketize(buf []uint32) {
	slices.SortFunc(ix.entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	ix.bucketize(buf)
}

// bucketize builds the bucket table, about 8 entries per bucket, in buf
// if it is large enough.
func (ix *index) bucketize(buf []uint32) {
	bits := uint(0)
	for bits < 24 && 8<<bits < len(ix.entries) {
		bits++
	}
	ix.shift = 64 - bits // a shift by 64 gives 0: one bucket
	if n := 1<<bits + 1; cap(buf) >= n {
		ix.buckets = buf[:n]
		clear(ix.buckets)
	} else {
		ix.buckets = make([]uint32, n)
	}
	for _, e := range ix.entries {
		ix.buckets[e.key>>ix.shift+1]++
	}
	for i := 1; i < len(ix.buckets); i++ {
		ix.buckets[i] += ix.buckets[i-1]
	}
}

// len is the number of entries.
func (ix *index) len() int { return len(ix.entries) }

// candidates returns the entries whose digest key is key (usually 0 or 1).
func (ix *index) candidates(key uint64) []entry {
	if len(ix.entries) == 0 {
		return nil
	}
	b := key >> ix.shift
	es := ix.entries[ix.buckets[b]:ix.buckets[b+1]]
	i, _ := slices.BinarySearchFunc(es, key, func(e entry, k uint64) int { return cmp.Compare(e.key, k) })
	j := i
	for j < len(es) && es[j].key == key {
		j++
	}
	return es[i:j]
}
