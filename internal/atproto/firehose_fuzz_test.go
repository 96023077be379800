package atproto

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/stretchr/testify/require"
	cbg "github.com/whyrusleeping/cbor-gen"
)

// FuzzDecodeFrame feeds arbitrary binary frames to the decoder of the read
// loop. The seed corpus in testdata/fuzz/FuzzDecodeFrame holds real relay
// frames (#commit, #identity, #account) from a testnet; regenerate them with
//
//	TAP_WRITE_FUZZ_CORPUS=1 go test -run TestWriteDecodeFrameCorpus ./internal/atproto/
//
// Every frame has exactly one outcome: an error (the read loop skips and
// counts it, or drops the connection for an error frame), a typed repo
// event with a valid DID, or nothing for #info and unknown types. An
// accepted event re-encodes to a frame that decodes to the same event, and
// no strict prefix of that frame is accepted.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range syntheticFrames(f) {
		f.Add(seed)
	}
	fh := NewFirehose(FirehoseOptions{})
	var fr frameReader
	received := time.Unix(1_767_225_600, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		before := fh.Stats()
		ev, ok, err := fh.decode(&fr, data, received)
		after := fh.Stats()
		var h events.EventHeader
		headerErr := h.UnmarshalCBOR(bytes.NewReader(data))
		switch {
		case err != nil:
			require.False(t, ok)
			require.Equal(t, FirehoseEvent{}, ev, "an error comes without an event")
			if headerErr != nil {
				require.NotErrorIs(t, err, errErrorFrame)
				return
			}
			require.Equal(t, h.Op == events.EvtKindErrorFrame, errors.Is(err, errErrorFrame),
				"only op -1 is an error frame: op %d, %v", h.Op, err)
		case !ok:
			require.NoError(t, headerErr)
			require.Equal(t, FirehoseEvent{}, ev, "a skipped frame carries no event")
			require.EqualValues(t, events.EvtKindMessage, h.Op)
			if h.MsgType == "#info" {
				require.Equal(t, before.Infos+1, after.Infos)
			} else {
				require.NotContains(t, []string{"#commit", "#sync", "#identity", "#account"}, h.MsgType)
				require.Equal(t, before.Ignored+1, after.Ignored)
			}
		default:
			require.NoError(t, headerErr)
			requireTypedEvent(t, h.MsgType, ev, received)
			requireRoundTrip(t, fh, h.MsgType, ev, received)
		}
	})
}

// requireTypedEvent checks that ev is one event of type t whose Seq and DID
// are those of its body.
func requireTypedEvent(t *testing.T, typ string, ev FirehoseEvent, received time.Time) {
	t.Helper()
	require.Equal(t, received, ev.Received)
	var seq int64
	var did string
	set := 0
	if ev.Commit != nil {
		set, seq, did = set+1, ev.Commit.Seq, ev.Commit.Repo
		require.Equal(t, "#commit", typ)
	}
	if ev.Sync != nil {
		set, seq, did = set+1, ev.Sync.Seq, ev.Sync.Did
		require.Equal(t, "#sync", typ)
	}
	if ev.Identity != nil {
		set, seq, did = set+1, ev.Identity.Seq, ev.Identity.Did
		require.Equal(t, "#identity", typ)
	}
	if ev.Account != nil {
		set, seq, did = set+1, ev.Account.Seq, ev.Account.Did
		require.Equal(t, "#account", typ)
	}
	require.Equal(t, 1, set, "exactly one body is set")
	require.Equal(t, seq, ev.Seq)
	require.Equal(t, did, ev.DID.String())
	_, err := syntax.ParseDID(ev.DID.String())
	require.NoError(t, err)
}

// requireRoundTrip re-encodes ev as a frame of type typ and checks that it
// decodes to the same event, and that its truncations are refused.
func requireRoundTrip(t *testing.T, fh *Firehose, typ string, ev FirehoseEvent, received time.Time) {
	t.Helper()
	frame, err := encodeFrame(typ, eventBody(ev))
	require.NoError(t, err, "an accepted event re-encodes")
	var fr frameReader
	again, ok, err := fh.decode(&fr, frame, received)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, reflect.DeepEqual(ev, again), "re-encoded event differs:\n%+v\n%+v", ev, again)
	for _, n := range []int{0, 1, len(frame) / 2, len(frame) - 1} {
		_, ok, err := fh.decode(&fr, frame[:n], received)
		require.False(t, ok, "prefix of %d of %d bytes accepted", n, len(frame))
		require.Error(t, err, "prefix of %d of %d bytes", n, len(frame))
	}
}

// eventBody returns the body that is set in ev.
func eventBody(ev FirehoseEvent) cbg.CBORMarshaler {
	switch {
	case ev.Commit != nil:
		return ev.Commit
	case ev.Sync != nil:
		return ev.Sync
	case ev.Identity != nil:
		return ev.Identity
	default:
		return ev.Account
	}
}

// encodeFrame renders a message frame: header {op: 1, t: typ} and body.
func encodeFrame(typ string, body cbg.CBORMarshaler) ([]byte, error) {
	var buf bytes.Buffer
	h := events.EventHeader{Op: events.EvtKindMessage, MsgType: typ}
	if err := h.MarshalCBOR(&buf); err != nil {
		return nil, err
	}
	if err := body.MarshalCBOR(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// syntheticFrames are seeds that the testnet does not send: #info, an
// error frame, an unknown type, an unknown op, an invalid DID, a header
// without body, a truncated frame and an empty one.
func syntheticFrames(tb testing.TB) [][]byte {
	tb.Helper()
	msg := "cursor is too old"
	did := "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	must := func(b []byte, err error) []byte {
		tb.Helper()
		require.NoError(tb, err)
		return b
	}
	info := must(encodeFrame("#info", &comatproto.SyncSubscribeRepos_Info{Name: "OutdatedCursor", Message: &msg}))
	identity := must(encodeFrame("#identity", &comatproto.SyncSubscribeRepos_Identity{Did: did, Seq: 7, Time: "2026-01-02T03:04:05.678Z"}))
	badDID := must(encodeFrame("#account", &comatproto.SyncSubscribeRepos_Account{Did: "not a did", Seq: 8, Active: true, Time: "2026-01-02T03:04:05.678Z"}))
	unknown := must(encodeFrame("#labels", &comatproto.SyncSubscribeRepos_Info{Name: "x"}))
	var errFrame, unknownOp, headerOnly bytes.Buffer
	require.NoError(tb, (&events.EventHeader{Op: events.EvtKindErrorFrame}).MarshalCBOR(&errFrame))
	require.NoError(tb, (&events.ErrorFrame{Error: "FutureCursor", Message: "cursor in the future"}).MarshalCBOR(&errFrame))
	require.NoError(tb, (&events.EventHeader{Op: 2, MsgType: "#commit"}).MarshalCBOR(&unknownOp))
	require.NoError(tb, (&events.EventHeader{Op: events.EvtKindMessage, MsgType: "#commit"}).MarshalCBOR(&headerOnly))
	return [][]byte{
		info, identity, badDID, unknown, errFrame.Bytes(), unknownOp.Bytes(), headerOnly.Bytes(),
		identity[:len(identity)-3], {},
	}
}

// TestWriteDecodeFrameCorpus writes real relay frames of
// BenchmarkDecodeFrame to the seed corpus of FuzzDecodeFrame. It runs only
// when TAP_WRITE_FUZZ_CORPUS is set, as it starts a testnet.
func TestWriteDecodeFrameCorpus(t *testing.T) {
	if os.Getenv("TAP_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set TAP_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz/FuzzDecodeFrame")
	}
	frames := benchFrames(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// commit-10ops is left out: the fuzzer minimizes every new input it
	// finds, and on a 20 kB frame that takes most of a short run.
	for _, name := range []string{"commit-1op", "identity", "account"} {
		frame := frames[name]
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "testnet-"+name), []byte(content), 0o644))
	}
}
