package carstream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// smallRepo is a fixture deep enough to have inner MST nodes.
func smallRepo(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(42, 42)), 120))
	if len(f.nodes) < 3 {
		t.Fatalf("fixture has only %d MST nodes", len(f.nodes))
	}
	return f
}

// frameStarts returns the offset of every block frame of a CAR.
func frameStarts(t testing.TB, data []byte) []int {
	t.Helper()
	var out []int
	for off := 0; off < len(data); {
		l, n := binary.Uvarint(data[off:])
		if n <= 0 {
			t.Fatalf("bad varint at %d", off)
		}
		if off > 0 {
			out = append(out, off)
		}
		off += n + int(l)
	}
	return out
}

func TestTruncated(t *testing.T) { forEachStore(t, testTruncated) }

func testTruncated(t *testing.T) {
	f := smallRepo(t)
	data := f.car(t)
	starts := frameStarts(t, data)
	first, last := starts[0], starts[len(starts)-1]
	cuts := map[string]int{
		"empty":                0,
		"inside header":        first / 2,
		"header only, partial": first - 1,
		"inside CID":           first + 10,
		"inside commit data":   starts[1] - 5,
		"inside a middle node": (starts[5] + starts[6]) / 2,
		"inside last block":    len(data) - 1,
		"inside last varint":   last + 1,
	}
	big := writeCAR(t, 1, []cid.Cid{f.root.cid}, []block{f.root, dagCBOR(t, bytes.Repeat([]byte{7}, 300))})
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) {
			d := data[:cut]
			if name == "inside last varint" {
				d = big[:len(big)-300-36-1]
			}
			_, err := open(t, d, carstream.Options{})
			wantErr(t, err, carstream.ErrTruncated)
		})
	}
	t.Run("at a frame boundary", func(t *testing.T) {
		// CAR has no end marker: a cut between frames looks complete, and
		// must then fail as a missing block.
		for _, s := range starts[1:] {
			err := openAndWalk(t, data[:s])
			if !errors.Is(err, carstream.ErrPartialTree) && !errors.Is(err, carstream.ErrMissingRecord) {
				t.Fatalf("cut at %d: %v", s, err)
			}
		}
	})
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReaderErrors(t *testing.T) { forEachStore(t, testReaderErrors) }

func testReaderErrors(t *testing.T) {
	data := smallRepo(t).car(t)
	netErr := errors.New("connection reset")
	_, err := carstream.Open(t.Context(), &errReader{data[:len(data)/2], netErr}, carstream.Options{Dir: t.TempDir(), MemoryBytes: memoryBytes(t)})
	if !errors.Is(err, netErr) || errors.Is(err, carstream.ErrTruncated) {
		t.Errorf("network error: %v", err)
	}
	_, err = carstream.Open(t.Context(), &errReader{data[:len(data)/2], io.ErrUnexpectedEOF}, carstream.Options{Dir: t.TempDir(), MemoryBytes: memoryBytes(t)})
	wantErr(t, err, carstream.ErrTruncated)
}

func TestHashMismatch(t *testing.T) { forEachStore(t, testHashMismatch) }

func testHashMismatch(t *testing.T) {
	f := smallRepo(t)
	for name, i := range map[string]int{"commit": 0, "node": 1, "record": len(f.blocks()) - 1} {
		t.Run(name, func(t *testing.T) {
			bs := f.blocks()
			b := bs[i]
			bad := bytes.Clone(b.data)
			bad[len(bad)/2] ^= 1
			bs[i] = block{b.cid, bad}
			_, err := open(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, bs), carstream.Options{})
			wantErr(t, err, carstream.ErrHashMismatch, b.cid.String())
		})
	}
}

func TestPartialTree(t *testing.T) { forEachStore(t, testPartialTree) }

func testPartialTree(t *testing.T) {
	f := smallRepo(t)
	for name, c := range map[string]cid.Cid{"root node": f.nodes[0].cid, "inner node": f.nodes[len(f.nodes)/2].cid} {
		t.Run(name, func(t *testing.T) {
			s := mustOpen(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, without(f.blocks(), c)))
			_, err := walk(t, s)
			wantErr(t, err, carstream.ErrPartialTree, c.String())
		})
	}
}

func TestMissingRecord(t *testing.T) { forEachStore(t, testMissingRecord) }

func testMissingRecord(t *testing.T) {
	f := smallRepo(t)
	e := f.entries[len(f.entries)/3]
	s := mustOpen(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, without(f.blocks(), e.cid)))
	_, err := walk(t, s)
	wantErr(t, err, carstream.ErrMissingRecord, e.path, e.cid.String())

	t.Run("forged CID sharing the index key", func(t *testing.T) {
		// The index keeps 8 digest bytes; a missing record whose CID was
		// forged to share them with a present block must still be missing.
		forged := forgeSamePrefix(t, f.records[0].cid)
		err := openAndWalk(t, craftedCAR(t, nodeSpec{entries: []entrySpec{{key: keyAtHeight(t, 0, 0), val: &forged}}}, []block{f.records[0]}))
		wantErr(t, err, carstream.ErrMissingRecord, forged.String())
	})
}

// forgeSamePrefix returns a dag-cbor CID whose digest starts like c's.
func forgeSamePrefix(t testing.TB, c cid.Cid) cid.Cid {
	t.Helper()
	d, err := multihash.Decode(c.Hash())
	if err != nil {
		t.Fatal(err)
	}
	digest := bytes.Clone(d.Digest)
	digest[31] ^= 0xff
	mh, err := multihash.Encode(digest, multihash.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagCBOR, mh)
}

func TestBadHeader(t *testing.T) { forEachStore(t, testBadHeader) }

func testBadHeader(t *testing.T) {
	f := smallRepo(t)
	other := f.records[0].cid
	raw := cid.NewCidV1(cid.Raw, f.root.cid.Hash())
	cases := map[string][]byte{
		"no root":     writeCAR(t, 1, nil, f.blocks()),
		"two roots":   writeCAR(t, 1, []cid.Cid{f.root.cid, other}, f.blocks()),
		"version 2":   writeCAR(t, 2, []cid.Cid{f.root.cid}, f.blocks()),
		"raw root":    writeCAR(t, 1, []cid.Cid{raw}, f.blocks()),
		"not CBOR":    append([]byte{3, 0xff, 0xff, 0xff}, f.car(t)...),
		"zero length": {0, 1, 2},
		"too long":    binary.AppendUvarint(nil, 1<<20),
		"bad varint":  {0x80, 0x00},
		"CBOR array":  {2, 0x81, 0x01},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, data, carstream.Options{})
			wantErr(t, err, carstream.ErrBadHeader)
		})
	}
}

func TestBadFrames(t *testing.T) { forEachStore(t, testBadFrames) }

func testBadFrames(t *testing.T) {
	f := smallRepo(t)
	head := writeCAR(t, 1, []cid.Cid{f.root.cid}, []block{f.root})
	v0, err := cid.NewPrefixV0(multihash.SHA2_256).Sum([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	sha512, err := cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_512).Sum([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"non-minimal varint":       {0x80, 0x00},
		"overlong varint":          bytes.Repeat([]byte{0xff}, 10),
		"zero-length frame":        {0},
		"frame shorter than a CID": append([]byte{5}, f.root.cid.Bytes()[:5]...),
		"CIDv0":                    frame(v0.Bytes(), []byte("x")),
		"sha2-512 CID":             frame(sha512.Bytes(), []byte("x")),
	}
	for name, tail := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, append(bytes.Clone(head), tail...), carstream.Options{})
			wantErr(t, err, carstream.ErrBadBlock)
		})
	}
}

func frame(c, data []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(len(c)+len(data)))
	return append(append(out, c...), data...)
}

func TestNoCommit(t *testing.T) { forEachStore(t, testNoCommit) }

func testNoCommit(t *testing.T) {
	f := smallRepo(t)
	_, err := open(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, f.blocks()[1:]), carstream.Options{})
	wantErr(t, err, carstream.ErrNoCommit, f.root.cid.String())
}

func TestBadCommit(t *testing.T) { forEachStore(t, testBadCommit) }

func testBadCommit(t *testing.T) {
	f := smallRepo(t)
	cases := map[string]func(*repo.Commit){
		"bad DID":      func(c *repo.Commit) { c.DID = "not-a-did" },
		"bad rev":      func(c *repo.Commit) { c.Rev = "notatid" },
		"no rev":       func(c *repo.Commit) { c.Rev = "" },
		"version 2":    func(c *repo.Commit) { c.Version = 2 },
		"no signature": func(c *repo.Commit) { c.Sig = nil },
		"data raw CID": func(c *repo.Commit) { c.Data = cid.NewCidV1(cid.Raw, c.Data.Hash()) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := f.commit
			mutate(&c)
			g := f.withCommit(t, c)
			_, err := open(t, g.car(t), carstream.Options{})
			wantErr(t, err, carstream.ErrBadCommit)
		})
	}
	t.Run("not a commit", func(t *testing.T) {
		_, err := open(t, writeCAR(t, 1, []cid.Cid{f.records[0].cid}, f.blocks()), carstream.Options{})
		wantErr(t, err, carstream.ErrBadCommit)
	})
	t.Run("trailing bytes", func(t *testing.T) {
		b := dagCBOR(t, append(bytes.Clone(f.root.data), 0x01))
		_, err := open(t, writeCAR(t, 1, []cid.Cid{b.cid}, append(f.blocks(), b)), carstream.Options{})
		wantErr(t, err, carstream.ErrBadCommit, "trailing")
	})
}

func TestLimits(t *testing.T) { forEachStore(t, testLimits) }

func testLimits(t *testing.T) {
	f := smallRepo(t)
	data := f.car(t)
	if _, err := open(t, data, carstream.Options{MaxBytes: int64(len(data))}); err != nil {
		t.Fatalf("exactly MaxBytes: %v", err)
	}
	_, err := open(t, data, carstream.Options{MaxBytes: int64(len(data)) - 1})
	wantErr(t, err, carstream.ErrTooLarge, "MaxBytes")
	for _, limit := range []int{10, frameStarts(t, data)[0], frameStarts(t, data)[1]} {
		_, err = open(t, data, carstream.Options{MaxBytes: int64(limit)})
		wantErr(t, err, carstream.ErrTooLarge, "MaxBytes")
	}

	largest := 0
	for _, b := range f.blocks() {
		largest = max(largest, len(b.data))
	}
	if _, err := open(t, data, carstream.Options{MaxBlockSize: largest}); err != nil {
		t.Fatalf("exactly MaxBlockSize: %v", err)
	}
	_, err = open(t, data, carstream.Options{MaxBlockSize: largest - 1})
	wantErr(t, err, carstream.ErrTooLarge, "MaxBlockSize")

	n := len(f.blocks())
	if _, err := open(t, data, carstream.Options{MaxBlocks: n}); err != nil {
		t.Fatalf("exactly MaxBlocks: %v", err)
	}
	_, err = open(t, data, carstream.Options{MaxBlocks: n - 1})
	wantErr(t, err, carstream.ErrTooLarge, "MaxBlocks")

	// the default block limit is 2 MiB
	huge := dagCBOR(t, make([]byte, carstream.DefaultMaxBlockSize+1))
	_, err = open(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, append(f.blocks(), huge)), carstream.Options{})
	wantErr(t, err, carstream.ErrTooLarge)

	for _, o := range []carstream.Options{{MaxBytes: -1}, {MaxBlockSize: -1}, {MaxBlocks: -1},
		{MaxBytes: carstream.LimitMaxBytes + 1}, {MaxBlockSize: carstream.LimitMaxBlockSize + 1}} {
		_, err = open(t, data, o)
		wantErr(t, err, carstream.ErrBadOptions)
	}
}
