package carstream

import "fmt"

// Defaults and hard limits of [Options].
const (
	// DefaultMaxBytes is the stream length cap when Options.MaxBytes is 0 (4 GiB).
	DefaultMaxBytes int64 = 4 << 30
	// DefaultMaxBlockSize is the block size cap when Options.MaxBlockSize is 0 (2 MiB).
	DefaultMaxBlockSize = 2 << 20
	// DefaultMaxBlocks is the block count cap when Options.MaxBlocks is 0
	// (16 Mi blocks, i.e. at most about 264 MiB of index; a repo of a
	// million records has about 1.27 Mi blocks).
	DefaultMaxBlocks = 16 << 20
	// DefaultMemoryBytes is the in-memory threshold when Options.MemoryBytes
	// is 0 (1 MiB). Typical repos (10 KB to 1 MB of CAR) then never touch
	// the disk, a CAR past it has some 3,000 blocks or more to spread the
	// cost of the spill file over, and each concurrent Open holds at most
	// this much of blocks in memory.
	DefaultMemoryBytes = 1 << 20

	// LimitMaxBytes is the largest accepted Options.MaxBytes (1 TiB): spill offsets are 40 bits.
	LimitMaxBytes int64 = 1<<offsetBits - 1
	// LimitMaxBlockSize is the largest accepted Options.MaxBlockSize (16 MiB - 1): block sizes are 24 bits.
	LimitMaxBlockSize = 1<<sizeBits - 1
	// LimitMaxBlocks is the largest accepted Options.MaxBlocks: index positions are 32 bits.
	LimitMaxBlocks int64 = 1<<32 - 1
)

// Options bounds what [Open] accepts. The zero value is usable.
type Options struct {
	// Dir is the directory of the spill file; "" means os.TempDir().
	Dir string
	// MemoryBytes is how many bytes of blocks (CIDs and data) Open keeps in
	// memory, in buffers pooled across snapshots, before it moves them to a
	// spill file under Dir and continues there; 0 means DefaultMemoryBytes,
	// a negative value spills from the first block. A CAR whose blocks fit
	// creates no file at all.
	MemoryBytes int
	// MaxBytes caps the length of the whole CAR stream in bytes; 0 means
	// DefaultMaxBytes. Exceeding it fails with ErrTooLarge.
	MaxBytes int64
	// MaxBlockSize caps the data of one block in bytes (the CID not
	// counted); 0 means DefaultMaxBlockSize. Exceeding it fails with
	// ErrTooLarge. Open holds one buffer of this size at most.
	MaxBlockSize int
	// MaxBlocks caps the number of blocks, which bounds the in-memory index
	// (about 16.5 bytes per block); 0 means DefaultMaxBlocks. Exceeding it
	// fails with ErrTooLarge.
	MaxBlocks int
}

// withDefaults fills zero fields and rejects out-of-range ones.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBlockSize == 0 {
		o.MaxBlockSize = DefaultMaxBlockSize
	}
	if o.MaxBlocks == 0 {
		o.MaxBlocks = DefaultMaxBlocks
	}
	if o.MemoryBytes == 0 {
		o.MemoryBytes = DefaultMemoryBytes
	}
	switch {
	case o.MaxBytes < 0 || o.MaxBytes > LimitMaxBytes:
		return o, fmt.Errorf("%w: MaxBytes %d not in 0..%d", ErrBadOptions, o.MaxBytes, LimitMaxBytes)
	case o.MaxBlockSize < 0 || o.MaxBlockSize > LimitMaxBlockSize:
		return o, fmt.Errorf("%w: MaxBlockSize %d not in 0..%d", ErrBadOptions, o.MaxBlockSize, LimitMaxBlockSize)
	case o.MaxBlocks < 0 || int64(o.MaxBlocks) > LimitMaxBlocks:
		return o, fmt.Errorf("%w: MaxBlocks %d not in 0..%d", ErrBadOptions, o.MaxBlocks, LimitMaxBlocks)
	}
	return o, nil
}
