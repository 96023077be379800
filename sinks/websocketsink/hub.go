package websocketsink

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// entryState is where an event is in its delivery.
type entryState uint8

const (
	// entryQueued: in the shared queue, waiting for a connection to take it.
	entryQueued entryState = iota
	// entryClaimed: taken by a connection, its frame not yet written.
	entryClaimed
	// entrySent: written, waiting for its ack (ack mode; in the in-flight list).
	entrySent
	// entryDone: acked, or given up by every Deliver that waited for it.
	entryDone
)

// slot is one position of one Deliver call's batch waiting for an entry.
type slot struct {
	b *waiter
	i int
}

// entry is one event being delivered. Every field except id and json is
// guarded by hub.mu.
type entry struct {
	id   uint64
	json []byte

	slots  []slot // the Deliver calls waiting for it (more than one only for a repeated id)
	state  entryState
	holder *conn     // the connection that claimed or sent it, nil when queued
	last   *conn     // the connection that claimed it last (kept when it is re-queued)
	sentAt time.Time // last successful write, for the retry timeout
	sends  int       // times it was claimed for writing

	list       *entryList
	prev, next *entry
}

// waiter is one Deliver call: it returns when remaining reaches zero (done
// is closed), or gives up on what is still unacked.
type waiter struct {
	entries   []*entry // per position of the batch
	acked     []bool
	remaining int
	done      chan struct{}
}

// counters are the sink's cumulative statistics.
type counters struct {
	framesSent, resends, acks, unknownAcks, ignored, dropped atomic.Uint64
}

// hub is the delivery state shared by every connection: one queue of events
// to send that all connections compete for, the events in flight ordered by
// last send time, and the index by id that acks are matched against,
// whichever connection they arrive on.
type hub struct {
	set   settings
	stats counters
	// kick wakes the retry loop when the in-flight list stops being empty.
	kick chan struct{}
	// closedCh is closed by close; pending Deliver calls then give up.
	closedCh chan struct{}
	// stopped is closed once the hub is closed and every goroutine counted
	// by track or register has called finished.
	stopped chan struct{}

	mu       sync.Mutex
	queue    entryList
	inflight entryList // ack mode: sent entries, oldest send first
	byID     map[uint64]*entry
	conns    map[*conn]struct{}
	waiters  []*conn // idle connections waiting for the queue to fill
	// signalled counts connections woken for queued events that have not
	// claimed yet. While there are some, a busy connection coming back for
	// more waits its turn: queued events are handed to idle connections
	// first, so clients share the load (as receivers of a Go channel do).
	signalled int
	closed    bool
	running   int // goroutines counted by track and register
}

func newHub(set settings) *hub {
	return &hub{
		set:      set,
		kick:     make(chan struct{}, 1),
		closedCh: make(chan struct{}),
		stopped:  make(chan struct{}),
		byID:     make(map[uint64]*entry),
		conns:    make(map[*conn]struct{}),
	}
}

// enqueue puts a batch in the queue and returns its waiter. An id that is
// already being delivered is not queued twice: the new position waits for
// the existing entry.
func (h *hub) enqueue(batch []pipeline.Delivery) (*waiter, error) {
	w := &waiter{
		entries:   make([]*entry, len(batch)),
		acked:     make([]bool, len(batch)),
		remaining: len(batch),
		done:      make(chan struct{}),
	}
	fresh := make([]entry, len(batch))
	slots := make([]slot, len(batch))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, pipeline.ErrClosed
	}
	added := 0
	for i, d := range batch {
		slots[i] = slot{w, i}
		if e := h.byID[d.ID]; e != nil {
			e.slots = append(e.slots, slots[i])
			w.entries[i] = e
			continue
		}
		e := &fresh[i]
		e.id, e.json, e.slots = d.ID, d.JSON, slots[i:i+1:i+1]
		h.byID[d.ID] = e
		h.queue.pushBack(e)
		w.entries[i] = e
		added++
	}
	if added > 0 {
		h.wakeLocked()
	}
	return w, nil
}

// abandon gives up on the positions of w that are not acked yet, with cause.
// It returns nil if everything was acked after all, cause if nothing was,
// and a *pipeline.BatchError otherwise.
func (h *hub) abandon(w *waiter, cause error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.remaining == 0 {
		return nil
	}
	errs := make([]error, len(w.entries))
	partial := false
	for i, e := range w.entries {
		if w.acked[i] {
			partial = true
			continue
		}
		errs[i] = cause
		e.slots = slices.DeleteFunc(e.slots, func(s slot) bool { return s.b == w && s.i == i })
		if len(e.slots) == 0 {
			h.retireLocked(e)
		}
	}
	if !partial {
		return cause
	}
	return &pipeline.BatchError{Errs: errs}
}

// ack completes the event with this id; it reports false for an id that is
// not being delivered (unknown, or acked before).
func (h *hub) ack(id uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.byID[id]
	if e == nil {
		return false
	}
	h.completeLocked(e)
	return true
}

// completeLocked marks every position waiting for e as acked.
func (h *hub) completeLocked(e *entry) {
	h.retireLocked(e)
	for _, s := range e.slots {
		s.b.acked[s.i] = true
		s.b.remaining--
		if s.b.remaining == 0 {
			close(s.b.done)
		}
	}
	e.slots = nil
}

// retireLocked takes e out of delivery.
func (h *hub) retireLocked(e *entry) {
	if h.byID[e.id] == e {
		delete(h.byID, e.id)
	}
	e.unlink()
	h.releaseLocked(e)
	e.state = entryDone
}

// holdLocked makes c the holder of e: it counts against c's max_unacked
// until it is acked, given up or re-queued.
func (h *hub) holdLocked(e *entry, c *conn) {
	e.holder, e.last = c, c
	c.unacked++
}

// releaseLocked ends the hold of e's holder, if any. A holder that was
// full and has room for a whole send queue again becomes idle.
func (h *hub) releaseLocked(e *entry) {
	c := e.holder
	if c == nil {
		return
	}
	e.holder = nil
	c.unacked--
	if c.full && !c.dropped && c.unacked <= h.set.maxUnacked-h.set.sendQueue {
		c.full = false
		h.addWaiterLocked(c)
		h.wakeLocked()
	}
}

// claim gives c up to send_queue events from the queue, fewer when that
// would take it past max_unacked. With none for it, c is registered as a
// waiter and woken (c.wake) when events arrive; a full c waits for its acks
// instead. An event that was re-queued after it timed out on c is left to
// another connection when one is idle: a connection that did not ack it in
// time is likely slow or stuck, and sending it there again only adds a
// duplicate behind the first.
func (h *hub) claim(c *conn) []*entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(c.claimed)
	c.claimed = c.claimed[:0]
	if c.dropped {
		return nil
	}
	woken := c.signalled
	if woken {
		c.signalled = false
		h.signalled--
	}
	room := min(h.set.sendQueue, h.set.maxUnacked-c.unacked)
	if c.full || room <= 0 {
		c.full = true
		h.removeWaiterLocked(c)
		if woken {
			h.wakeLocked() // what c was woken for goes to another
		}
		return nil
	}
	if !woken && h.signalled > 0 {
		h.addWaiterLocked(c)
		h.wakeLocked()
		return nil
	}
	othersIdle := len(h.waiters) > 1 || (len(h.waiters) == 1 && !c.waiting)
	skipped := false
	for e := h.queue.head; e != nil && len(c.claimed) < room; {
		next := e.next
		if othersIdle && e.last == c {
			skipped = true
			e = next
			continue
		}
		e.unlink()
		e.state = entryClaimed
		h.holdLocked(e, c)
		e.sends++
		if e.sends > 1 {
			h.stats.resends.Add(1)
		}
		c.claimed = append(c.claimed, e)
		e = next
	}
	if len(c.claimed) == 0 {
		h.addWaiterLocked(c)
		if skipped {
			h.wakeLocked() // an idle connection takes what c left
		}
		return nil
	}
	h.removeWaiterLocked(c)
	h.wakeLocked() // idle connections share the rest
	return c.claimed
}

// sent records that the first n claimed events of c were written: in
// fire-and-forget mode they are delivered, in ack mode they wait for their
// ack from now on. Events acked or taken back in the meantime are skipped.
func (h *hub) sent(c *conn, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	wasIdle := h.inflight.len == 0
	for _, e := range c.claimed[:n] {
		if e.holder != c || e.state != entryClaimed {
			continue
		}
		if h.set.disableAcks {
			h.completeLocked(e)
			continue
		}
		e.state, e.sentAt = entrySent, now
		h.inflight.pushBack(e)
	}
	if wasIdle && h.inflight.len > 0 {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}

// expire re-queues the events whose last send is at least retry_timeout
// old and returns how long until the next one is due (ok false: none in
// flight).
func (h *hub) expire(now time.Time) (next time.Duration, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var due []*entry
	for e := h.inflight.head; e != nil && !now.Before(e.sentAt.Add(h.set.retryTimeout)); e = e.next {
		due = append(due, e)
	}
	h.requeueLocked(due)
	if h.inflight.head == nil {
		return 0, false
	}
	return h.inflight.head.sentAt.Add(h.set.retryTimeout).Sub(now), true
}

// requeueLocked puts events back at the front of the queue, lowest id
// first, for any connection to take.
func (h *hub) requeueLocked(es []*entry) {
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.id, b.id) })
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		e.unlink()
		h.releaseLocked(e)
		e.state = entryQueued
		h.queue.pushFront(e)
	}
	if len(es) > 0 {
		h.wakeLocked()
	}
}
