package carstream

import (
	"errors"
	"fmt"
)

// Errors returned by this package; test with errors.Is. An error about the
// CAR's content or the options wraps exactly one of them and names the
// offending CID, path or offset. Errors of the reader (a dropped
// connection), of the context and of the spill file are returned wrapped,
// without a sentinel.
var (
	// ErrTruncated means the stream ended inside the header or inside a block.
	ErrTruncated = errors.New("carstream: CAR truncated")
	// ErrBadHeader means the CAR header does not decode, is not version 1 or does not name exactly one dag-cbor root.
	ErrBadHeader = errors.New("carstream: invalid CAR header")
	// ErrBadBlock means a block frame is malformed: a bad varint, a frame too short, or a CID that is not CIDv1 sha2-256 dag-cbor or raw.
	ErrBadBlock = errors.New("carstream: invalid CAR block")
	// ErrHashMismatch means a block's bytes do not hash to its CID.
	ErrHashMismatch = errors.New("carstream: block does not match its CID")
	// ErrTooLarge means the CAR exceeds Options.MaxBytes, Options.MaxBlockSize or Options.MaxBlocks.
	ErrTooLarge = errors.New("carstream: CAR exceeds a size limit")
	// ErrNoCommit means the root block named by the header is not in the CAR.
	ErrNoCommit = errors.New("carstream: commit block missing")
	// ErrBadCommit means the commit block does not decode or fails its structure check.
	ErrBadCommit = errors.New("carstream: invalid commit")
	// ErrBadSignature means the commit signature does not verify with the given key.
	ErrBadSignature = errors.New("carstream: commit signature invalid")
	// ErrPartialTree means an MST node block that the tree links to is not in the CAR.
	ErrPartialTree = errors.New("carstream: MST node block missing (partial tree)")
	// ErrBadTree means the MST is inconsistent: a bad node, keys out of order or invalid, a key at the wrong layer.
	ErrBadTree = errors.New("carstream: invalid MST")
	// ErrMissingRecord means a record CID that the MST points to is not in the CAR.
	ErrMissingRecord = errors.New("carstream: record block missing")
	// ErrNotFound means Block was asked for a CID that is not in the CAR.
	ErrNotFound = errors.New("carstream: block not in CAR")
	// ErrBadOptions means Options holds a negative or out-of-range limit.
	ErrBadOptions = errors.New("carstream: invalid options")
	// ErrClosed means the Snapshot was used after Close.
	ErrClosed = errors.New("carstream: snapshot closed")
)

// LimitError is the error of a CAR past one of the limits of [Options]. It
// matches ErrTooLarge with errors.Is; errors.As gives the limit, so a caller
// can name its own setting ("max_car_bytes") in what it reports.
type LimitError struct {
	// Option is the field of Options that was exceeded: "MaxBytes",
	// "MaxBlockSize" or "MaxBlocks".
	Option string
	// Limit is the value of that field.
	Limit int64
	msg   string
}

func (e *LimitError) Error() string { return ErrTooLarge.Error() + ": " + e.msg }

// Is reports whether target is ErrTooLarge.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

func limitError(option string, limit int64, format string, args ...any) error {
	return &LimitError{Option: option, Limit: limit, msg: fmt.Sprintf(format, args...)}
}
