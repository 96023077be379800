package carstream_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car"
	"github.com/ipld/go-car/util"
	"github.com/multiformats/go-multihash"
)

// bulkItem is one key of a repo built in bulk.
type bulkItem struct {
	key    []byte
	val    cid.Cid
	height int
}

// buildMST writes the canonical MST of items (sorted, distinct keys)
// bottom-up, handing each node block to put as soon as it is encoded
// (children before parents), and returns the root CID. It builds the same
// tree as inserting the keys one by one into indigo's mst.Tree
// (TestBulkBuilderMatchesIndigo), in O(keys × layers) time.
func buildMST(items []bulkItem, put func(c cid.Cid, data []byte) error) (cid.Cid, error) {
	top := 0
	for _, it := range items {
		top = max(top, it.height)
	}
	return buildNode(items, top, put)
}

// buildNode builds the node at layer h holding items (all at layer <= h).
func buildNode(items []bulkItem, h int, put func(cid.Cid, []byte) error) (cid.Cid, error) {
	nd := mst.NodeData{Entries: []mst.EntryData{}}
	var prev []byte
	start := 0
	child := func(end int) error {
		if end == start {
			return nil
		}
		c, err := buildNode(items[start:end], h-1, put)
		if err != nil {
			return err
		}
		if len(nd.Entries) == 0 {
			nd.Left = &c
		} else {
			nd.Entries[len(nd.Entries)-1].Right = &c
		}
		return nil
	}
	for i, it := range items {
		if it.height != h {
			continue
		}
		if err := child(i); err != nil {
			return cid.Undef, err
		}
		p := mst.CountPrefixLen(prev, it.key)
		nd.Entries = append(nd.Entries, mst.EntryData{PrefixLen: int64(p), KeySuffix: it.key[p:], Value: it.val})
		prev, start = it.key, i+1
	}
	if err := child(len(items)); err != nil {
		return cid.Undef, err
	}
	data, c, err := nd.Bytes()
	if err != nil {
		return cid.Undef, err
	}
	return *c, put(*c, data)
}

// repoInfo describes a generated repo CAR.
type repoInfo struct {
	records int
	bytes   int64
	pub     atcrypto.PublicKey
}

// genRepoCAR writes a signed CAR of a repo with n records (likes, posts
// and follows with TID keys, record sizes like real ones) to out, using
// scratch as a temporary directory. Blocks go out as they are made; the
// commit, which needs the MST root, is written first by copying the body
// after it.
func genRepoCAR(tb testing.TB, n int, out io.Writer, scratch string) repoInfo {
	tb.Helper()
	body, err := os.Create(filepath.Join(scratch, "body"))
	if err != nil {
		tb.Fatal(err)
	}
	defer body.Close()
	bw := bufio.NewWriterSize(body, 1<<20)
	put := func(c cid.Cid, data []byte) error { return util.LdWrite(bw, c.Bytes(), data) }

	items := genItems(n)
	for i := range items {
		data := genRecord(tb, items[i].key, i)
		c, err := cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256).Sum(data)
		if err != nil {
			tb.Fatal(err)
		}
		items[i].val, items[i].height = c, mst.HeightForKey(items[i].key)
		if err := put(c, data); err != nil {
			tb.Fatal(err)
		}
	}
	root, err := buildMST(items, put)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		tb.Fatal(err)
	}
	priv := newKey(tb)
	commit := repo.Commit{DID: testDID, Version: repo.ATPROTO_REPO_VERSION, Data: root, Rev: syntax.NewTIDNow(0).String()}
	if err := commit.Sign(priv); err != nil {
		tb.Fatal(err)
	}
	var cb bytes.Buffer
	if err := commit.MarshalCBOR(&cb); err != nil {
		tb.Fatal(err)
	}
	cc := dagCBOR(tb, cb.Bytes())
	cw := &countWriter{w: out}
	err = car.WriteHeader(&car.CarHeader{Roots: []cid.Cid{cc.cid}, Version: 1}, cw)
	if err == nil {
		err = util.LdWrite(cw, cc.cid.Bytes(), cc.data)
	}
	if err == nil {
		_, err = body.Seek(0, io.SeekStart)
	}
	if err == nil {
		_, err = io.Copy(cw, body)
	}
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return repoInfo{records: n, bytes: cw.n, pub: pub}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// genItems returns n sorted keys: 45% likes, 35% posts, 20% follows, each
// collection with increasing TIDs.
func genItems(n int) []bulkItem {
	counts := []int{n * 45 / 100, n * 35 / 100}
	counts = append(counts, n-counts[0]-counts[1])
	clock := syntax.NewTIDClock(7)
	items := make([]bulkItem, 0, n)
	for ci, coll := range collections {
		for range counts[ci] {
			items = append(items, bulkItem{key: []byte(coll + "/" + clock.Next().String())})
		}
	}
	return items
}

// genRecord returns the DAG-CBOR of a record for key, ~100-250 bytes.
func genRecord(tb testing.TB, key []byte, i int) []byte {
	coll, _, _ := bytes.Cut(key, []byte("/"))
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(syntax.AtprotoDatetimeLayout)
	rec := map[string]any{"$type": string(coll), "createdAt": created}
	switch string(coll) {
	case "app.bsky.feed.like":
		rec["subject"] = map[string]any{
			"uri": fmt.Sprintf("at://did:plc:%024d/app.bsky.feed.post/3k%011d", i, i),
			"cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
		}
	case "app.bsky.feed.post":
		rec["text"] = fmt.Sprintf("post number %d: the quick brown fox jumps over the lazy dog, again and again", i)
		rec["langs"] = []any{"en"}
	default:
		rec["subject"] = fmt.Sprintf("did:plc:%024d", i)
	}
	data, err := atdata.MarshalCBOR(rec)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestBulkBuilderMatchesIndigo(t *testing.T) {
	for _, n := range []int{0, 1, 2, 17, 300, 2000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			paths := randomPaths(newRand(uint64(n)), n)
			f := newFixture(t, paths)
			items := make([]bulkItem, n)
			for i, e := range f.entries {
				items[i] = bulkItem{key: []byte(e.path), val: e.cid, height: mst.HeightForKey([]byte(e.path))}
			}
			var nodes int
			root, err := buildMST(items, func(cid.Cid, []byte) error { nodes++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if root != f.commit.Data || nodes != len(f.nodes) {
				t.Errorf("bulk root %s (%d nodes), indigo %s (%d nodes)", root, nodes, f.commit.Data, len(f.nodes))
			}
		})
	}
}

func TestGeneratedRepo(t *testing.T) { forEachStore(t, testGeneratedRepo) }

func testGeneratedRepo(t *testing.T) {
	var buf bytes.Buffer
	info := genRepoCAR(t, 3000, &buf, t.TempDir())
	s := mustOpen(t, buf.Bytes())
	if err := s.VerifySignature(info.pub); err != nil {
		t.Fatal(err)
	}
	got, err := walk(t, s)
	if err != nil || len(got) != info.records {
		t.Fatalf("walked %d of %d: %v", len(got), info.records, err)
	}
}
