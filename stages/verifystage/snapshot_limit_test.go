package verifystage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car"
	"github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/atproto/carstream"
	"github.com/tapkit/tap/pipeline"
)

// paddedCAR is a CAR stream of a header and n distinct raw blocks of 1 KiB.
func paddedCAR(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	root, err := cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256).Sum([]byte{0xa0})
	require.NoError(t, err)
	require.NoError(t, car.WriteHeader(&car.CarHeader{Roots: []cid.Cid{root}, Version: 1}, &buf))
	for i := range n {
		data := make([]byte, 1024)
		binary.BigEndian.PutUint64(data, uint64(i))
		sum := sha256.Sum256(data)
		buf.Write(binary.AppendUvarint(nil, uint64(36+len(data))))
		buf.Write([]byte{0x01, 0x55, 0x12, 0x20})
		buf.Write(sum[:])
		buf.Write(data)
	}
	return buf.Bytes()
}

// A snapshot CAR past max_car_bytes fails with an error naming the
// setting and its value, and the stage stops reading the stream there.
func TestSnapshotOverMaxCARBytes(t *testing.T) {
	fx := newCommitFixture(t)
	fx.stage.cfg.MaxCARBytes = 16 << 10
	body := &countingReader{r: bytes.NewReader(paddedCAR(t, 1024))}
	ev := &pipeline.Event{Kind: pipeline.KindSnapshot, DID: testDID,
		Snapshot: &pipeline.Snapshot{CAR: body, Source: "pds.example"}}
	err := fx.stage.Process(t.Context(), ev, func(context.Context, *pipeline.Event) error { return nil })
	require.ErrorIs(t, err, carstream.ErrTooLarge)
	require.EqualError(t, err, fmt.Sprintf("repo CAR from pds.example: CAR exceeds max_car_bytes (%d bytes)", 16<<10))
	require.Less(t, body.n, int64(1<<20), "the stream was not read to its end")

	// other limits keep carstream's wording
	require.NoError(t, carLimit(nil))
	other := errors.New("x")
	require.Equal(t, other, carLimit(other))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
