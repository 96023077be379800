package orderstage_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/tapkit/tap/pipeline"
)

// oracle checks the release rules from both sides: the engine's releases (through the release
// hook) and the sinks' calls and answers. It also tracks which sink acked what, for the
// at-least-once checks.
type oracle struct {
	t     testing.TB
	sinks []string

	mu   sync.Mutex
	live map[uint64]bool
	// released is the release order per DID, in the current stage instance.
	released map[string][]uint64
	// inFlight is, per DID, what was released and not yet acked by every sink (this instance).
	inFlight map[string]map[uint64]bool
	acked    map[uint64]map[string]bool // this instance
	ever     map[uint64]map[string]bool // any instance
	errs     int
}

func newOracle(t testing.TB, sinks ...string) *oracle {
	o := &oracle{t: t, sinks: sinks, live: map[uint64]bool{}, ever: map[uint64]map[string]bool{}}
	o.restart()
	return o
}

// restart forgets the per-instance state: a new stage instance holds nothing in flight.
func (o *oracle) restart() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = map[string][]uint64{}
	o.inFlight = map[string]map[uint64]bool{}
	o.acked = map[uint64]map[string]bool{}
}

func (o *oracle) fail(format string, args ...any) {
	if o.errs < 20 {
		o.t.Errorf(format, args...)
	}
	o.errs++
}

// onRelease is the stage's release hook.
func (o *oracle) onRelease(d pipeline.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live[d.ID] = d.Live
	rel := o.released[d.DID]
	if n := len(rel); n > 0 && rel[n-1] >= d.ID {
		o.fail("%s: event %d released after event %d (release order must be id order)", d.DID, d.ID, rel[n-1])
	}
	o.released[d.DID] = append(rel, d.ID)
	fl := o.inFlight[d.DID]
	if fl == nil {
		fl = map[uint64]bool{}
		o.inFlight[d.DID] = fl
	}
	for id := range fl {
		if d.Live {
			o.fail("%s: live event %d released while event %d is in flight", d.DID, d.ID, id)
		} else if o.live[id] {
			o.fail("%s: event %d released while live event %d is in flight", d.DID, d.ID, id)
		}
	}
	fl[d.ID] = true
}

// onDeliver checks that every delivered event is in flight.
func (o *oracle) onDeliver(sink string, batch []pipeline.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range batch {
		if !o.inFlight[d.DID][d.ID] {
			o.fail("%s: event %d delivered to %s but not in flight", d.DID, d.ID, sink)
		}
	}
}

// answer answers c: errs[i] for event i (nil = acked), or nil for all. Acks are recorded
// before the sink returns them.
func (o *oracle) answer(c *call, errs []error) {
	o.mu.Lock()
	failed := false
	for i, d := range c.batch {
		if errs != nil && errs[i] != nil {
			failed = true
			continue
		}
		o.ackLocked(c.sink, d)
	}
	o.mu.Unlock()
	if failed {
		c.reply <- &pipeline.BatchError{Errs: errs}
	} else {
		c.reply <- nil
	}
}

// answerErr fails the whole call with err.
func (o *oracle) answerErr(c *call, err error) { c.reply <- err }

func (o *oracle) ackLocked(sink string, d pipeline.Delivery) {
	for _, m := range []map[uint64]map[string]bool{o.acked, o.ever} {
		if m[d.ID] == nil {
			m[d.ID] = map[string]bool{}
		}
		m[d.ID][sink] = true
	}
	if len(o.acked[d.ID]) == len(o.sinks) {
		delete(o.inFlight[d.DID], d.ID)
	}
}

// allAcked reports whether every sink acked each of ids at least once.
func (o *oracle) allAcked(ids []uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range ids {
		if len(o.ever[id]) < len(o.sinks) {
			return false
		}
	}
	return true
}

// releasedOf returns the release order of did in the current instance.
func (o *oracle) releasedOf(did string) []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.released[did])
}
