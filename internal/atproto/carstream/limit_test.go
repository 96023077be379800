package carstream_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/tapkit/tap/internal/atproto/carstream"
)

// Each limit fails with a LimitError naming it, which is ErrTooLarge.
func TestLimitErrorNamesTheLimit(t *testing.T) {
	f := smallRepo(t)
	data := f.car(t)
	largest := 0
	for _, b := range f.blocks() {
		largest = max(largest, len(b.data))
	}
	for _, tc := range []struct {
		opts   carstream.Options
		option string
		limit  int64
	}{
		{carstream.Options{MaxBytes: int64(len(data)) - 1}, "MaxBytes", int64(len(data)) - 1},
		{carstream.Options{MaxBlockSize: largest - 1}, "MaxBlockSize", int64(largest - 1)},
		{carstream.Options{MaxBlocks: len(f.blocks()) - 1}, "MaxBlocks", int64(len(f.blocks()) - 1)},
	} {
		_, err := open(t, data, tc.opts)
		var le *carstream.LimitError
		if !errors.As(err, &le) || !errors.Is(err, carstream.ErrTooLarge) {
			t.Fatalf("%s: got %v, want a LimitError that is ErrTooLarge", tc.option, err)
		}
		if le.Option != tc.option || le.Limit != tc.limit {
			t.Errorf("got %s=%d, want %s=%d (%v)", le.Option, le.Limit, tc.option, tc.limit, err)
		}
	}
}

// endlessCAR is a valid CAR (a repo, then distinct raw blocks) that never
// ends; it counts what was read from it.
type endlessCAR struct {
	head []byte
	n    int64
	seq  uint64
	buf  []byte
}

func (e *endlessCAR) Read(p []byte) (int, error) {
	if len(e.buf) == 0 {
		if len(e.head) > 0 {
			e.buf, e.head = e.head, nil
		} else {
			data := make([]byte, 4096)
			binary.BigEndian.PutUint64(data, e.seq)
			e.seq++
			sum := sha256.Sum256(data)
			frame := binary.AppendUvarint(nil, uint64(36+len(data)))
			frame = append(frame, 0x01, 0x55, 0x12, 0x20)
			frame = append(append(frame, sum[:]...), data...)
			e.buf = frame
		}
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	e.n += int64(n)
	return n, nil
}

// An endless CAR stops at MaxBytes: Open reads no more than MaxBytes and
// one read buffer from the stream, and leaves no spill file behind.
func TestEndlessCARStopsAtMaxBytes(t *testing.T) {
	const limit = 8 << 20
	dir := t.TempDir()
	src := &endlessCAR{head: smallRepo(t).car(t)}
	_, err := carstream.Open(t.Context(), io.Reader(src), carstream.Options{Dir: dir, MaxBytes: limit, MemoryBytes: 64 << 10})
	var le *carstream.LimitError
	if !errors.As(err, &le) || le.Option != "MaxBytes" {
		t.Fatalf("got %v, want the MaxBytes limit", err)
	}
	if src.n > limit+128<<10 {
		t.Errorf("read %d bytes of the stream, limit %d", src.n, limit)
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("spill dir after the failure: %v %v", left, err)
	}
}
