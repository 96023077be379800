package carstream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// nodeSpec describes a hand-made MST node, possibly inconsistent.
type nodeSpec struct {
	left    *nodeSpec
	leftCID *cid.Cid // a link to use instead of left
	entries []entrySpec
	raw     []byte // the node's bytes verbatim, instead of encoding it
}

// entrySpec is one entry of a nodeSpec.
type entrySpec struct {
	key    string
	prefix *int64   // prefix length to write instead of the computed one
	val    *cid.Cid // value instead of a generated record
	right  *nodeSpec
}

// crafted collects the blocks of a hand-made tree.
type crafted struct {
	t      testing.TB
	blocks []block
}

func (cr *crafted) node(ns *nodeSpec) cid.Cid {
	if ns.raw != nil {
		b := dagCBOR(cr.t, ns.raw)
		cr.blocks = append(cr.blocks, b)
		return b.cid
	}
	nd := mst.NodeData{Entries: []mst.EntryData{}, Left: ns.leftCID}
	if ns.left != nil {
		c := cr.node(ns.left)
		nd.Left = &c
	}
	prev := ""
	for _, e := range ns.entries {
		p := int64(mst.CountPrefixLen([]byte(prev), []byte(e.key)))
		if e.prefix != nil {
			p = *e.prefix
		}
		ed := mst.EntryData{PrefixLen: p, KeySuffix: []byte(e.key[min(int(p), len(e.key)):])}
		if e.val != nil {
			ed.Value = *e.val
		} else {
			rec := recordBlock(cr.t, e.key)
			cr.blocks = append(cr.blocks, rec)
			ed.Value = rec.cid
		}
		if e.right != nil {
			c := cr.node(e.right)
			ed.Right = &c
		}
		nd.Entries = append(nd.Entries, ed)
		prev = e.key
	}
	data, c, err := nd.Bytes()
	if err != nil {
		cr.t.Fatal(err)
	}
	cr.blocks = append(cr.blocks, block{*c, data})
	return *c
}

// craftedCAR encodes a signed repo whose MST is root, plus extra blocks.
func craftedCAR(t testing.TB, root nodeSpec, extra []block) []byte {
	t.Helper()
	cr := &crafted{t: t}
	data := cr.node(&root)
	f := &fixture{priv: newKey(t), nodes: cr.blocks, records: extra}
	f.commit = repo.Commit{DID: testDID, Version: repo.ATPROTO_REPO_VERSION, Data: data, Rev: syntax.NewTIDNow(0).String()}
	f.resign(t, nil)
	return f.car(t)
}

// keysAt returns keys built from format and a counter, ascending, the
// i-th of them at MST layer heights[i].
func keysAt(t testing.TB, format string, heights ...int) []string {
	t.Helper()
	var out []string
	for n := 0; len(out) < len(heights) && n < 1e6; n++ {
		k := fmt.Sprintf(format, n)
		if mst.HeightForKey([]byte(k)) == heights[len(out)] {
			out = append(out, k)
		}
	}
	if len(out) < len(heights) {
		t.Fatalf("no keys for heights %v", heights)
	}
	return out
}

const keyFormat = "app.bsky.feed.post/k%07d"

func keyAtHeight(t testing.TB, h, _ int) string { return keysAt(t, keyFormat, h)[0] }

func leaf(keys ...string) *nodeSpec {
	ns := &nodeSpec{}
	for _, k := range keys {
		ns.entries = append(ns.entries, entrySpec{key: k})
	}
	return ns
}

func TestCraftedTreeMatchesIndigo(t *testing.T) { forEachStore(t, testCraftedTreeMatchesIndigo) }

func testCraftedTreeMatchesIndigo(t *testing.T) {
	// a layer-2 root whose left subtree has no layer-1 key: the layer-1
	// node is only a link, which is canonical
	k := keysAt(t, keyFormat, 0, 2, 0, 1, 0)
	root := nodeSpec{
		left: &nodeSpec{left: leaf(k[0])},
		entries: []entrySpec{{key: k[1], right: &nodeSpec{
			left:    leaf(k[2]),
			entries: []entrySpec{{key: k[3], right: leaf(k[4])}},
		}}},
	}
	data := craftedCAR(t, root, nil)
	s := mustOpen(t, data)
	got, err := walk(t, s)
	if err != nil || len(got) != len(k) {
		t.Fatalf("Walk: %v, %v", got, err)
	}
	tree := mst.NewEmptyTree()
	for _, e := range got {
		if _, err := tree.Insert([]byte(e.path), e.cid); err != nil {
			t.Fatal(err)
		}
	}
	want, err := tree.RootCID()
	if err != nil {
		t.Fatal(err)
	}
	if *want != s.Commit().Data {
		t.Errorf("hand-made root %s, indigo builds %s", s.Commit().Data, want)
	}
}

func TestInconsistentTrees(t *testing.T) { forEachStore(t, testInconsistentTrees) }

func testInconsistentTrees(t *testing.T) {
	h00 := keysAt(t, keyFormat, 0, 0)
	h10 := keysAt(t, keyFormat, 1, 0)
	h01 := keysAt(t, keyFormat, 0, 1)
	h2 := keyAtHeight(t, 2, 0)
	three := int64(3)
	rawCID := cid.NewCidV1(cid.Raw, recordBlock(t, "x/y").cid.Hash())
	record := recordBlock(t, "app.bsky.feed.post/x")
	cases := map[string]struct {
		root    nodeSpec
		mention string
	}{
		"key at the wrong layer":     {*leaf(h10[0], h10[1]), "layer"},
		"child at the wrong layer":   {nodeSpec{left: leaf(h00[0]), entries: []entrySpec{{key: h2}}}, "layer"},
		"keys out of order":          {*leaf(h00[1], h00[0]), "not after"},
		"duplicate key":              {*leaf(h00[0], h00[0]), "not after"},
		"out of order across nodes":  {nodeSpec{left: leaf(h10[1]), entries: []entrySpec{{key: h10[0]}}}, "not after"},
		"right subtree out of range": {nodeSpec{entries: []entrySpec{{key: h01[1], right: leaf(h01[0])}}}, "not after"},
		"empty child":                {nodeSpec{left: &nodeSpec{}, entries: []entrySpec{{key: h10[0]}}}, "empty"},
		"root only a link":           {nodeSpec{left: leaf(h00[0])}, "only a link"},
		"link below layer 0":         {nodeSpec{entries: []entrySpec{{key: h00[0], right: leaf(h00[1])}}}, "layer 0"},
		"left link below layer 0":    {nodeSpec{left: leaf(h00[0]), entries: []entrySpec{{key: h00[1]}}}, "layer 0"},
		"first prefix not 0":         {nodeSpec{entries: []entrySpec{{key: h00[0], prefix: &three}}}, "prefix"},
		"prefix longer than key":     {nodeSpec{entries: []entrySpec{{key: h00[0]}, {key: h00[1], prefix: ptr(int64(len(h00[0]) + 1))}}}, "prefix"},
		"not CBOR":                   {nodeSpec{raw: []byte{0xff}}, ""},
		"a record as node":           {nodeSpec{raw: record.data}, "canonical"},
		"trailing bytes":             {nodeSpec{raw: append(mustNodeBytes(t, leaf(h00[0])), 0)}, "trailing"},
		"raw-codec node link":        {nodeSpec{leftCID: &rawCID, entries: []entrySpec{{key: h2}}}, "dag-cbor"},
	}
	for _, bad := range []string{"nocollection%07d", "app.bsky.feed.post/a b%07d", "app.bsky.feed.post/x/%07d", "not_nsid/%07d"} {
		cases["invalid path "+bad] = struct {
			root    nodeSpec
			mention string
		}{*leaf(keysAt(t, bad, 0)[0]), "key"}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := openAndWalk(t, craftedCAR(t, tc.root, nil))
			wantErr(t, err, carstream.ErrBadTree, tc.mention)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// mustNodeBytes encodes a leaf-only nodeSpec (the records are not kept).
func mustNodeBytes(t testing.TB, ns *nodeSpec) []byte {
	cr := &crafted{t: t}
	c := cr.node(ns)
	for _, b := range cr.blocks {
		if b.cid == c {
			return b.data
		}
	}
	t.Fatal("node not encoded")
	return nil
}

func TestCrossCheckWithIndigo(t *testing.T) { forEachStore(t, testCrossCheckWithIndigo) }

func testCrossCheckWithIndigo(t *testing.T) {
	f := newFixture(t, randomPaths(newRand(10), 2000))
	data := f.car(t)
	got, err := walk(t, mustOpen(t, data))
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := repo.LoadRepoFromCAR(context.Background(), bytesReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var want []entry
	err = r.MST.Walk(func(k []byte, c cid.Cid) error {
		want = append(want, entry{string(k), c})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("carstream walked %d entries, indigo %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("entry %d: carstream %v, indigo %v", i, got[i], want[i])
		}
	}
}
