package testnet

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/http"
)

// Hostile getRepo faults: answers a PDS (or whatever sits in front of it)
// may give that are no CAR tap can use, or a CAR no client should hold.

const (
	// padChunk is the data size of one padding block.
	padChunk = 64 << 10
	// rawCIDLen is the length of a CIDv1 raw sha2-256 CID.
	rawCIDLen = 36
)

// rawCIDPrefix is CIDv1, raw codec, sha2-256, 32-byte digest.
var rawCIDPrefix = [4]byte{0x01, 0x55, 0x12, 0x20}

// hostileHTML is the page of PDSFaultHTMLContentType: what a reverse proxy
// answers when the PDS behind it is down.
const hostileHTML = `<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>Bad Gateway</h1><p>The upstream server is unavailable. (injected fault)</p></body></html>
`

// serveHostile performs a hostile getRepo fault; it reports whether the
// request was answered (false: a hang was cleared, so the request should
// be served normally).
func (p *pdsHost) serveHostile(w http.ResponseWriter, req *http.Request, f PDSFault) bool {
	cleared, stopped := p.net.faults.hostileStart()
	cw := &countingWriter{w: w}
	defer func() { p.net.faults.hostileEnd(cw.n) }()
	p.net.log.Debug("hostile getRepo fault", "pds", p.index, "kind", f.Kind, "did", requestDID(req))
	switch f.Kind {
	case PDSFaultHang:
		select {
		case <-cleared:
			return false
		case <-req.Context().Done():
		case <-stopped:
		}
		return true
	case PDSFaultRedirectLoop:
		http.Redirect(w, req, req.URL.RequestURI(), http.StatusFound)
		return true
	case PDSFaultHTMLContentType:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(cw, hostileHTML)
		return true
	case PDSFaultJSONError200:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(cw, `{"error":"InternalServerError","message":"injected fault: an XRPC error with status 200"}`+"\n")
		return true
	}
	a, ok := p.net.repoParam(w, req, p, "did")
	if !ok {
		return true
	}
	snap, carw, err := a.snapshotForFault(PDSFaultNone)
	if err != nil {
		writeXRPCError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return true
	}
	defer snap.unpin()
	w.Header().Set("Content-Type", "application/vnd.ipld.car")
	w.WriteHeader(http.StatusOK)
	done := func() bool {
		select {
		case <-req.Context().Done():
			return true
		case <-stopped:
			return true
		default:
			return false
		}
	}
	switch f.Kind {
	case PDSFaultStallBody:
		var whole bytes.Buffer
		if err := snap.stream(&whole, carw); err != nil {
			return true
		}
		half := max(1, whole.Len()/2)
		if _, err := cw.Write(whole.Bytes()[:half]); err != nil {
			return true
		}
		_ = http.NewResponseController(w).Flush()
		select {
		case <-cleared:
			_, _ = cw.Write(whole.Bytes()[half:])
		case <-req.Context().Done():
		case <-stopped:
		}
	case PDSFaultGiganticCAR, PDSFaultInfiniteCAR:
		size := f.Size
		if size == 0 {
			size = DefaultGiganticCARSize
		}
		if f.Kind == PDSFaultInfiniteCAR {
			size = -1
		}
		if err := snap.stream(cw, carw); err != nil {
			return true
		}
		if err := writePadding(cw, size, done); err != nil {
			p.net.log.Debug("padded getRepo ended", "did", a.did, "bytes", cw.n, "err", err)
		}
	}
	return true
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writePadding appends distinct valid raw blocks to a CAR already written
// to cw until cw has taken size bytes in all (size < 0: forever), or until
// done reports true or a write fails. The total is exact when size is at
// least 128 KiB past what cw held; a smaller gap is filled as closely as
// one block allows.
func writePadding(cw *countingWriter, size int64, done func() bool) error {
	bw := bufio.NewWriterSize(cw, 64<<10)
	data := make([]byte, 2*padChunk)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var block [binary.MaxVarintLen64 + rawCIDLen]byte
	for seq := uint64(0); ; seq++ {
		if seq%16 == 0 && done() {
			return io.ErrClosedPipe
		}
		left := size - cw.n - int64(bw.Buffered())
		var d int
		switch {
		case size < 0 || left >= 2*padChunk:
			d = padChunk
		default:
			fit, ok := padFit(left)
			if !ok {
				return bw.Flush()
			}
			d = fit
		}
		body := data[:d]
		binary.BigEndian.PutUint64(body[:8], seq) // every block distinct
		n := binary.PutUvarint(block[:], uint64(rawCIDLen+d))
		copy(block[n:], rawCIDPrefix[:])
		sum := sha256.Sum256(body)
		copy(block[n+4:], sum[:])
		if _, err := bw.Write(block[:n+rawCIDLen]); err != nil {
			return err
		}
		if _, err := bw.Write(body); err != nil {
			return err
		}
		if size >= 0 && left == int64(n+rawCIDLen+d) {
			return bw.Flush()
		}
	}
}

// padFit returns the data length of a raw block whose whole frame
// (varint, CID, data) takes exactly r bytes, if there is one that fits the
// padding buffer (data of at least 8 bytes, for the sequence number).
func padFit(r int64) (int, bool) {
	for vl := int64(1); vl <= 3; vl++ {
		d := r - rawCIDLen - vl
		if d >= 8 && d <= 2*padChunk && int64(uvarintLen(uint64(rawCIDLen+d))) == vl {
			return int(d), true
		}
	}
	return 0, false
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}
