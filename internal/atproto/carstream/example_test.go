package carstream_test

import (
	"context"
	"fmt"
	"io"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// Example verifies a getRepo body for a DID whose signing key the caller
// resolved, then lists its records. Nothing visited may be acted on until
// Walk returned nil.
func Example() {
	var (
		ctx  = context.Background()
		body io.Reader          // the getRepo response body
		did  syntax.DID         // the DID that was asked for
		key  atcrypto.PublicKey // its atproto signing key
	)
	if body == nil {
		return // (an example: no network here)
	}
	snap, err := carstream.Open(ctx, body, carstream.Options{})
	if err != nil {
		return // ErrTruncated, ErrHashMismatch, ErrBadCommit, ErrTooLarge...
	}
	defer snap.Close()
	if snap.Commit().DID != did.String() {
		return // the PDS sent another repo
	}
	if err := snap.VerifySignature(key); err != nil {
		return // ErrBadSignature
	}
	err = snap.WalkRecords(ctx, func(path string, c cid.Cid, record []byte) error {
		fmt.Println(path, c, len(record))
		return nil
	})
	if err != nil {
		return // ErrPartialTree, ErrBadTree, ErrMissingRecord
	}
}
