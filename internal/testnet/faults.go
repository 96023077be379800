package testnet

import (
	"fmt"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// PDSFaultKind names a PDS misbehaviour.
type PDSFaultKind int

// PDS faults. The first three apply to every XRPC route of the host that
// names the DID (getRepo, getLatestCommit, describeRepo, and listRepos
// for host faults); the CAR faults and the hostile faults (from
// PDSFaultHang on) apply to getRepo only.
const (
	PDSFaultNone          PDSFaultKind = iota
	PDSFaultServerError                // HTTP 500 with an XRPC error body
	PDSFaultRateLimited                // HTTP 429 with Retry-After
	PDSFaultSlow                       // the response starts after Delay
	PDSFaultTruncatedCAR               // the CAR body stops half-way through a block
	PDSFaultMissingRecord              // the CAR lacks the first record block
	PDSFaultWrongKey                   // the CAR's commit is signed by a key nobody declared
	PDSFaultWrongDID                   // the CAR's commit names another DID (validly signed)

	// PDSFaultHang accepts the request and sends nothing, not even the
	// headers, until the client gives up; when the fault is cleared
	// (ClearPDSFaults) the waiting request is answered normally.
	PDSFaultHang
	// PDSFaultStallBody sends the 200 headers and the first half of the
	// repo's CAR, then stalls until the client gives up; when the fault is
	// cleared the rest follows.
	PDSFaultStallBody
	// PDSFaultGiganticCAR streams a CAR of exactly Size bytes (default
	// DefaultGiganticCARSize): the repo's valid CAR followed by distinct,
	// valid raw padding blocks nothing links to. It is generated on the
	// fly; nothing of that size is held in memory.
	PDSFaultGiganticCAR
	// PDSFaultInfiniteCAR streams the repo's valid CAR followed by valid
	// raw padding blocks that never end, until the client goes away.
	PDSFaultInfiniteCAR
	// PDSFaultRedirectLoop answers 302 Found with the request's own URL as
	// Location, forever (each hop is one request, counted by Times).
	PDSFaultRedirectLoop
	// PDSFaultHTMLContentType answers 200 with Content-Type text/html and
	// an HTML error page (a proxy or captive portal in front of the PDS).
	PDSFaultHTMLContentType
	// PDSFaultJSONError200 answers 200 with Content-Type application/json
	// and an XRPC error body.
	PDSFaultJSONError200
)

// DefaultGiganticCARSize is the size of a PDSFaultGiganticCAR stream when
// PDSFault.Size is zero (64 MiB).
const DefaultGiganticCARSize int64 = 64 << 20

var (
	httpFaultKinds   = []PDSFaultKind{PDSFaultServerError, PDSFaultRateLimited, PDSFaultSlow}
	allPDSFaultKinds = []PDSFaultKind{PDSFaultServerError, PDSFaultRateLimited, PDSFaultSlow,
		PDSFaultTruncatedCAR, PDSFaultMissingRecord, PDSFaultWrongKey, PDSFaultWrongDID,
		PDSFaultHang, PDSFaultStallBody, PDSFaultGiganticCAR, PDSFaultInfiniteCAR,
		PDSFaultRedirectLoop, PDSFaultHTMLContentType, PDSFaultJSONError200}
)

// PDSFault is one PDS fault rule.
type PDSFault struct {
	// Kind is the misbehaviour.
	Kind PDSFaultKind
	// Times is how many requests it affects before clearing itself; zero
	// means until cleared.
	Times int
	// Delay is the pause of PDSFaultSlow.
	Delay time.Duration
	// RetryAfter is the Retry-After of PDSFaultRateLimited (whole seconds,
	// at least 1).
	RetryAfter time.Duration
	// Size is the length of a PDSFaultGiganticCAR stream in bytes; zero
	// means DefaultGiganticCARSize. A Size below the repo's own CAR gives
	// the repo's CAR unpadded.
	Size int64
}

// String names the kind, as the PDS logs it.
func (k PDSFaultKind) String() string {
	names := [...]string{"none", "server-error", "rate-limited", "slow", "truncated-car", "missing-record",
		"wrong-key", "wrong-did", "hang", "stall-body", "gigantic-car", "infinite-car", "redirect-loop",
		"html-content-type", "json-error-200"}
	if int(k) >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("PDSFaultKind(%d)", int(k))
}

// HostileStats counts the getRepo responses of the hostile faults (from
// PDSFaultHang on).
type HostileStats struct {
	// Served is how many requests a hostile fault answered (or held).
	Served int
	// Active is how many of them are still running: a hang or stall still
	// waiting, a padded CAR still being written.
	Active int
	// Bytes is the total of body bytes written by them.
	Bytes int64
	// MaxBytes is the most body bytes one finished response wrote: with a
	// client that stops reading at a limit, it shows the download stopped.
	MaxBytes int64
}

// CommitFault names a broken #commit.
type CommitFault int

// Commit faults, applied to an account's next commit.
const (
	CommitFaultNone CommitFault = iota
	// CommitFaultBadSignature: the frame's commit block is signed by a
	// key nobody declared (the repo itself keeps the valid commit).
	CommitFaultBadSignature
	// CommitFaultSkipped: the commit is applied to the repo but never
	// emitted, so the next #commit's prevData breaks the chain (desync).
	CommitFaultSkipped
	// CommitFaultBadPrevData: the frame's prevData names a CID that is not
	// the previous MST root, so MST inversion fails.
	CommitFaultBadPrevData
)

// Faults injects failures into a Network. Its methods are safe for
// concurrent use.
type Faults struct {
	net *Network

	mu      sync.Mutex
	byDID   map[syntax.DID]*PDSFault
	byHost  map[int]*PDSFault
	commits map[syntax.DID][]CommitFault
	skipped []Event

	hostile  HostileStats
	cleared  chan struct{} // closed (and replaced) by ClearPDSFaults
	stopped  chan struct{} // closed when the network closes
	stopOnce sync.Once
}

// SetRepoFault makes the PDS misbehave for requests about did.
func (f *Faults) SetRepoFault(did syntax.DID, fault PDSFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byDID == nil {
		f.byDID = make(map[syntax.DID]*PDSFault)
	}
	f.byDID[did] = &fault
}

// SetHostFault makes PDS host number host (0-based) misbehave for every
// repo it serves.
func (f *Faults) SetHostFault(host int, fault PDSFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byHost == nil {
		f.byHost = make(map[int]*PDSFault)
	}
	f.byHost[host] = &fault
}

// ClearPDSFaults removes every PDS fault rule.
// Requests held by PDSFaultHang or PDSFaultStallBody then go on normally.
func (f *Faults) ClearPDSFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byDID, f.byHost = nil, nil
	if f.cleared != nil {
		close(f.cleared)
		f.cleared = nil
	}
}

// Hostile returns the counters of the hostile getRepo faults.
func (f *Faults) Hostile() HostileStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hostile
}

// hostileStart counts a hostile response and returns the channels that end
// its wait: cleared (ClearPDSFaults) and stopped (the network closes).
func (f *Faults) hostileStart() (cleared, stopped <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hostile.Served++
	f.hostile.Active++
	if f.cleared == nil {
		f.cleared = make(chan struct{})
	}
	if f.stopped == nil {
		f.stopped = make(chan struct{})
	}
	return f.cleared, f.stopped
}

// hostileEnd records the end of a hostile response that wrote n body bytes.
func (f *Faults) hostileEnd(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hostile.Active--
	f.hostile.Bytes += n
	f.hostile.MaxBytes = max(f.hostile.MaxBytes, n)
}

// stop releases every held request without an answer (network close).
func (f *Faults) stop() {
	f.stopOnce.Do(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.stopped == nil {
			f.stopped = make(chan struct{})
		}
		close(f.stopped)
	})
}

// take returns the fault to apply to a request, preferring a DID rule to a
// host rule, if its kind is among kinds; it counts the use down.
func (f *Faults) take(host int, did syntax.DID, kinds []PDSFaultKind) (PDSFault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rule := f.byDID[did]; rule != nil && kindIn(rule.Kind, kinds) {
		return use(f.byDID, did, rule), true
	}
	if rule := f.byHost[host]; rule != nil && kindIn(rule.Kind, kinds) {
		return use(f.byHost, host, rule), true
	}
	return PDSFault{}, false
}

func use[K comparable](m map[K]*PDSFault, k K, rule *PDSFault) PDSFault {
	out := *rule
	if rule.Times > 0 {
		if rule.Times--; rule.Times == 0 {
			delete(m, k)
		}
	}
	return out
}

func kindIn(k PDSFaultKind, kinds []PDSFaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// CorruptNextCommit makes the account's next commit carry fault. Several
// calls queue up, one per commit.
func (f *Faults) CorruptNextCommit(did syntax.DID, fault CommitFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commits == nil {
		f.commits = make(map[syntax.DID][]CommitFault)
	}
	f.commits[did] = append(f.commits[did], fault)
}

func (f *Faults) takeCommitFault(did syntax.DID) CommitFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.commits[did]
	if len(q) == 0 {
		return CommitFaultNone
	}
	if len(q) == 1 {
		delete(f.commits, did)
	} else {
		f.commits[did] = q[1:]
	}
	return q[0]
}

func (f *Faults) recordSkipped(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skipped = append(f.skipped, ev)
}

// Skipped returns the commits CommitFaultSkipped kept off the firehose.
func (f *Faults) Skipped() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.skipped...)
}

// ReplayLastCommit re-emits, under a new seq, the last #commit frame the
// account emitted (a duplicate, now-old rev).
func (f *Faults) ReplayLastCommit(did syntax.DID) (Event, error) {
	var last *logEntry
	l := f.net.events
	l.mu.Lock()
	for i := len(l.entries) - 1; i >= 0; i-- {
		if e := &l.entries[i]; e.ev.Kind == KindCommit && e.ev.DID == did {
			last = e
			break
		}
	}
	l.mu.Unlock()
	if last == nil {
		return Event{}, fmt.Errorf("testnet: no #commit of %s in the log", did)
	}
	return replayCommit(f.net, last.ev, last.frame)
}

// EmitMalformedFrame sends every subscriber a binary frame that is not
// valid CBOR.
func (f *Faults) EmitMalformedFrame() (Event, error) {
	junk := []byte{0xa2, 0x62, 0x6f, 0x70, 0xff, 0xff, 0x00, 0x13}
	return f.net.events.append(Event{Kind: KindMalformed, Time: time.Now()}, false, func(int64) ([]byte, error) {
		return junk, nil
	})
}

// EmitTextFrame sends every subscriber a text frame.
func (f *Faults) EmitTextFrame() (Event, error) {
	return f.net.events.append(Event{Kind: KindText, Time: time.Now()}, false, func(int64) ([]byte, error) {
		return []byte(`{"not":"a binary frame"}`), nil
	})
}

// DropConnections cuts every open firehose connection (no close frame)
// after each has been sent afterFrames more frames (0: now). It returns
// how many connections were armed.
func (f *Faults) DropConnections(afterFrames int) int {
	return f.net.relay.dropAll(afterFrames)
}

// BreakHandle removes the DNS record (and well-known answer) of the
// account's handle, so its handle no longer verifies (handle.invalid).
// SetHandle restores one.
func (f *Faults) BreakHandle(did syntax.DID) error {
	a := f.net.Account(did)
	if a == nil {
		return errNoAccount
	}
	n := f.net
	n.mu.Lock()
	defer n.mu.Unlock()
	h := a.Handle()
	if n.byHandle[h] == a {
		delete(n.byHandle, h)
	}
	return nil
}
