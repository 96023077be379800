package eventjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/ipfs/go-cid"
)

// rawCodec is the multicodec of raw binary data, the only codec a blob ref may have.
const rawCodec = 0x55

// encoders holds reusable JSON encoders writing into their own buffers.
var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// AppendRecordData appends the atproto data-model JSON of the DAG-CBOR record rec to dst. If
// rec cannot be rendered faithfully, dst is returned unchanged with an error wrapping
// ErrUnrenderable that says why.
func AppendRecordData(dst []byte, rec []byte) ([]byte, error) {
	if err := checkCBOR(rec); err != nil {
		return dst, err
	}
	obj, err := atdata.UnmarshalCBOR(rec)
	if err != nil {
		return dst, unrenderable("%v", err)
	}
	if err := checkBlobs(obj); err != nil {
		return dst, err
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(obj); err != nil {
		return dst, unrenderable("%v", err)
	}
	out := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	if e.buf.Cap() > 1<<20 {
		e.buf = bytes.Buffer{} // do not keep the buffer of a huge record around
	}
	return append(dst, out...), nil
}

// checkBlobs walks decoded record data and checks every blob the way the client does: a typed
// blob needs a CIDv1 raw-codec ref and a mimeType containing "/"; legacy blobs (Size < 0)
// render as plain objects and pass. Negative sizes of typed blobs are caught by checkCBOR, so
// Size < 0 here always means a legacy blob.
func checkBlobs(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for _, val := range v {
			if err := checkBlobs(val); err != nil {
				return err
			}
		}
	case []any:
		for _, val := range v {
			if err := checkBlobs(val); err != nil {
				return err
			}
		}
	case atdata.Blob:
		if v.Size < 0 {
			return nil
		}
		ref := cid.Cid(v.Ref)
		if ref.Version() != 1 || ref.Type() != rawCodec {
			return unrenderable("blob ref %s is not a raw CIDv1", ref)
		}
		if !strings.Contains(v.MimeType, "/") {
			return unrenderable("blob mimeType %q has no /", v.MimeType)
		}
	}
	return nil
}

// unrenderable returns an error wrapping ErrUnrenderable with the formatted reason.
func unrenderable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnrenderable, fmt.Sprintf(format, args...))
}
