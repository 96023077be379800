package websocketsink

import (
	"fmt"
	"strings"
	"time"
)

// DebugState describes the hub's queue, in-flight list, waiters and
// connections, for tests that find a delivery stuck.
func (s *Sink) DebugState() string {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "queue=%d inflight=%d byID=%d waiters=%d signalled=%d conns=%d\n",
		h.queue.len, h.inflight.len, len(h.byID), len(h.waiters), h.signalled, len(h.conns))
	for c := range h.conns {
		held := 0
		for _, e := range c.claimed {
			if e.holder == c && e.state == entryClaimed {
				held++
			}
		}
		fmt.Fprintf(&b, "  conn %s waiting=%v signalled=%v dropped=%v full=%v unacked=%d claimed=%d wake=%d\n",
			c.remote, c.waiting, c.signalled, c.dropped, c.full, c.unacked, held, len(c.wake))
	}
	reach := 0
	for e := h.inflight.head; e != nil; e = e.next {
		reach++
	}
	if e := h.inflight.head; e != nil {
		fmt.Fprintf(&b, "  inflight reachable=%d head id=%d sent %v ago sends=%d holder=%s dropped=%v kick=%d\n", reach, e.id, time.Since(e.sentAt), e.sends, e.holder.remote, e.holder.dropped, len(h.kick))
	}
	states := map[entryState]int{}
	for _, e := range h.byID {
		states[e.state]++
	}
	fmt.Fprintf(&b, "  entries by state: %v\n", states)
	return b.String()
}

// CheckHolds returns an error when a connection's count of held events
// differs from the events that name it as their holder.
func (s *Sink) CheckHolds() error {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	held := map[*conn]int{}
	for _, e := range h.byID {
		if e.holder != nil {
			held[e.holder]++
		}
	}
	for c := range h.conns {
		if c.unacked != held[c] {
			return fmt.Errorf("conn %s counts %d held events, %d name it", c.remote, c.unacked, held[c])
		}
	}
	return nil
}

// Idle returns how many connections wait for events.
func (s *Sink) Idle() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.waiters)
}
