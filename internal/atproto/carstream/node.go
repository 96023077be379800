package carstream

import (
	"bytes"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
)

// root loads the MST root and pushes it. A root with no entries and no
// link is the empty repo; a root that is only a link is not canonical.
func (w *walker) root(c cid.Cid) error {
	nd, err := w.load(c)
	if err != nil {
		return err
	}
	if len(nd.Entries) == 0 {
		if nd.Left != nil {
			return fmt.Errorf("%w: root node %s has no entries, only a link", ErrBadTree, c)
		}
		return nil
	}
	first := nd.Entries[0]
	if first.PrefixLen != 0 {
		return fmt.Errorf("%w: node %s: first entry has prefix length %d", ErrBadTree, c, first.PrefixLen)
	}
	return w.push(c, nd, mst.HeightForKey(first.KeySuffix))
}

// descend loads the subtree that parent links to; it must sit at layer h.
func (w *walker) descend(c cid.Cid, h int, parent cid.Cid) error {
	if h < 0 {
		return fmt.Errorf("%w: node %s at layer 0 links to subtree %s", ErrBadTree, parent, c)
	}
	nd, err := w.load(c)
	if err != nil {
		return err
	}
	return w.push(c, nd, h)
}

// push puts node nd (CID c, layer h) on the stack, then follows its left
// links down, pushing each node, so the top is the leftmost unvisited one.
func (w *walker) push(c cid.Cid, nd *mst.NodeData, h int) error {
	for {
		if len(nd.Entries) == 0 && nd.Left == nil {
			return fmt.Errorf("%w: empty node %s below the root", ErrBadTree, c)
		}
		w.stack = append(w.stack, frame{cid: c, entries: nd.Entries, height: h})
		if nd.Left == nil {
			return nil
		}
		if h == 0 {
			return fmt.Errorf("%w: node %s at layer 0 links to subtree %s", ErrBadTree, c, *nd.Left)
		}
		c, h = *nd.Left, h-1
		var err error
		if nd, err = w.load(c); err != nil {
			return err
		}
	}
}

// load reads and decodes the MST node c from the spill file.
func (w *walker) load(c cid.Cid) (*mst.NodeData, error) {
	k := c.KeyString()
	if !supportedCID(k) || k[1] != codecDagCBOR {
		return nil, fmt.Errorf("%w: node link %s is not a CIDv1 dag-cbor sha2-256 CID", ErrBadTree, c)
	}
	data, ok, err := w.s.read(k, &w.nodes, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: node %s", ErrPartialTree, c)
	}
	var nd mst.NodeData
	r := bytes.NewReader(data)
	if err := nd.UnmarshalCBOR(r); err != nil {
		return nil, fmt.Errorf("%w: node %s: %w", ErrBadTree, c, err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: node %s: %d trailing bytes", ErrBadTree, c, r.Len())
	}
	// Re-encoding must give the block back: this rejects missing, unknown
	// or repeated fields and non-canonical CBOR, which indigo's decoder
	// would otherwise accept (a record block would pass as an empty node).
	w.enc.Reset()
	if err := nd.MarshalCBOR(&w.enc); err != nil || !bytes.Equal(w.enc.Bytes(), data) {
		return nil, fmt.Errorf("%w: node %s is not a canonically encoded MST node", ErrBadTree, c)
	}
	w.s.nodes.Add(1)
	return &nd, nil
}

// decodeKey rebuilds the full key of e from the previous key of the node.
func (f *frame) decodeKey(e *mst.EntryData) error {
	if e.PrefixLen < 0 || e.PrefixLen > int64(len(f.key)) {
		return fmt.Errorf("%w: node %s: prefix length %d with a previous key of %d bytes", ErrBadTree, f.cid, e.PrefixLen, len(f.key))
	}
	f.key = append(f.key[:e.PrefixLen], e.KeySuffix...)
	return nil
}

// visit checks the key just decoded in f and its record, then calls fn.
func (w *walker) visit(f *frame, e *mst.EntryData) error {
	key := f.key
	if !mst.IsValidKey(key) {
		return fmt.Errorf("%w: node %s: key of %d bytes", ErrBadTree, f.cid, len(key))
	}
	if bytes.Compare(key, w.last) <= 0 {
		return fmt.Errorf("%w: node %s: key %q not after %q", ErrBadTree, f.cid, key, w.last)
	}
	if h := mst.HeightForKey(key); h != f.height {
		return fmt.Errorf("%w: node %s: key %q has layer %d in a node of layer %d", ErrBadTree, f.cid, key, h, f.height)
	}
	path := string(key)
	if err := w.checkPath(path); err != nil {
		return fmt.Errorf("%w: node %s: key %q: %w", ErrBadTree, f.cid, key, err)
	}
	w.last = append(w.last[:0], key...)
	data, ok, err := w.s.read(e.Value.KeyString(), &w.recs, w.withData)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s (%s)", ErrMissingRecord, path, e.Value)
	}
	w.s.records.Add(1)
	return w.fn(path, e.Value, data)
}

// checkPath validates a repo path with indigo's syntax rules. Keys arrive
// sorted, so collections come in runs: the NSID is checked once per run,
// and record keys by a byte scan equivalent to indigo's regexp
// (FuzzRecordKey), leaving the last word (and the error) to
// syntax.ParseRecordKey when the scan says no.
func (w *walker) checkPath(path string) error {
	coll := w.collection
	if coll == "" || len(path) <= len(coll) || path[len(coll)] != '/' || path[:len(coll)] != coll {
		nsid, _, err := syntax.ParseRepoPath(path)
		if err != nil {
			return err
		}
		w.collection = nsid.String()
		return nil
	}
	if rkey := path[len(coll)+1:]; !validRecordKey(rkey) {
		_, err := syntax.ParseRecordKey(rkey)
		return err
	}
	return nil
}

// validRecordKey reports whether s matches ^[a-zA-Z0-9_~.:-]{1,512}$ and
// is not "." or "..": the rules of syntax.ParseRecordKey.
func validRecordKey(s string) bool {
	if len(s) == 0 || len(s) > 512 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '~' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
