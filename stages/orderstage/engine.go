package orderstage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// numShards is how many independently locked maps hold the per-DID state.
const numShards = 64

// entry is one event held by the engine, from the moment it is added until every sink acked it.
type entry struct {
	d     pipeline.Delivery
	added time.Time
	// remaining counts the sinks that have not acked the event yet.
	remaining atomic.Int32
	// slot is the event's index in its DID's inflight list while it is in flight.
	slot int
}

// didState is the ordering state of one DID. It exists only while the DID has events pending
// or in flight: an idle DID is evicted at once.
type didState struct {
	// queue holds the pending events from head on, in id order.
	queue []*entry
	head  int
	// inflight holds the released events not yet acked by every sink.
	inflight []*entry
	// barrier is set while a live event is in flight: nothing else of the DID is released.
	barrier bool
}

// idle reports whether the DID has nothing pending and nothing in flight.
func (st *didState) idle() bool { return len(st.inflight) == 0 && st.head == len(st.queue) }

type shard struct {
	mu   sync.Mutex
	dids map[string]*didState
}

// engine applies the per-DID release rules (see the package documentation) to the events it is
// given and hands the released ones to every sink's dispatcher. It counts the events it holds
// (pending or in flight) against its capacity, which the commit path and the loaders wait on.
type engine struct {
	shards   [numShards]shard
	sinks    []*dispatcher
	capacity int64
	// onDone receives the ids of events every sink acked (the deleter); it must not block.
	onDone func(ids []int64)
	// hook, when set, sees every release in release order, under its DID's lock (tests).
	hook func(pipeline.Delivery)
	// latency, when set, sees how long each completed event was held.
	latency LatencyObserver

	held, inflight             atomic.Int64
	acked, loaded, redelivered atomic.Uint64

	loadedFlag atomic.Bool // the startup backlog is loaded: commits may proceed
	gateClosed atomic.Bool // the stage is stopping: waiters fail with ErrClosed
	stopped    atomic.Bool // nothing more is released or dispatched
	room       notifier
}

// newEngine returns an engine holding at most capacity events (see waitRoom).
func newEngine(capacity int, onDone func([]int64)) *engine {
	e := &engine{capacity: int64(capacity), onDone: onDone}
	for i := range e.shards {
		e.shards[i].dids = make(map[string]*didState)
	}
	e.room.ch = make(chan struct{})
	return e
}

// shard returns the shard of did (FNV-1a, without allocating).
func (e *engine) shard(did string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(did); i++ {
		h ^= uint32(did[i])
		h *= 16777619
	}
	return &e.shards[h%numShards]
}

// add takes committed or loaded events, in id order, and releases what the rules allow. It
// never blocks: capacity is enforced before, by waitRoom.
func (e *engine) add(ds []pipeline.Delivery) {
	if len(ds) == 0 || e.stopped.Load() {
		return
	}
	e.held.Add(int64(len(ds)))
	now := time.Now()
	var released []*entry
	for _, d := range ds {
		en := &entry{d: d, added: now}
		en.remaining.Store(int32(len(e.sinks)))
		sh := e.shard(d.DID)
		sh.mu.Lock()
		st := sh.dids[d.DID]
		if st == nil {
			st = &didState{}
			sh.dids[d.DID] = st
		}
		st.queue = append(st.queue, en)
		released = e.drain(st, released)
		sh.mu.Unlock()
	}
	e.dispatch(released)
}

// drain releases the DID's pending events as far as the rules allow, appending them to rel.
// It runs under the DID's shard lock.
func (e *engine) drain(st *didState, rel []*entry) []*entry {
	if e.stopped.Load() {
		return rel
	}
	n := 0
	for st.head < len(st.queue) && !st.barrier {
		en := st.queue[st.head]
		if en.d.Live {
			if len(st.inflight) > 0 {
				break // the live head waits for everything before it; so does what follows
			}
			st.barrier = true
		}
		st.queue[st.head] = nil
		st.head++
		en.slot = len(st.inflight)
		st.inflight = append(st.inflight, en)
		rel = append(rel, en)
		n++
		if e.hook != nil {
			e.hook(en.d)
		}
	}
	st.compact()
	e.inflight.Add(int64(n))
	return rel
}

// compact drops released slots from the front of the queue.
func (st *didState) compact() {
	switch {
	case st.head == len(st.queue):
		st.queue, st.head = st.queue[:0], 0
	case st.head >= 64 && st.head*2 >= len(st.queue):
		n := copy(st.queue, st.queue[st.head:])
		clear(st.queue[n:])
		st.queue, st.head = st.queue[:n], 0
	}
}

// ack records that one sink acked ens; events every sink has now acked complete.
func (e *engine) ack(ens []*entry) {
	var done []*entry
	for _, en := range ens {
		if en.remaining.Add(-1) == 0 {
			done = append(done, en)
		}
	}
	if len(done) > 0 {
		e.complete(done)
	}
}

// complete removes events every sink acked from their DIDs' in-flight sets, releases what
// that unblocks, evicts idle DIDs and hands the ids to onDone.
func (e *engine) complete(done []*entry) {
	var released []*entry
	ids := make([]int64, len(done))
	for i, en := range done {
		ids[i] = int64(en.d.ID)
		sh := e.shard(en.d.DID)
		sh.mu.Lock()
		st := sh.dids[en.d.DID]
		last := st.inflight[len(st.inflight)-1]
		st.inflight[en.slot], last.slot = last, en.slot
		st.inflight[len(st.inflight)-1] = nil
		st.inflight = st.inflight[:len(st.inflight)-1]
		if en.d.Live {
			st.barrier = false
		}
		released = e.drain(st, released)
		if st.idle() {
			delete(sh.dids, en.d.DID)
		}
		sh.mu.Unlock()
	}
	e.inflight.Add(-int64(len(done)))
	e.acked.Add(uint64(len(done)))
	if e.latency != nil {
		now := time.Now()
		for _, en := range done {
			e.latency.ObserveDeliveryLatency(now.Sub(en.added))
		}
	}
	e.onDone(ids)
	if e.held.Add(-int64(len(done))) < e.capacity {
		e.room.notify()
	}
	e.dispatch(released)
}

// dispatch hands released events to every sink.
func (e *engine) dispatch(rel []*entry) {
	if len(rel) == 0 || e.stopped.Load() {
		return
	}
	for _, d := range e.sinks {
		d.push(rel)
	}
}

// waitRoom blocks until the engine holds fewer events than its capacity and, when commit is
// set, until the startup backlog is loaded. It fails when ctx ends or the gate is closed.
// Whoever passes may add any number of events: the capacity is a threshold, so that one large
// batch (a snapshot) is admitted whenever the engine is below it.
func (e *engine) waitRoom(ctx context.Context, commit bool) error {
	return e.room.wait(ctx, func() (bool, error) {
		if e.gateClosed.Load() {
			return true, fmt.Errorf("order stage stopping: %w", pipeline.ErrClosed)
		}
		return (!commit || e.loadedFlag.Load()) && e.held.Load() < e.capacity, nil
	})
}

// free returns how many events may be added before the capacity is reached.
func (e *engine) free() int { return int(max(e.capacity-e.held.Load(), 0)) }

// setLoaded opens the commit gate once the startup backlog is in the engine.
func (e *engine) setLoaded() {
	e.loadedFlag.Store(true)
	e.room.notify()
}

// closeGate makes every waitRoom fail with ErrClosed.
func (e *engine) closeGate() {
	e.gateClosed.Store(true)
	e.room.notify()
}

// stop ends releasing: what is pending stays pending (and in the outbox).
func (e *engine) stop() { e.stopped.Store(true) }

// trackedDIDs counts the DIDs with state (pending or in flight).
func (e *engine) trackedDIDs() int {
	n := 0
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		n += len(sh.dids)
		sh.mu.Unlock()
	}
	return n
}

// oldest returns when the oldest event still held was added (zero when none is held).
func (e *engine) oldest() time.Time {
	var oldest time.Time
	older := func(t time.Time) {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		for _, st := range sh.dids {
			if st.head < len(st.queue) {
				older(st.queue[st.head].added)
			}
			for _, en := range st.inflight {
				older(en.added)
			}
		}
		sh.mu.Unlock()
	}
	return oldest
}

// notifier wakes goroutines waiting for a condition that other goroutines change.
type notifier struct {
	mu      sync.Mutex
	ch      chan struct{} // closed and replaced by notify
	waiters atomic.Int32
}

// wait returns once cond reports done, with cond's error, or ctx's error.
func (n *notifier) wait(ctx context.Context, cond func() (bool, error)) error {
	for {
		if ok, err := cond(); ok || err != nil {
			return err
		}
		n.mu.Lock()
		ch := n.ch
		n.waiters.Add(1)
		n.mu.Unlock()
		// Check again now that a notify cannot be missed.
		if ok, err := cond(); ok || err != nil {
			n.waiters.Add(-1)
			return err
		}
		select {
		case <-ch:
			n.waiters.Add(-1)
		case <-ctx.Done():
			n.waiters.Add(-1)
			return ctx.Err()
		}
	}
}

// notify wakes every waiter, which then checks its condition again.
func (n *notifier) notify() {
	if n.waiters.Load() == 0 {
		return
	}
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}
