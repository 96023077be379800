package testnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	"github.com/gorilla/websocket"
)

// Hostile relay and PLC faults. They are Faults methods (net.Faults()) and
// keep their state in Network.hostile; relay.go and plc.go consult it.
//
// Relay faults: StallRelay, ReplayOldCommits, RewindNextSeqs,
// EmitOversizedFrame, EmitOversizedCommit, DropConnectionsRepeatedly,
// RefuseSubscriptions (ClearRelayFaults ends them). PLC faults:
// SetPLCFault (ClearPLCFaults).

// Event kinds of the hostile relay's frames.
const (
	// KindReplay is an already-sent #commit frame re-sent unchanged, with
	// its old seq (Event.Seq is that old seq).
	KindReplay EventKind = "replay"
	// KindOversized is a binary frame bigger than a consumer's frame limit:
	// garbage (DID empty, no seq) or a well-formed #commit (DID, Rev and a
	// new Seq set) whose blocks carry a padding block.
	KindOversized EventKind = "oversized"
)

// PLCFaultKind names a PLC directory misbehaviour.
type PLCFaultKind int

// PLC faults, answered to GET /{did}.
const (
	PLCFaultNone        PLCFaultKind = iota
	PLCFaultInvalidJSON              // 200 with a body that is not JSON (cut mid-document)
	PLCFaultWrongShape               // 200 with JSON that is not a DID document (id is a number)
	PLCFaultServerError              // HTTP 500
	PLCFaultHugeBody                 // 200 with a valid document padded to PLCFault.Bytes
	PLCFaultOtherDID                 // 200 with the DID document of another DID
)

// PLCFaultKinds lists every PLC fault kind.
var PLCFaultKinds = []PLCFaultKind{PLCFaultInvalidJSON, PLCFaultWrongShape, PLCFaultServerError, PLCFaultHugeBody, PLCFaultOtherDID}

func (k PLCFaultKind) String() string {
	switch k {
	case PLCFaultInvalidJSON:
		return "invalid-json"
	case PLCFaultWrongShape:
		return "wrong-shape"
	case PLCFaultServerError:
		return "server-error"
	case PLCFaultHugeBody:
		return "huge-body"
	case PLCFaultOtherDID:
		return "other-did"
	}
	return "none"
}

// DefaultPLCHugeBytes is the body size of PLCFaultHugeBody when
// PLCFault.Bytes is zero.
const DefaultPLCHugeBytes = 64 << 20

// PLCFault is one PLC fault rule.
type PLCFault struct {
	// Kind is the misbehaviour.
	Kind PLCFaultKind
	// Times is how many requests it affects before clearing itself; zero
	// means until cleared.
	Times int
	// Bytes is the body size of PLCFaultHugeBody (default
	// DefaultPLCHugeBytes). The body is streamed, never held in memory.
	Bytes int
}

// RelayRefusal makes subscribeRepos answer an HTTP error instead of
// upgrading.
type RelayRefusal struct {
	// Status is the HTTP status (e.g. 502, 503).
	Status int
	// Times is how many subscribe requests are refused before the fault
	// clears itself; zero means until cleared.
	Times int
}

// RelayFaultStats count what the hostile faults did.
type RelayFaultStats struct {
	Stalls       int // StallRelay calls
	StalledPings int // pings swallowed while stalled (no pong sent)
	Refused      int // subscribe requests refused
	DropsArmed   int // connections armed to be cut by DropConnectionsRepeatedly
	Replays      int // frames re-sent with their old seq
	Rewound      int // #commit frames sent with a rewound seq
	Oversized    int // oversized frames emitted
	PLCGarbage   int // PLC requests answered with a fault
}

// hostileFaults is the state of the hostile faults (Network.hostile). Its
// zero value has no fault armed.
type hostileFaults struct {
	mu         sync.Mutex
	stall      chan struct{} // non-nil while stalled; closed on resume
	stallTimer *time.Timer
	refusal    *RelayRefusal
	dropAfter  int // frames each armed connection is sent before the cut
	dropsLeft  int // new connections still to arm
	rewindLeft int // #commit frames still to rewind
	rewindBy   int64
	junk       []byte // the last garbage oversized frame (shared by emits of one size)
	plcAll     *PLCFault
	plcByDID   map[syntax.DID]*PLCFault
	stats      RelayFaultStats
}

// RelayFaultStats returns what the hostile relay and PLC faults did so far.
func (f *Faults) RelayFaultStats() RelayFaultStats {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// StallRelay makes the relay go silent: every firehose connection, open or
// new, stays open but is sent nothing, and pings are not answered (the
// connection's reader stops at the first ping, so no pong goes out). It
// lasts d, or until ResumeRelay or ClearRelayFaults when d <= 0. Frames
// appended meanwhile are sent once the stall ends.
func (f *Faults) StallRelay(d time.Duration) {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Stalls++
	if h.stall == nil {
		h.stall = make(chan struct{})
	}
	if h.stallTimer != nil {
		h.stallTimer.Stop()
		h.stallTimer = nil
	}
	if d > 0 {
		h.stallTimer = time.AfterFunc(d, f.ResumeRelay)
	}
}

// ResumeRelay ends a stall.
func (f *Faults) ResumeRelay() {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resumeLocked()
}

func (h *hostileFaults) resumeLocked() {
	if h.stall != nil {
		close(h.stall)
		h.stall = nil
	}
	if h.stallTimer != nil {
		h.stallTimer.Stop()
		h.stallTimer = nil
	}
}

// Stalled reports whether the relay is stalled.
func (f *Faults) Stalled() bool {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stall != nil
}

// RefuseSubscriptions makes subscribeRepos answer r.Status (with an XRPC
// error body) instead of upgrading, for r.Times requests or until
// ClearRelayFaults.
func (f *Faults) RefuseSubscriptions(r RelayRefusal) {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refusal = &r
}

// DropConnectionsRepeatedly cuts firehose connections (no close frame)
// after each has been sent afterFrames frames: the connections open now
// (counted from now on, as DropConnections does) and then each new one
// (counted from where it starts, replay included), until connections
// connections were armed or ClearRelayFaults. With afterFrames 0 a new
// connection is cut as soon as it is upgraded. It returns how many open
// connections were armed.
func (f *Faults) DropConnectionsRepeatedly(afterFrames, connections int) int {
	armed := 0
	if connections > 0 {
		armed = f.net.relay.dropSome(afterFrames, connections)
	}
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropAfter, h.dropsLeft = max(afterFrames, 0), max(connections-armed, 0)
	h.stats.DropsArmed += armed
	return armed
}

// RewindNextSeqs makes the relay send its next frames #commit frames
// (whatever connection they go to) with their seq lowered by by (to at
// least 1): new content under a seq that goes backwards. The log keeps
// the true frames, so a later replay from a cursor sends them unchanged.
func (f *Faults) RewindNextSeqs(frames int, by int64) {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rewindLeft, h.rewindBy = frames, by
}

// ClearRelayFaults ends every hostile relay fault (stall, refusal,
// repeated drops, seq rewinds). Frames already emitted stay in the log.
func (f *Faults) ClearRelayFaults() {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resumeLocked()
	h.refusal = nil
	h.dropsLeft, h.rewindLeft = 0, 0
}

// ReplayOldCommits sends every subscriber n frames re-emitting already-sent
// #commit frames unchanged, with their OLD seqs (at or below the last seq
// sent): a relay replaying from far back. It cycles through the kept
// #commit frames from the oldest. It returns the replayed events
// (KindReplay, Seq the old seq).
func (f *Faults) ReplayOldCommits(n int) ([]Event, error) {
	l := f.net.events
	l.mu.Lock()
	var old []logEntry
	for i := 0; i < l.visible-l.base; i++ {
		if e := l.entries[i]; e.ev.Kind == KindCommit && e.ev.Seq > 0 {
			old = append(old, e)
		}
	}
	l.mu.Unlock()
	if len(old) == 0 {
		return nil, errors.New("testnet: no #commit in the log to replay")
	}
	out := make([]Event, 0, n)
	for i := range n {
		e := old[i%len(old)]
		ev := e.ev
		ev.Kind, ev.Time, ev.Fault = KindReplay, time.Now(), CommitFaultNone
		got, err := l.append(ev, false, func(int64) ([]byte, error) { return e.frame, nil })
		if err != nil {
			return out, err
		}
		out = append(out, got)
	}
	h := &f.net.relayFaults
	h.mu.Lock()
	h.stats.Replays += n
	h.mu.Unlock()
	return out, nil
}

// EmitOversizedFrame sends every subscriber a garbage binary frame of size
// bytes: a valid #commit header followed by bytes that are not CBOR.
// Emits of one size share the frame's memory.
func (f *Faults) EmitOversizedFrame(size int) (Event, error) {
	h := &f.net.relayFaults
	h.mu.Lock()
	if len(h.junk) != size {
		h.junk = junkFrame(size)
	}
	junk := h.junk
	h.stats.Oversized++
	h.mu.Unlock()
	return f.net.events.append(Event{Kind: KindOversized, Time: time.Now()}, false, func(int64) ([]byte, error) {
		return junk, nil
	})
}

func junkFrame(size int) []byte {
	var buf bytes.Buffer
	hdr := events.EventHeader{Op: events.EvtKindMessage, MsgType: "#commit"}
	_ = hdr.MarshalCBOR(&buf)
	out := make([]byte, max(size, buf.Len()))
	copy(out, buf.Bytes())
	for i := buf.Len(); i < len(out); i++ {
		out[i] = 0xff // a CBOR "break" outside any indefinite item
	}
	return out
}

// EmitOversizedCommit re-emits, under a new seq, the account's last #commit
// frame with a padding block added to its blocks so that the frame is at
// least size bytes: a well-formed #commit that is too big. The padding is
// a valid DAG-CBOR byte string no other block links to.
func (f *Faults) EmitOversizedCommit(did syntax.DID, size int) (Event, error) {
	var last *logEntry
	l := f.net.events
	l.mu.Lock()
	for i := l.visible - l.base - 1; i >= 0; i-- {
		if e := &l.entries[i]; e.ev.Kind == KindCommit && e.ev.DID == did {
			last = e
			break
		}
	}
	l.mu.Unlock()
	if last == nil {
		return Event{}, fmt.Errorf("testnet: no #commit of %s in the log", did)
	}
	var evt events.XRPCStreamEvent
	if err := evt.Deserialize(bytes.NewReader(last.frame)); err != nil || evt.RepoCommit == nil {
		return Event{}, fmt.Errorf("testnet: decode logged commit: %w", err)
	}
	pad := max(size-len(last.frame), 0) + 64
	evt.RepoCommit.Blocks = append(evt.RepoCommit.Blocks, paddingSection(pad)...)
	ev := last.ev
	ev.Kind, ev.Time, ev.Fault = KindOversized, time.Now(), CommitFaultNone
	h := &f.net.relayFaults
	h.mu.Lock()
	h.stats.Oversized++
	h.mu.Unlock()
	return l.append(ev, true, func(seq int64) ([]byte, error) {
		evt.RepoCommit.Seq = seq
		return serialize(&evt)
	})
}

// paddingSection is one CAR section holding a DAG-CBOR byte string of n
// bytes.
func paddingSection(n int) []byte {
	block := make([]byte, 5+n)
	block[0] = 0x5a // byte string, 4-byte length
	binary.BigEndian.PutUint32(block[1:5], uint32(n))
	for i := 5; i < len(block); i++ {
		block[i] = 'p'
	}
	c, _ := cborPrefix.Sum(block)
	cb := c.Bytes()
	sec := binary.AppendUvarint(nil, uint64(len(cb)+len(block)))
	sec = append(sec, cb...)
	return append(sec, block...)
}

// SetPLCFault makes the PLC directory misbehave for did, or for every DID
// when did is empty. A DID rule wins over the all-DIDs rule.
func (f *Faults) SetPLCFault(did syntax.DID, fault PLCFault) {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	if did == "" {
		h.plcAll = &fault
		return
	}
	if h.plcByDID == nil {
		h.plcByDID = make(map[syntax.DID]*PLCFault)
	}
	h.plcByDID[did] = &fault
}

// ClearPLCFaults removes every PLC fault rule.
func (f *Faults) ClearPLCFaults() {
	h := &f.net.relayFaults
	h.mu.Lock()
	defer h.mu.Unlock()
	h.plcAll, h.plcByDID = nil, nil
}

// --- hooks used by relay.go and plc.go ---

// refuse answers a subscribe request with the armed refusal, if any.
func (h *hostileFaults) refuse(w http.ResponseWriter) bool {
	h.mu.Lock()
	r := h.refusal
	if r == nil {
		h.mu.Unlock()
		return false
	}
	status := r.Status
	if r.Times > 0 {
		if r.Times--; r.Times == 0 {
			h.refusal = nil
		}
	}
	h.stats.Refused++
	h.mu.Unlock()
	writeXRPCError(w, status, "UpstreamFailure", "relay refuses subscriptions (fault injection)")
	return true
}

// armDrop arms the repeated-drop fault on a new connection starting at
// global log position pos. now reports a cut before any frame.
func (h *hostileFaults) armDrop(sub *subscriber, pos int) (now bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropsLeft <= 0 {
		return false
	}
	h.dropsLeft--
	h.stats.DropsArmed++
	if h.dropAfter <= 0 {
		return true
	}
	sub.dropAt.Store(int64(pos + h.dropAfter))
	return false
}

// stalled returns the channel closed when the current stall ends, or nil.
func (h *hostileFaults) stalled() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stall == nil {
		return nil
	}
	return h.stall
}

// waitStall blocks while the relay is stalled, until ctx or the relay
// ends.
func (h *hostileFaults) waitStall(ctx context.Context, relayDone <-chan struct{}) error {
	for {
		ch := h.stalled()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-relayDone:
			return errRelayClosed
		}
	}
}

var errRelayClosed = errors.New("testnet: relay closed")

// pingHandler answers pings as gorilla's default does, except while the
// relay is stalled: the reader then stops (blocks) until the stall ends,
// so no pong is sent, and the ping is dropped.
func (h *hostileFaults) pingHandler(conn *websocket.Conn, relayDone <-chan struct{}) func(string) error {
	return func(msg string) error {
		if ch := h.stalled(); ch != nil {
			h.mu.Lock()
			h.stats.StalledPings++
			h.mu.Unlock()
			select {
			case <-ch:
			case <-relayDone:
			}
			return nil
		}
		err := conn.WriteControl(websocket.PongMessage, []byte(msg), time.Now().Add(time.Second))
		if err == nil || errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	}
}

// rewrite applies the seq-rewind fault to a frame about to be sent.
func (h *hostileFaults) rewrite(e logEntry) logEntry {
	if e.ev.Kind != KindCommit || e.ev.Seq <= 0 {
		return e
	}
	h.mu.Lock()
	if h.rewindLeft <= 0 {
		h.mu.Unlock()
		return e
	}
	h.rewindLeft--
	h.stats.Rewound++
	by := h.rewindBy
	h.mu.Unlock()
	var evt events.XRPCStreamEvent
	if err := evt.Deserialize(bytes.NewReader(e.frame)); err != nil || evt.RepoCommit == nil {
		return e
	}
	evt.RepoCommit.Seq = max(evt.RepoCommit.Seq-by, 1)
	frame, err := serialize(&evt)
	if err != nil {
		return e
	}
	e.frame = frame
	return e
}

// servePLC answers a PLC request with the fault armed for did, if any.
func (h *hostileFaults) servePLC(w http.ResponseWriter, n *Network, did syntax.DID) bool {
	h.mu.Lock()
	var fault PLCFault
	switch rule := h.plcByDID[did]; {
	case rule != nil:
		fault = *rule
		if rule.Times > 0 {
			if rule.Times--; rule.Times == 0 {
				delete(h.plcByDID, did)
			}
		}
	case h.plcAll != nil:
		fault = *h.plcAll
		if h.plcAll.Times > 0 {
			if h.plcAll.Times--; h.plcAll.Times == 0 {
				h.plcAll = nil
			}
		}
	default:
		h.mu.Unlock()
		return false
	}
	h.stats.PLCGarbage++
	h.mu.Unlock()
	writePLCFault(w, n, did, fault)
	return true
}

func writePLCFault(w http.ResponseWriter, n *Network, did syntax.DID, fault PLCFault) {
	switch fault.Kind {
	case PLCFaultInvalidJSON:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"@context":["https://www.w3.org/ns/did/v1"],"id":"` + did.String() + `","alsoKnownAs":["at://`))
	case PLCFaultWrongShape:
		writeJSON(w, http.StatusOK, map[string]any{"id": 42, "verificationMethod": "none", "service": []int{1, 2}})
	case PLCFaultServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error (fault injection)"})
	case PLCFaultHugeBody:
		size := fault.Bytes
		if size <= 0 {
			size = DefaultPLCHugeBytes
		}
		w.Header().Set("Content-Type", "application/json")
		head := `{"id":"` + did.String() + `","alsoKnownAs":[],"padding":"`
		_, _ = w.Write([]byte(head))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for left := size - len(head) - 2; left > 0; left -= len(chunk) {
			if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
				return // the client gave up
			}
		}
		_, _ = w.Write([]byte(`"}`))
	case PLCFaultOtherDID:
		other := syntax.DID("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
		for _, a := range n.Accounts() {
			if a.DID() != did {
				other = a.DID()
				break
			}
		}
		doc := plcDocument{Context: plcContexts, DID: other.String(), AlsoKnownAs: []string{}}
		if a := n.Account(other); a != nil {
			d := a.DIDDocument()
			doc.AlsoKnownAs, doc.VerificationMethod, doc.Service = d.AlsoKnownAs, d.VerificationMethod, d.Service
		}
		writeJSON(w, http.StatusOK, doc)
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "unknown PLC fault"})
	}
}
