package testnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car"
)

// carWriter writes CAR v1 blocks and can cut the stream short or leave a
// record block out (PDS faults).
type carWriter struct {
	w          io.Writer
	blocks     int
	truncateAt int  // write only this many whole blocks, then half of the next; 0 = off
	skipRecord bool // leave out the first record block
	skipped    bool
}

var errCARTruncated = fmt.Errorf("testnet: CAR truncated on purpose")

func writeCARHeader(w io.Writer, root cid.Cid) error {
	return car.WriteHeader(&car.CarHeader{Roots: []cid.Cid{root}, Version: 1}, w)
}

// block writes one block (or its truncated head when the cut is reached).
func (cw *carWriter) block(c cid.Cid, data []byte) error {
	if cw.truncateAt > 0 && cw.blocks >= cw.truncateAt {
		return cw.cut(c, data)
	}
	cw.blocks++
	return writeBlock(cw.w, c, data)
}

// record writes a record block unless the missing-record fault drops it.
func (cw *carWriter) record(c cid.Cid, data []byte) error {
	if cw.skipRecord && !cw.skipped {
		cw.skipped = true
		return nil
	}
	return cw.block(c, data)
}

// cut writes the length prefix and half the content of a block, then
// stops the stream.
func (cw *carWriter) cut(c cid.Cid, data []byte) error {
	var whole bytes.Buffer
	if err := writeBlock(&whole, c, data); err != nil {
		return err
	}
	if _, err := cw.w.Write(whole.Bytes()[:whole.Len()/2]); err != nil {
		return err
	}
	return errCARTruncated
}

func writeBlock(w io.Writer, c cid.Cid, data []byte) error {
	cb := c.Bytes()
	var lenBuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lenBuf[:], uint64(len(cb)+len(data)))
	if _, err := w.Write(lenBuf[:n]); err != nil {
		return err
	}
	if _, err := w.Write(cb); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// commitCAR builds the CAR slice of a firehose #commit: the commit block,
// the changed MST nodes and the new record blocks.
func commitCAR(res *commitResult, commitCID cid.Cid, commitBytes []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeCARHeader(&buf, commitCID); err != nil {
		return nil, err
	}
	if err := writeBlock(&buf, commitCID, commitBytes); err != nil {
		return nil, err
	}
	for _, b := range res.nodes {
		if err := writeBlock(&buf, b.Cid(), b.RawData()); err != nil {
			return nil, err
		}
	}
	for _, op := range res.ops {
		if op.Action == ActionDelete {
			continue
		}
		if err := writeBlock(&buf, op.CID, op.CBOR); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// singleBlockCAR is a CAR holding one block, as #sync frames carry.
func singleBlockCAR(c cid.Cid, data []byte) []byte {
	var buf bytes.Buffer
	_ = writeCARHeader(&buf, c)
	_ = writeBlock(&buf, c, data)
	return buf.Bytes()
}

// repoSnapshot is a pinned commit of a repo that can be streamed while
// the repo keeps changing.
type repoSnapshot struct {
	commitCID   cid.Cid
	commitBytes []byte
	data        cid.Cid
	records     int
	store       *blockStore
	unpin       func()
}

// stream writes the whole repo as a CAR: the commit, then each MST node
// followed by its subtrees and record blocks in key order.
func (s *repoSnapshot) stream(w io.Writer, cw *carWriter) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw.w = bw
	if err := writeCARHeader(bw, s.commitCID); err != nil {
		return err
	}
	err := cw.block(s.commitCID, s.commitBytes)
	if err == nil {
		err = s.node(cw, s.data)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (s *repoSnapshot) node(cw *carWriter, c cid.Cid) error {
	raw := s.store.get(c)
	if raw == nil {
		return fmt.Errorf("testnet: MST node %s missing from store", c)
	}
	nd, err := mst.NodeDataFromCBOR(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := cw.block(c, raw); err != nil {
		return err
	}
	if nd.Left != nil {
		if err := s.node(cw, *nd.Left); err != nil {
			return err
		}
	}
	for _, e := range nd.Entries {
		if err := cw.record(e.Value, s.store.get(e.Value)); err != nil {
			return err
		}
		if e.Right != nil {
			if err := s.node(cw, *e.Right); err != nil {
				return err
			}
		}
	}
	return nil
}
