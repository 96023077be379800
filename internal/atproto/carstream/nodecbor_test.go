package carstream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// indigoNode is how MST nodes used to be decoded: indigo's generated
// decoder, then no trailing bytes and a re-encoding equal to the block.
// decodeNode must accept the same blocks and decode them the same.
func indigoNode(data []byte) (mst.NodeData, bool) {
	var nd mst.NodeData
	r := bytes.NewReader(data)
	if err := nd.UnmarshalCBOR(r); err != nil || r.Len() != 0 {
		return nd, false
	}
	var enc bytes.Buffer
	if err := nd.MarshalCBOR(&enc); err != nil || !bytes.Equal(enc.Bytes(), data) {
		return nd, false
	}
	return nd, true
}

// checkDecodeNode fails if decodeNode and indigoNode disagree on data.
func checkDecodeNode(t testing.TB, data []byte) {
	t.Helper()
	want, wantOK := indigoNode(data)
	got, trailing, err := decodeNode(data, nil)
	if gotOK := err == nil && trailing == 0; gotOK != wantOK {
		t.Fatalf("%x: decodeNode accepts %v (%v, %d trailing), indigo %v", data, gotOK, err, trailing, wantOK)
	}
	if !wantOK {
		return
	}
	if !sameLink(got.left, want.Left) || len(got.entries) != len(want.Entries) {
		t.Fatalf("%x: node %+v, indigo %+v", data, got, want)
	}
	for i, e := range got.entries {
		w := want.Entries[i]
		if e.prefixLen != w.PrefixLen || !bytes.Equal(e.keySuffix, w.KeySuffix) || e.value != w.Value || !sameLink(e.right, w.Right) {
			t.Fatalf("%x: entry %d %+v, indigo %+v", data, i, e, w)
		}
	}
}

func sameLink(c cid.Cid, p *cid.Cid) bool {
	if p == nil {
		return c == cid.Undef
	}
	return c == *p
}

// testNodes returns encoded MST nodes: generated ones of various shapes
// and some with unusual but canonical content.
func testNodes(t testing.TB) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	link := func(codec uint64) *cid.Cid {
		c, err := cid.NewPrefixV1(codec, multihash.SHA2_256).Sum([]byte(fmt.Sprint(rng.Int())))
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	v0, err := cid.NewPrefixV0(multihash.SHA2_256).Sum([]byte("v0"))
	if err != nil {
		t.Fatal(err)
	}
	var nodes []mst.NodeData
	for _, n := range []int{0, 1, 4, 12} {
		nd := mst.NodeData{Entries: []mst.EntryData{}}
		if n%2 == 0 {
			nd.Left = link(cid.DagCBOR)
		}
		for i := range n {
			e := mst.EntryData{PrefixLen: int64(rng.IntN(20)), KeySuffix: []byte(fmt.Sprintf("app.bsky.feed.post/%d", rng.Int())), Value: *link(cid.DagCBOR)}
			if i%3 == 1 {
				e.Right = link(cid.DagCBOR)
			}
			nd.Entries = append(nd.Entries, e)
		}
		nodes = append(nodes, nd)
	}
	nodes = append(nodes,
		mst.NodeData{Entries: []mst.EntryData{{PrefixLen: -5, KeySuffix: []byte{}, Value: v0, Right: &v0}}},
		mst.NodeData{Entries: []mst.EntryData{{PrefixLen: 1 << 40, KeySuffix: bytes.Repeat([]byte("k"), 300), Value: *link(cid.Raw)}}},
	)
	var out [][]byte
	for _, nd := range nodes {
		data, _, err := nd.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// TestDecodeNodeMatchesIndigo checks decodeNode against indigo on valid
// nodes and on every truncation and many single-byte changes of them.
func TestDecodeNodeMatchesIndigo(t *testing.T) {
	for _, data := range testNodes(t) {
		checkDecodeNode(t, data)
		checkDecodeNode(t, append(bytes.Clone(data), 0))
		for i := range data {
			checkDecodeNode(t, data[:i])
			for _, v := range []byte{0x00, 0x01, 0x17, 0x18, 0x19, 0x20, 0x40, 0x58, 0x60, 0x80, 0xa3, 0xd8, 0xf6, 0xf7, 0xff, data[i] ^ 1, data[i] + 1} {
				mut := bytes.Clone(data)
				mut[i] = v
				checkDecodeNode(t, mut)
			}
			// an inserted byte shifts the rest: catches unchecked lengths
			checkDecodeNode(t, slicesInsert(data, i, 0x00))
		}
	}
}

func slicesInsert(b []byte, i int, v byte) []byte {
	out := append(bytes.Clone(b[:i]), v)
	return append(out, b[i:]...)
}

// FuzzDecodeNode checks decodeNode against indigo on arbitrary bytes.
//
//	go test -fuzz FuzzDecodeNode ./internal/atproto/carstream/
func FuzzDecodeNode(f *testing.F) {
	for _, data := range testNodes(f) {
		f.Add(data)
	}
	f.Add([]byte{0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6})
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeNode(t, data) })
}
