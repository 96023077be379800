package carstream_test

import (
	"bytes"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo"

	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// FuzzOpen feeds arbitrary bytes to Open and Walk: they may fail, never
// panic. Run longer with: go test -fuzz FuzzOpen ./internal/atproto/carstream/
func FuzzOpen(f *testing.F) {
	fx := newFixture(f, randomPaths(newRand(11), 20))
	valid := fx.car(f)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(writeCAR(f, 1, nil, fx.blocks()))
	h := keysAt(f, keyFormat, 1, 0, 0)
	f.Add(craftedCAR(f, nodeSpec{left: leaf(h[1]), entries: []entrySpec{{key: h[0], right: leaf(h[2])}}}, nil))
	f.Add([]byte{0x0a, 0xa2, 0x65, 0x72, 0x6f, 0x6f, 0x74, 0x73, 0x80, 0x67, 0x76})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := carstream.Open(t.Context(), bytes.NewReader(data), carstream.Options{Dir: dir, MaxBlockSize: 1 << 16})
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.WalkRecords(t.Context(), func(string, cid.Cid, []byte) error { return nil })
	})
}

// FuzzTree fuzzes the MST nodes rather than the CAR framing: the fuzzer's
// bytes become a root node and a second node, wrapped in a valid signed
// CAR with matching CIDs, so the walk's decoding and checks are reached.
func FuzzTree(f *testing.F) {
	h := keysAt(f, keyFormat, 1, 0, 0)
	child := mustNodeBytes(f, leaf(h[2]))
	var recs []block
	for _, k := range h {
		recs = append(recs, recordBlock(f, k))
	}
	f.Add(mustNodeBytes(f, leaf(h[0])), child)
	f.Add(mustNodeBytes(f, &nodeSpec{left: leaf(h[1]), entries: []entrySpec{{key: h[0]}}}), child)
	f.Add([]byte{0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6}, child)
	dir, priv := f.TempDir(), newKey(f)
	f.Fuzz(func(t *testing.T, root, second []byte) {
		fx := &fixture{priv: priv, nodes: []block{dagCBOR(t, root), dagCBOR(t, second)}, records: recs}
		fx.commit = repo.Commit{DID: testDID, Version: repo.ATPROTO_REPO_VERSION, Data: fx.nodes[0].cid, Rev: "3kabcdefghijk"}
		fx.resign(t, nil)
		s, err := carstream.Open(t.Context(), bytes.NewReader(fx.car(t)), carstream.Options{Dir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		_ = s.WalkRecords(t.Context(), func(string, cid.Cid, []byte) error { return nil })
	})
}
