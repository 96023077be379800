package eventjson

import (
	"fmt"
	"sync"
)

// rawCodec is the multicodec of raw binary data, the only codec a blob ref may have.
const rawCodec = 0x55

// maxPooledEntries bounds the entry stacks kept for reuse, so that one record with huge maps
// does not pin its stack.
const maxPooledEntries = 4096

// entryStacks holds reusable renderer entry stacks (*[]entry).
var entryStacks = sync.Pool{New: func() any {
	s := make([]entry, 0, 64)
	return &s
}}

// AppendRecordData appends the atproto data-model JSON of the DAG-CBOR record rec to dst. If
// rec cannot be rendered faithfully, dst is returned unchanged with an error wrapping
// ErrUnrenderable that says why. It checks rec (checkCBOR), then renders it straight from the
// CBOR (renderer), without decoding it into Go values.
func AppendRecordData(dst []byte, rec []byte) ([]byte, error) {
	if err := checkCBOR(rec); err != nil {
		return dst, err
	}
	ents := entryStacks.Get().(*[]entry)
	r := renderer{b: rec, dst: dst, ents: (*ents)[:0]}
	_, n := r.next()
	err := r.object(int(n), true)
	if cap(r.ents) <= maxPooledEntries {
		*ents = r.ents
		entryStacks.Put(ents)
	}
	if err != nil {
		return dst, err
	}
	return r.dst, nil
}

// unrenderable returns an error wrapping ErrUnrenderable with the formatted reason.
func unrenderable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnrenderable, fmt.Sprintf(format, args...))
}
