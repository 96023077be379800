package websocketsink

import "slices"

// track counts a goroutine that Shutdown must wait for (it calls finished
// when it ends); it refuses (false) once the hub is closed.
func (h *hub) track() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.running++
	return true
}

// finished ends a goroutine counted by track or register.
func (h *hub) finished() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	if h.closed && h.running == 0 {
		close(h.stopped)
	}
}

// register adds a connection (and counts its handler, see track).
func (h *hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.running++
	h.conns[c] = struct{}{}
	return true
}

// drop removes c and puts every event it held and that is not acked back
// at the front of the queue for the other connections, at once (no wait for
// the retry timeout). It reports whether this call dropped c; count says
// whether to count it in Stats.DroppedClients (before its events move on).
func (h *hub) drop(c *conn, count bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.dropped {
		return false
	}
	c.dropped = true
	if count {
		h.stats.dropped.Add(1)
	}
	delete(h.conns, c)
	h.removeWaiterLocked(c)
	if c.signalled {
		c.signalled = false
		h.signalled--
	}
	var back []*entry
	for _, e := range c.claimed {
		if e.holder == c && e.state == entryClaimed {
			back = append(back, e)
		}
	}
	for e := h.inflight.head; e != nil; e = e.next {
		if e.holder == c {
			back = append(back, e)
		}
	}
	h.requeueLocked(back)
	h.wakeLocked() // c may have been woken for events it will never take now
	return true
}

// close marks the hub closed, wakes pending Deliver calls and returns the
// connections to drop; later calls return nil.
func (h *hub) close() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	close(h.closedCh)
	if h.running == 0 {
		close(h.stopped)
	}
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	return conns
}

func (h *hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// busy takes c out of the idle connections while it does something that
// may block (a ping); a wake-up it got passes on to another idle
// connection. Its next claim makes it idle again if nothing is queued.
func (h *hub) busy(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeWaiterLocked(c)
	if c.signalled {
		c.signalled = false
		h.signalled--
		h.wakeLocked()
	}
}

// addWaiterLocked registers c as idle.
func (h *hub) addWaiterLocked(c *conn) {
	if !c.waiting {
		c.waiting = true
		h.waiters = append(h.waiters, c)
	}
}

// removeWaiterLocked unregisters c.
func (h *hub) removeWaiterLocked(c *conn) {
	if c.waiting {
		c.waiting = false
		h.waiters = slices.DeleteFunc(h.waiters, func(w *conn) bool { return w == c })
	}
}

// wakeLocked wakes idle connections, oldest waiter first, until enough are
// woken to take what is queued (send_queue events each).
func (h *hub) wakeLocked() {
	want := (h.queue.len+h.set.sendQueue-1)/h.set.sendQueue - h.signalled
	for ; want > 0 && len(h.waiters) > 0; want-- {
		c := h.waiters[0]
		h.waiters[0] = nil
		h.waiters = h.waiters[1:]
		c.waiting, c.signalled = false, true
		h.signalled++
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// snapshot returns the current gauges of Stats.
func (h *hub) snapshot() (connected, idle, full, queued, inflight int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.full {
			full++
		}
	}
	return len(h.conns), len(h.waiters), full, h.queue.len, h.inflight.len
}
