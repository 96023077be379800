package carstream

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// windowSize is how much of the spill file a window reads at once. Blocks
// of a repo CAR are mostly written in walk order, so one read usually
// serves the next several lookups.
const windowSize = 64 << 10

// window is a read-ahead view of the store for one walk. In memory it is
// the buffer itself: every read is a slice of it. On disk, a lookup that
// falls inside the last read is served from memory, otherwise windowSize
// bytes are read from its offset. Slices it returns are valid until its
// next read, and must not be modified.
type window struct {
	st  *store
	buf []byte
	off int64 // file offset of buf[0]
	big []byte
}

// reset points w at st, forgetting what it read; it keeps its buffer but
// not a big one.
func (w *window) reset(st *store) {
	w.st, w.buf, w.off, w.big = st, w.buf[:0], 0, nil
}

// read returns n bytes of the store at off.
func (w *window) read(off int64, n int) ([]byte, error) {
	if w.st.mem != nil {
		return w.st.memSlice(off, n)
	}
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off:][:n], nil
	}
	if n > windowSize {
		if cap(w.big) < n {
			w.big = make([]byte, n)
		}
		return w.big[:n], w.st.sp.readAt(w.big[:n], off)
	}
	if w.buf == nil {
		w.buf = make([]byte, windowSize)
	}
	got, err := w.st.sp.f.ReadAt(w.buf[:windowSize], off)
	w.buf, w.off = w.buf[:got], off
	if got >= n {
		return w.buf[:n], nil
	}
	w.buf = w.buf[:0]
	switch {
	case errors.Is(err, os.ErrClosed):
		return nil, ErrClosed
	case err == nil || err == io.EOF:
		return nil, fmt.Errorf("carstream: spill file: %d bytes at %d past its end", n, off)
	}
	return nil, fmt.Errorf("carstream: reading spill file: %w", err)
}
