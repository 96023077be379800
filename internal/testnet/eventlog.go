package testnet

import (
	"sort"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
)

// EventKind names a firehose frame type.
type EventKind string

// Event kinds: the five subscribeRepos message types, plus the two junk
// frames fault injection can send.
const (
	KindCommit    EventKind = "commit"
	KindSync      EventKind = "sync"
	KindIdentity  EventKind = "identity"
	KindAccount   EventKind = "account"
	KindInfo      EventKind = "info"
	KindMalformed EventKind = "malformed" // a binary frame that is not valid CBOR
	KindText      EventKind = "text"      // a text (non-binary) frame
)

// Event is the ground truth of one frame the relay emitted.
type Event struct {
	// Seq is the firehose sequence number; 0 for #info and junk frames,
	// which carry none.
	Seq int64
	// Kind is the frame type.
	Kind EventKind
	// Time is when the event was emitted.
	Time time.Time
	// DID is the repo the event is about (empty for #info and junk).
	DID syntax.DID
	// Rev and Since are the commit's rev and the previous rev (#commit,
	// #sync: Rev only).
	Rev, Since syntax.TID
	// Commit is the CID of the commit the frame carries; PrevData the
	// previous MST root (#commit only; cid.Undef if none).
	Commit, PrevData cid.Cid
	// Ops are the record changes of a #commit.
	Ops []Op
	// Handle is the handle of an #identity.
	Handle syntax.Handle
	// Active and Status are the fields of an #account.
	Active bool
	Status AccountStatus
	// Info is the name of an #info frame (e.g. "OutdatedCursor").
	Info string
	// Fault is the commit fault this frame carries, if any.
	Fault CommitFault
}

// logEntry is one frame of the relay log.
type logEntry struct {
	ev    Event
	seq   int64 // Seq, or the previous seq for frames without one (keeps the log sorted)
	frame []byte
	text  bool
}

// eventLog is the relay's ordered, append-only frame log. Subscribers
// read it by global position; appends wake them.
type eventLog struct {
	mu      sync.Mutex
	entries []logEntry
	base    int // global position of entries[0]
	lastSeq int64
	limit   int
	wake    chan struct{}
	// held entries (global positions >= visible) are logged but not yet
	// readable: a staged load releases them later.
	held    bool
	visible int
}

func newEventLog(limit int) *eventLog {
	return &eventLog{limit: limit, wake: make(chan struct{})}
}

// append assigns the next seq (if withSeq), builds the frame for it and
// appends. build runs under the log lock, so seqs are emitted in order.
func (l *eventLog) append(ev Event, withSeq bool, build func(seq int64) ([]byte, error)) (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := l.lastSeq
	if withSeq {
		seq++
	}
	frame, err := build(seq)
	if err != nil {
		return Event{}, err
	}
	if withSeq {
		ev.Seq, l.lastSeq = seq, seq
	}
	l.entries = append(l.entries, logEntry{ev: ev, seq: seq, frame: frame, text: ev.Kind == KindText})
	if !l.held {
		l.visible = l.base + len(l.entries)
		l.trim()
		l.broadcast()
	}
	return ev, nil
}

func (l *eventLog) broadcast() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// hold keeps later appends invisible until release.
func (l *eventLog) hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = true
}

// release makes up to k held entries visible (all when k < 0) and
// returns how many stay held. With none left, holding ends.
func (l *eventLog) release(k int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := l.base + len(l.entries)
	if k < 0 || l.visible+k > end {
		k = end - l.visible
	}
	now := time.Now()
	for i := l.visible - l.base; i < l.visible-l.base+k; i++ {
		l.entries[i].ev.Time = now // a staged frame is emitted when released
	}
	l.visible += k
	left := end - l.visible
	if left == 0 {
		l.held = false
		l.trim()
	}
	l.broadcast()
	return left
}

// trim drops the oldest entries beyond the limit.
func (l *eventLog) trim() {
	if l.limit <= 0 || len(l.entries) <= l.limit {
		return
	}
	drop := min(len(l.entries)-l.limit, l.visible-l.base)
	if drop < l.limit/4+1 && len(l.entries) < 2*l.limit {
		return // drop in batches to keep appends amortised O(1)
	}
	l.entries = append([]logEntry(nil), l.entries[drop:]...)
	l.base += drop
}

// read returns the entries from global position pos on (at most max), the
// position after them, and a channel closed by the next append. gone
// reports that pos was trimmed away.
func (l *eventLog) read(pos, max int) (out []logEntry, next int, wake <-chan struct{}, gone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pos < l.base {
		return nil, pos, l.wake, true
	}
	i := pos - l.base
	end := min(l.visible-l.base, i+max)
	if end < i {
		end = i
	}
	return l.entries[i:end], pos + (end - i), l.wake, false
}

// start resolves a subscribeRepos cursor to a global position. A nil
// cursor means the live head. outdated reports a cursor older than the
// oldest kept event; future one beyond the newest seq.
func (l *eventLog) start(cursor *int64) (pos int, outdated, future bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	head := l.visible
	if cursor == nil {
		return head, false, false
	}
	if *cursor > l.visibleSeq() {
		return head, false, true
	}
	i := sort.Search(head-l.base, func(i int) bool { return l.entries[i].seq > *cursor })
	oldest := int64(1)
	if len(l.entries) > 0 {
		oldest = l.entries[0].seq
	}
	return l.base + i, *cursor+1 < oldest && l.base > 0, false
}

// head returns the global position the next visible frame will take.
func (l *eventLog) head() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.visible
}

// visibleSeq is the seq of the last visible entry. Caller holds l.mu.
func (l *eventLog) visibleSeq() int64 {
	if i := l.visible - l.base - 1; i >= 0 {
		return l.entries[i].seq
	}
	return 0
}

// events returns a copy of the kept events.
func (l *eventLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, l.visible-l.base)
	for i := range out {
		out[i] = l.entries[i].ev
	}
	return out
}

// seq returns the last visible seq.
func (l *eventLog) seq() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.visibleSeq()
}

// Events returns every event the relay kept (all of them unless
// Options.EventLimit is set), in emission order. Events of a staged load
// appear as they are released.
func (n *Network) Events() []Event { return n.events.events() }

// LastSeq returns the highest firehose seq emitted so far.
func (n *Network) LastSeq() int64 { return n.events.seq() }
