package carstream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car"
)

// maxHeaderSize bounds the CAR header frame; a one-root header is ~60 bytes.
const maxHeaderSize = 64 << 10

var errBadVarint = errors.New("malformed varint")

// frameReader reads CAR v1 frames (an unsigned varint length, then that
// many bytes) from the stream, counting the bytes it consumes against the
// MaxBytes limit. It reuses one buffer for every frame. Frame readers are
// pooled, with their buffers.
type frameReader struct {
	br   *bufio.Reader
	n    int64 // bytes consumed so far
	opts Options
	buf  []byte
}

const (
	// readBufferSize is the size of the stream's read buffer.
	readBufferSize = 64 << 10
	// maxPooledFrame is the largest frame buffer kept with a pooled
	// frameReader; a larger one (a rare big block) is dropped.
	maxPooledFrame = 64 << 10
)

var frameReaderPool = sync.Pool{New: func() any {
	return &frameReader{br: bufio.NewReaderSize(nil, readBufferSize)}
}}

// newFrameReader returns a pooled frameReader reading r; release gives it
// back.
func newFrameReader(r io.Reader, opts Options) *frameReader {
	fr := frameReaderPool.Get().(*frameReader)
	fr.br.Reset(r)
	fr.n, fr.opts = 0, opts
	return fr
}

// release returns fr to the pool; it must not be used afterwards.
func (fr *frameReader) release() {
	fr.br.Reset(nil)
	if cap(fr.buf) > maxPooledFrame {
		fr.buf = nil
	}
	frameReaderPool.Put(fr)
}

// uvarint reads a minimally encoded unsigned varint of at most 9 bytes
// (the multiformats rule). It returns io.EOF only if the stream ended
// before its first byte.
func (fr *frameReader) uvarint() (uint64, error) {
	var v uint64
	for i := range 9 {
		b, err := fr.br.ReadByte()
		if err != nil {
			if err == io.EOF && i > 0 {
				return 0, fmt.Errorf("%w: inside a varint at offset %d", ErrTruncated, fr.n)
			}
			return 0, fr.streamErr(err)
		}
		fr.n++
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			if b == 0 && i > 0 {
				return 0, fmt.Errorf("%w: not minimally encoded at offset %d", errBadVarint, fr.n)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: longer than 9 bytes at offset %d", errBadVarint, fr.n)
}

// streamErr classifies an error of the underlying reader: an early end is
// a truncation, anything else (a network error) is passed on.
func (fr *frameReader) streamErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: at offset %d: %w", ErrTruncated, fr.n, err)
	}
	if err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("carstream: reading CAR at offset %d: %w", fr.n, err)
}

// body reads the next n bytes of a frame into the reusable buffer.
func (fr *frameReader) body(n int) ([]byte, error) {
	if cap(fr.buf) < n {
		fr.buf = make([]byte, n)
	}
	b := fr.buf[:n]
	got, err := io.ReadFull(fr.br, b)
	fr.n += int64(got)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("%w: %d of %d bytes of a frame at offset %d", ErrTruncated, got, n, fr.n)
	}
	if err != nil {
		return nil, fr.streamErr(err)
	}
	return b, nil
}

// reserve fails with ErrTooLarge if n more bytes would pass MaxBytes.
func (fr *frameReader) reserve(n uint64) error {
	if left := fr.opts.MaxBytes - fr.n; left < 0 || n > uint64(left) {
		return limitError("MaxBytes", fr.opts.MaxBytes, "more than MaxBytes (%d bytes)", fr.opts.MaxBytes)
	}
	return nil
}

// header reads the CAR header and returns its single root.
func (fr *frameReader) header() (cid.Cid, error) {
	l, err := fr.uvarint()
	switch {
	case err == io.EOF:
		return cid.Undef, fmt.Errorf("%w: empty stream", ErrTruncated)
	case errors.Is(err, errBadVarint):
		return cid.Undef, fmt.Errorf("%w: length: %w", ErrBadHeader, err)
	case err != nil:
		return cid.Undef, err
	case l == 0 || l > maxHeaderSize:
		return cid.Undef, fmt.Errorf("%w: length %d", ErrBadHeader, l)
	}
	if err := fr.reserve(l); err != nil {
		return cid.Undef, err
	}
	b, err := fr.body(int(l))
	if err != nil {
		return cid.Undef, err
	}
	return decodeHeader(b)
}

// decodeHeader decodes a header frame's bytes with go-car and checks it.
func decodeHeader(b []byte) (root cid.Cid, err error) {
	defer func() {
		// go-car decodes with refmt, which is not hardened against
		// hostile input; a panic there must not take the process down.
		if r := recover(); r != nil {
			root, err = cid.Undef, fmt.Errorf("%w: undecodable (%v)", ErrBadHeader, r)
		}
	}()
	framed := binary.AppendUvarint(make([]byte, 0, len(b)+binary.MaxVarintLen64), uint64(len(b)))
	framed = append(framed, b...)
	// a read buffer the size of the frame: bufio's default is 4 KiB
	h, err := car.ReadHeader(bufio.NewReaderSize(bytes.NewReader(framed), len(framed)))
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	if h.Version != 1 {
		return cid.Undef, fmt.Errorf("%w: version %d, want 1", ErrBadHeader, h.Version)
	}
	if len(h.Roots) != 1 {
		return cid.Undef, fmt.Errorf("%w: %d roots, want exactly 1", ErrBadHeader, len(h.Roots))
	}
	if r := h.Roots[0]; !supportedCID(r.KeyString()) || r.Prefix().Codec != codecDagCBOR {
		return cid.Undef, fmt.Errorf("%w: root %s is not a CIDv1 dag-cbor sha2-256 CID", ErrBadHeader, r)
	}
	return h.Roots[0], nil
}

// next reads one block frame and returns its CID (binary form) and data,
// both valid until the next call. It returns io.EOF at a clean end of the
// stream. It checks the frame's shape and limits, not the hash.
func (fr *frameReader) next() (c, data []byte, err error) {
	start := fr.n
	l, err := fr.uvarint()
	switch {
	case err == io.EOF:
		return nil, nil, io.EOF
	case errors.Is(err, errBadVarint):
		return nil, nil, fmt.Errorf("%w: frame length: %w", ErrBadBlock, err)
	case err != nil:
		return nil, nil, err
	case l < cidLen:
		return nil, nil, fmt.Errorf("%w: frame of %d bytes at offset %d is shorter than a CID", ErrBadBlock, l, start)
	case l-cidLen > uint64(fr.opts.MaxBlockSize):
		return nil, nil, limitError("MaxBlockSize", int64(fr.opts.MaxBlockSize), "block of %d bytes at offset %d is over MaxBlockSize (%d)", l-cidLen, start, fr.opts.MaxBlockSize)
	}
	if err := fr.reserve(l); err != nil {
		return nil, nil, err
	}
	b, err := fr.body(int(l))
	if err != nil {
		return nil, nil, err
	}
	if !supportedCID(b[:cidLen]) {
		return nil, nil, fmt.Errorf("%w: CID at offset %d is not CIDv1 sha2-256 dag-cbor or raw (prefix %x)", ErrBadBlock, start, b[:4])
	}
	return b[:cidLen], b[cidLen:], nil
}
