package atproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
)

// errErrorFrame says the relay sent an error frame ({error, message}); the
// connection is dropped and re-dialled after a backoff delay.
var errErrorFrame = errors.New("relay sent an error frame")

// readLoop reads frames until the connection fails, an error frame arrives
// or handle fails. The read deadline is renewed before every read and by
// every pong or ping, so a stream that is silent for ReadTimeout is given
// up; time spent in handle (back-pressure) does not count against it.
//
// floor is the cursor the connection was opened with (0: live head): an
// event whose seq is not above floor and above every seq handled on this
// connection is a replay from a misbehaving relay (old frames re-sent, or
// seqs going backwards). It is counted, logged (rate-limited) and skipped,
// so it neither costs the pipeline work nor moves the resume cursor back;
// a commit lost that way shows as a broken chain on the repo's next commit,
// which resyncs it.
func (f *Firehose) readLoop(ctx context.Context, conn *websocket.Conn, floor int64, handle func(context.Context, FirehoseEvent) error) (delivered bool, err error) {
	f.installControlHandlers(conn)
	var buf bytes.Buffer
	var fr frameReader
	for {
		if err := conn.SetReadDeadline(time.Now().Add(f.opts.ReadTimeout)); err != nil {
			return delivered, err
		}
		typ, r, err := conn.NextReader()
		if err != nil {
			return delivered, f.readError(err)
		}
		oversized, err := readMessage(r, &buf, f.opts.MaxFrameBytes)
		if err != nil {
			return delivered, f.readError(err)
		}
		delivered = true
		received := time.Now()
		switch {
		case typ != websocket.BinaryMessage:
			f.nonBinary.Add(1)
			f.logSkipped("skipped non-binary firehose frame", "type", typ, "bytes", buf.Len())
			continue
		case oversized:
			f.malformed.Add(1)
			f.logSkipped("skipped oversized firehose frame", "max_bytes", f.opts.MaxFrameBytes)
			continue
		}
		ev, ok, err := f.decode(&fr, buf.Bytes(), received)
		switch {
		case errors.Is(err, errErrorFrame):
			return delivered, err
		case err != nil:
			f.malformed.Add(1)
			f.logSkipped("skipped malformed firehose frame", "error", err, "bytes", buf.Len())
			continue
		case !ok:
			continue // #info or a type tap does not consume
		case ev.Seq <= floor:
			f.replayed.Add(1)
			f.logSkipped("skipped replayed firehose frame: seq not above the last seen", "seq", ev.Seq, "last_seq", floor, "did", ev.DID)
			continue
		}
		if err := handle(ctx, ev); err != nil {
			return delivered, handlerError{err}
		}
		floor = ev.Seq
		f.events.Add(1)
		f.lastSeq.Store(ev.Seq)
	}
}

// errStreamSilent says the relay sent nothing, not even a pong, for
// ReadTimeout: a stalled relay. The connection is given up and re-dialled.
var errStreamSilent = errors.New("firehose stream silent")

// readError wraps a read failure; a read deadline that passed becomes
// errStreamSilent, counted.
func (f *Firehose) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		f.timeouts.Add(1)
		return fmt.Errorf("%w for %s (no frame, no pong): %v", errStreamSilent, f.opts.ReadTimeout, err)
	}
	return fmt.Errorf("reading firehose: %w", err)
}

// installControlHandlers renews the read deadline on pongs and pings and
// answers pings (as gorilla's default handler does).
func (f *Firehose) installControlHandlers(conn *websocket.Conn) {
	renew := func() { _ = conn.SetReadDeadline(time.Now().Add(f.opts.ReadTimeout)) }
	conn.SetPongHandler(func(string) error { renew(); return nil })
	conn.SetPingHandler(func(msg string) error {
		renew()
		err := conn.WriteControl(websocket.PongMessage, []byte(msg), time.Now().Add(controlWriteWait))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
}

// readMessage reads one message into buf. A message longer than max is
// drained and reported as oversized, so that it costs no more than max
// bytes of memory and does not end the connection.
func readMessage(r io.Reader, buf *bytes.Buffer, max int) (oversized bool, err error) {
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, int64(max)+1)); err != nil {
		return false, err
	}
	if buf.Len() <= max {
		return false, nil
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return true, err
	}
	return true, nil
}

// frameReader reads the frames of one connection: every frame is decoded
// through the same bytes.Reader, which spares an allocation a frame.
// Nothing decoded points into the frame (cbor-gen copies strings and
// bytes), so reusing the reader, like the read loop's buffer, is safe.
type frameReader struct {
	data bytes.Reader
}

// decode parses one binary frame: a CBOR header {op, t} followed by a CBOR
// body. ok is false, without error, for frames that are well-formed but
// not repo events (#info, unknown types); err is errErrorFrame (wrapped)
// for an error frame, and another error for anything malformed.
func (f *Firehose) decode(fr *frameReader, data []byte, received time.Time) (ev FirehoseEvent, ok bool, err error) {
	fr.data.Reset(data)
	r := &fr.data
	var h events.EventHeader
	if err := h.UnmarshalCBOR(r); err != nil {
		return ev, false, fmt.Errorf("header: %w", err)
	}
	switch h.Op {
	case events.EvtKindMessage:
		return f.decodeMessage(h.MsgType, r, received)
	case events.EvtKindErrorFrame:
		f.errorFrames.Add(1)
		var ef events.ErrorFrame
		if err := ef.UnmarshalCBOR(r); err != nil {
			return ev, false, fmt.Errorf("%w (undecodable: %v)", errErrorFrame, err)
		}
		return ev, false, fmt.Errorf("%w: %s: %s", errErrorFrame, ef.Error, ef.Message)
	default:
		return ev, false, fmt.Errorf("unknown op %d", h.Op)
	}
}

// decodeMessage decodes the body of a message of type t.
func (f *Firehose) decodeMessage(t string, r io.Reader, received time.Time) (ev FirehoseEvent, ok bool, err error) {
	ev.Received = received
	var did string
	switch t {
	case "#commit":
		ev.Commit = &comatproto.SyncSubscribeRepos_Commit{}
		err = ev.Commit.UnmarshalCBOR(r)
		ev.Seq, did = ev.Commit.Seq, ev.Commit.Repo
	case "#sync":
		ev.Sync = &comatproto.SyncSubscribeRepos_Sync{}
		err = ev.Sync.UnmarshalCBOR(r)
		ev.Seq, did = ev.Sync.Seq, ev.Sync.Did
	case "#identity":
		ev.Identity = &comatproto.SyncSubscribeRepos_Identity{}
		err = ev.Identity.UnmarshalCBOR(r)
		ev.Seq, did = ev.Identity.Seq, ev.Identity.Did
	case "#account":
		ev.Account = &comatproto.SyncSubscribeRepos_Account{}
		err = ev.Account.UnmarshalCBOR(r)
		ev.Seq, did = ev.Account.Seq, ev.Account.Did
	case "#info":
		return FirehoseEvent{}, false, f.info(r)
	default:
		f.ignored.Add(1)
		return FirehoseEvent{}, false, nil
	}
	if err != nil {
		return FirehoseEvent{}, false, fmt.Errorf("%s body: %w", t, err)
	}
	if ev.DID, err = syntax.ParseDID(did); err != nil {
		return FirehoseEvent{}, false, fmt.Errorf("%s seq %d: %w", t, ev.Seq, err)
	}
	return ev, true, nil
}

// info logs an #info message (e.g. OutdatedCursor: events were missed).
func (f *Firehose) info(r io.Reader) error {
	var m comatproto.SyncSubscribeRepos_Info
	if err := m.UnmarshalCBOR(r); err != nil {
		return fmt.Errorf("#info body: %w", err)
	}
	f.infos.Add(1)
	msg := ""
	if m.Message != nil {
		msg = *m.Message
	}
	f.log.Warn("firehose info", "name", m.Name, "message", msg)
	return nil
}

// logSkipped logs a skipped frame, at most once per malformedLogEvery for
// each msg; the next line says how many were not logged in between.
func (f *Firehose) logSkipped(msg string, args ...any) {
	l := f.limiters[msg]
	if l == nil {
		l = &logLimiter{every: malformedLogEvery}
		f.limiters[msg] = l
	}
	ok, suppressed := l.allow(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	f.log.Warn(msg, args...)
}

// logLimiter lets one log line through per interval and counts the rest.
// It is used by the read loop only (no locking).
type logLimiter struct {
	every      time.Duration
	next       time.Time
	suppressed int
}

func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	suppressed, l.suppressed = l.suppressed, 0
	l.next = now.Add(l.every)
	return true, suppressed
}
