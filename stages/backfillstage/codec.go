package backfillstage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	comatproto "github.com/bluesky-social/indigo/api/atproto"

	"github.com/tapkit/tap/pipeline"
)

// bytesWriter collects CBOR output.
type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// decodeBuffered turns a resync_buffers row back into a live commit event.
func decodeBuffered(data string) (*pipeline.Event, error) {
	var bc bufferedCommit
	if err := json.Unmarshal([]byte(data), &bc); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if bc.Version != 2 || bc.Commit == "" {
		return nil, errors.New("not a raw commit (written by another Tap version)")
	}
	raw, err := base64.StdEncoding.DecodeString(bc.Commit)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	var c comatproto.SyncSubscribeRepos_Commit
	if err := c.UnmarshalCBOR(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("commit CBOR: %w", err)
	}
	return &pipeline.Event{Kind: pipeline.KindCommit, Seq: bc.Seq, Live: true, Commit: &c}, nil
}
