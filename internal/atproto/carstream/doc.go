// Package carstream reads a repo CAR (the body of com.atproto.sync.getRepo)
// in one pass over the stream and in bounded memory, verifying everything
// it reads.
//
// [Open] stores each block and keeps a compact in-memory index of about
// 16.5 bytes per block (8 bytes of digest, offset and size, and a bucket
// table). Blocks stay in memory while they add up to at most
// Options.MemoryBytes (1 MiB by default), in buffers pooled across
// snapshots: a typical repo (tens to a few thousand records) is verified
// and walked with no file and no system call, and in steady state without
// allocating its buffers. A CAR that grows past the threshold is moved to
// a temporary spill file mid-stream, and the rest follows it there; its
// index is then built once at its exact size. Memory is bounded either
// way, by the threshold plus the index: a repo of a million records
// (~280 MiB of CAR) is opened and walked with a peak RSS near 60 MiB,
// where indigo's repo.LoadRepoFromCAR needs over 1 GiB
// (TestBigRepoMemory). [Snapshot.Walk] streams the MST back from memory or
// from the spill file, holding only the path from the root to the current
// node. The spill file (and the index's scratch file while Open runs) is
// unlinked as soon as it is created where the OS allows it, so nothing is
// left behind even if the process dies; Close releases it, or returns the
// memory buffers to their pool.
//
// # What is verified
//
// A snapshot that [Open] returned and that [Snapshot.Walk] walked to the
// end without error satisfies every rule below; each rule has a test that
// fails if it breaks.
//
//  1. The header is CAR v1 with exactly one root, a CIDv1 dag-cbor
//     sha2-256 CID.
//  2. Every block frame is well formed (minimal unsigned varints, a CIDv1
//     sha2-256 dag-cbor or raw CID) and its bytes hash to its CID.
//  3. The stream is not truncated and stays within Options.MaxBytes,
//     Options.MaxBlockSize and Options.MaxBlocks.
//  4. The root block is present, decodes as indigo's repo.Commit and passes
//     Commit.VerifyStructure (version 3, DID syntax, rev TID, signature
//     present). The signature itself is checked by
//     [Snapshot.VerifySignature] with the key the caller resolved.
//  5. Every MST node the tree links to is present: partial trees are
//     rejected ([ErrPartialTree]).
//  6. The MST is consistent: keys strictly increasing across the whole
//     walk, every key a valid repo path (collection NSID "/" record key),
//     every key at the layer mst.HeightForKey gives it, no link below
//     layer 0, no empty node below the root and no root that is only a
//     link (the rules of indigo's Tree.Verify) ([ErrBadTree]).
//  7. Every record the tree points to is present in the CAR
//     ([ErrMissingRecord]).
//
// Block order in the CAR does not matter, extra blocks are allowed, and a
// block may appear more than once.
//
// Nothing here checks that the commit belongs to the DID that was asked
// for or that its rev is newer than a stored one: the caller compares
// [Snapshot.Commit] with what it expects.
package carstream
