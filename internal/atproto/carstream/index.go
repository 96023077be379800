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

// Packing of an index entry's ref: spill offset in the high bits, block
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

// entry locates one block in the spill file. key is the first 8 bytes of
// the digest; since a missing CID can be forged to share them, a lookup
// always compares the full CID stored in the spill file.
type entry struct {
	key uint64
	ref uint64 // offset<<sizeBits | data size
}

func newEntry(c []byte, off int64, size int) entry {
	return entry{key: digestKey(c), ref: uint64(off)<<sizeBits | uint64(size)}
}

// offset is where the block's CID starts in the spill file; its data follows.
func (e entry) offset() int64 { return int64(e.ref >> sizeBits) }

// size is the length of the block's data.
func (e entry) size() int { return int(e.ref & (1<<sizeBits - 1)) }

func digestKey[T string | []byte](c T) uint64 {
	var b [8]byte
	copy(b[:], c[4:12])
	return binary.BigEndian.Uint64(b[:])
}

// index maps digest keys to spill locations, sorted by key, with a bucket
// table over the top bits of the key (digests are uniform, so each bucket
// holds a handful of entries and a lookup scans a few cache lines).
type index struct {
	entries []entry
	shift   uint     // key >> shift is the bucket
	buckets []uint32 // entries of bucket b are entries[buckets[b]:buckets[b+1]]
}

// indexBuilder collects the entries while the stream is read. It writes
// them to a temporary file rather than growing a slice, so that the only
// copy ever in memory is the final one, allocated once at its exact size
// (growing by doubling would hold the old and the new slice at once and
// leave the garbage collector a heap of about five times the index).
type indexBuilder struct {
	tmp *spill
	w   *bufio.Writer
	n   int
	buf [entrySize]byte
}

// entrySize is the encoded size of an entry in the builder's file.
const entrySize = 16

func newIndexBuilder(dir string) (*indexBuilder, error) {
	tmp, err := newSpill(dir)
	if err != nil {
		return nil, err
	}
	return &indexBuilder{tmp: tmp, w: bufio.NewWriterSize(tmp.f, 64<<10)}, nil
}

func (b *indexBuilder) add(e entry) error {
	binary.LittleEndian.PutUint64(b.buf[:8], e.key)
	binary.LittleEndian.PutUint64(b.buf[8:], e.ref)
	if _, err := b.w.Write(b.buf[:]); err != nil {
		return fmt.Errorf("carstream: writing index file: %w", err)
	}
	b.n++
	return nil
}

// close removes the builder's file.
func (b *indexBuilder) close() error { return b.tmp.close() }

// build reads the entries back into one slice, sorts it and builds the
// bucket table.
func (b *indexBuilder) build() (index, error) {
	if err := b.w.Flush(); err != nil {
		return index{}, fmt.Errorf("carstream: writing index file: %w", err)
	}
	ix := index{entries: make([]entry, b.n)}
	r := bufio.NewReaderSize(io.NewSectionReader(b.tmp.f, 0, int64(b.n)*entrySize), 64<<10)
	for i := range ix.entries {
		if _, err := io.ReadFull(r, b.buf[:]); err != nil {
			return index{}, fmt.Errorf("carstream: reading index file: %w", err)
		}
		ix.entries[i] = entry{key: binary.LittleEndian.Uint64(b.buf[:8]), ref: binary.LittleEndian.Uint64(b.buf[8:])}
	}
	slices.SortFunc(ix.entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	ix.bucketize()
	return ix, nil
}

// bucketize builds the bucket table: about 8 entries per bucket.
func (ix *index) bucketize() {
	bits := uint(0)
	for bits < 24 && 8<<bits < len(ix.entries) {
		bits++
	}
	ix.shift = 64 - bits // a shift by 64 gives 0: one bucket
	ix.buckets = make([]uint32, 1<<bits+1)
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
