package carstream

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

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
	if len(nd.entries) == 0 {
		if nd.left.Defined() {
			return fmt.Errorf("%w: root node %s has no entries, only a link", ErrBadTree, c)
		}
		return nil
	}
	first := &nd.entries[0]
	if first.prefixLen != 0 {
		return fmt.Errorf("%w: node %s: first entry has prefix length %d", ErrBadTree, c, first.prefixLen)
	}
	return w.push(c, nd, mst.HeightForKey(first.keySuffix))
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
func (w *walker) push(c cid.Cid, nd nodeData, h int) error {
	for {
		if len(nd.entries) == 0 && !nd.left.Defined() {
			return fmt.Errorf("%w: empty node %s below the root", ErrBadTree, c)
		}
		// reuse the slot's buffers: load decoded into its entries
		w.stack = slices.Grow(w.stack, 1)[:len(w.stack)+1]
		f := &w.stack[len(w.stack)-1]
		f.cid, f.entries, f.keys, f.next, f.height, f.key = c, nd.entries, nd.keys, 0, h, f.key[:0]
		if !nd.left.Defined() {
			return nil
		}
		if h == 0 {
			return fmt.Errorf("%w: node %s at layer 0 links to subtree %s", ErrBadTree, c, nd.left)
		}
		c, h = nd.left, h-1
		var err error
		if nd, err = w.load(c); err != nil {
			return err
		}
	}
}

// load reads and decodes the MST node c, into the buffers of the stack
// slot above the top, where push puts it.
func (w *walker) load(c cid.Cid) (nodeData, error) {
	k := c.KeyString()
	if !supportedCID(k) || k[1] != codecDagCBOR {
		return nodeData{}, fmt.Errorf("%w: node link %s is not a CIDv1 dag-cbor sha2-256 CID", ErrBadTree, c)
	}
	data, ok, err := w.s.read(k, &w.nodes, true)
	if err != nil {
		return nodeData{}, err
	}
	if !ok {
		return nodeData{}, fmt.Errorf("%w: node %s", ErrPartialTree, c)
	}
	var spare frame
	if n := len(w.stack); n < cap(w.stack) {
		spare = w.stack[:n+1][n]
	}
	nd, trailing, err := decodeNode(data, spare.entries)
	if err != nil {
		return nodeData{}, fmt.Errorf("%w: node %s is %w", ErrBadTree, c, err)
	}
	if trailing != 0 {
		return nodeData{}, fmt.Errorf("%w: node %s: %d trailing bytes", ErrBadTree, c, trailing)
	}
	nd.keys = spare.keys // kept with the slot for reuse
	if !w.inMemory {
		// data is the window's, which its next read overwrites
		nd.keys = copySuffixes(nd.entries, nd.keys)
	}
	w.nodeCount++
	return nd, nil
}

// copySuffixes copies the key suffixes of entries into buf (grown once if
// need be) and points them there.
func copySuffixes(entries []nodeEntry, buf []byte) []byte {
	n := 0
	for _, e := range entries {
		n += len(e.keySuffix)
	}
	buf = slices.Grow(buf[:0], n)
	for i := range entries {
		e := &entries[i]
		start := len(buf)
		buf = append(buf, e.keySuffix...)
		e.keySuffix = buf[start:len(buf):len(buf)]
	}
	return buf
}

// decodeKey rebuilds the full key of e from the previous key of the node.
func (f *frame) decodeKey(e *nodeEntry) error {
	if e.prefixLen < 0 || e.prefixLen > int64(len(f.key)) {
		return fmt.Errorf("%w: node %s: prefix length %d with a previous key of %d bytes", ErrBadTree, f.cid, e.prefixLen, len(f.key))
	}
	f.key = append(f.key[:e.prefixLen], e.keySuffix...)
	return nil
}

// visit checks the key just decoded in f and its record, then calls fn.
func (w *walker) visit(f *frame, e *nodeEntry) error {
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
	data, ok, err := w.s.read(e.value.KeyString(), &w.recs, w.withData)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s (%s)", ErrMissingRecord, path, e.value)
	}
	w.recordCount++
	return w.fn(path, e.value, data)
}

// checkPath validates a repo path with indigo's syntax rules. Keys arrive
// sorted, so collections come in runs: the NSID is checked once per run
// (and once per pooled walker, see nsidSet), and record keys by a byte
// scan equivalent to indigo's regexp (FuzzRecordKey), leaving the last
// word (and the error) to syntax.ParseRecordKey when the scan says no.
func (w *walker) checkPath(path string) error {
	coll := w.collection
	if coll == "" || len(path) <= len(coll) || path[len(coll)] != '/' || path[:len(coll)] != coll {
		return w.checkFirstPath(path)
	}
	if rkey := path[len(coll)+1:]; !validRecordKey(rkey) {
		_, err := syntax.ParseRecordKey(rkey)
		return err
	}
	return nil
}

// checkFirstPath checks the first path of a run of keys and starts the
// run. A collection validated before only needs its record key checked:
// it then has exactly one "/", as syntax.ParseRepoPath requires.
func (w *walker) checkFirstPath(path string) error {
	if i := strings.IndexByte(path, '/'); i > 0 {
		if _, ok := w.nsids[path[:i]]; ok && validRecordKey(path[i+1:]) {
			w.collection = path[:i]
			return nil
		}
	}
	nsid, _, err := syntax.ParseRepoPath(path)
	if err != nil {
		return err
	}
	w.collection = nsid.String()
	w.nsids.add(w.collection)
	return nil
}

// nsidSet holds collections that passed syntax.ParseNSID, a regexp match
// worth skipping: a pooled walker keeps it across walks, and repos share
// their few collections. It holds at most maxKnownNSIDs.
type nsidSet map[string]struct{}

const maxKnownNSIDs = 64

func (ns *nsidSet) add(nsid string) {
	if *ns == nil || len(*ns) >= maxKnownNSIDs {
		*ns = make(nsidSet, maxKnownNSIDs)
	}
	(*ns)[strings.Clone(nsid)] = struct{}{}
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
