package orderstage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
	"github.com/tapkit/tap/stages/orderstage"
)

// waitFor bounds every wait of these tests, so that a bug fails instead of hanging.
const waitFor = 20 * time.Second

// sinkHost is a Host with the given sinks.
type sinkHost []pipeline.NamedSink

func (h sinkHost) Sinks() []pipeline.NamedSink                 { return h }
func (sinkHost) Submit(context.Context, *pipeline.Event) error { return pipeline.ErrClosed }

// hostOf returns a host with sinks named sink/0, sink/1, …
func hostOf(sinks ...pipeline.Sink) sinkHost {
	h := make(sinkHost, len(sinks))
	for i, s := range sinks {
		h[i] = pipeline.NamedSink{ID: pipeline.ID{Type: "sink", Name: fmt.Sprint(i)}, Sink: s}
	}
	return h
}

// call is one Deliver call of a handSink, waiting for the test to answer it.
type call struct {
	sink  string
	batch []pipeline.Delivery
	reply chan error
}

// ids returns the ids of the call's events, sorted.
func (c *call) ids() []uint64 {
	ids := make([]uint64, len(c.batch))
	for i, d := range c.batch {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	return ids
}

// ackAll answers every call with success.
func ackAll(cs ...*call) {
	for _, c := range cs {
		c.reply <- nil
	}
}

// handSink hands every Deliver call to the test through calls; Deliver returns the answer,
// or the context's error.
type handSink struct {
	pipelinetest.Lifecycle
	name  string
	calls chan *call
	// seen, when set, is called on entry of every Deliver call.
	seen func(sink string, batch []pipeline.Delivery)
}

func newHandSink(name string, calls chan *call) *handSink {
	return &handSink{name: name, calls: calls}
}

func (s *handSink) Deliver(ctx context.Context, batch []pipeline.Delivery) error {
	if s.seen != nil {
		s.seen(s.name, batch)
	}
	c := &call{sink: s.name, batch: slices.Clone(batch), reply: make(chan error, 1)}
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// testConfig is a delivery configuration with fast retries, deletes and polls.
func testConfig() orderstage.Config {
	return orderstage.Config{
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		DeleteInterval: 5 * time.Millisecond, FollowInterval: 5 * time.Millisecond,
	}
}

// harness runs a stage whose sinks are handSinks answered by the test.
type harness struct {
	t     *testing.T
	db    *store.DB
	s     *orderstage.Stage
	calls chan *call
	rec   *recorder
	repos map[string]bool
	rkey  int
}

// newHarness starts a stage on db with n handSinks sharing one calls channel.
func newHarness(t *testing.T, db *store.DB, cfg orderstage.Config, n int, opts ...orderstage.Option) *harness {
	h := &harness{t: t, db: db, calls: make(chan *call, 1024), rec: &recorder{}, repos: map[string]bool{}}
	sinks := make([]pipeline.Sink, n)
	for i := range sinks {
		sinks[i] = newHandSink(fmt.Sprint("hand", i), h.calls)
	}
	stopFailing := make(chan struct{})
	t.Cleanup(func() { close(stopFailing) }) // runs after the stage is shut down
	h.s = startWithHost(t, db, cfg, hostOf(sinks...), append(opts, orderstage.WithRelease(h.rec.release))...)
	t.Cleanup(func() { go failCalls(h.calls, stopFailing) }) // runs before
	return h
}

// failCalls fails every call until stop is closed, so that a stage whose test ended with calls
// unanswered shuts down at once.
func failCalls(calls chan *call, stop chan struct{}) {
	for {
		select {
		case c := <-calls:
			c.reply <- pipeline.ErrNotConnected
		case <-stop:
			return
		}
	}
}

// startWithHost starts a stage with host's sinks; it is shut down when t ends.
func startWithHost(t testing.TB, db *store.DB, cfg orderstage.Config, host pipeline.Host, opts ...orderstage.Option) *orderstage.Stage {
	t.Helper()
	s := orderstage.New(cfg, db, nil, opts...)
	require.NoError(t, s.Start(t.Context(), host))
	t.Cleanup(func() { stopStage(t, s) })
	return s
}

// commit commits n record events of did with the live flag and returns their ids.
func (h *harness) commit(did string, live bool, n int) []uint64 {
	h.t.Helper()
	if !h.repos[did] {
		addRepos(h.t, h.db, did)
		h.repos[did] = true
	}
	ops := make([]pipeline.RecordOp, n)
	for i := range ops {
		h.rkey++
		ops[i] = delOp(fmt.Sprintf("k%06d", h.rkey))
	}
	before := len(h.rec.Events())
	require.NoError(h.t, process(h.t, h.s, records(did, live, false, "rev", ops...)))
	var ids []uint64
	for _, d := range h.rec.Events()[before:] {
		ids = append(ids, d.ID)
	}
	require.Len(h.t, ids, n)
	return ids
}

// one commits a single event and returns its id.
func (h *harness) one(did string, live bool) uint64 { return h.commit(did, live, 1)[0] }

// next returns the next Deliver call.
func (h *harness) next() *call {
	h.t.Helper()
	return nextCall(h.t, h.calls)
}

// nextCall returns the next call from calls.
func nextCall(t testing.TB, calls chan *call) *call {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(waitFor):
		t.Fatalf("no Deliver call within %s", waitFor)
		return nil
	}
}

// expect receives calls until they carry exactly ids (in any grouping) and returns them,
// unanswered. An id outside ids, or one delivered twice, fails the test.
func (h *harness) expect(ids ...uint64) []*call {
	h.t.Helper()
	want := map[uint64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var cs []*call
	for len(want) > 0 {
		c := h.next()
		for _, id := range c.ids() {
			require.True(h.t, want[id], "event %d delivered; expected only %v (still waiting for %v)", id, ids, want)
			delete(want, id)
		}
		cs = append(cs, c)
	}
	return cs
}

// state checks what the engine holds.
func (h *harness) state(inFlight, pending int) {
	h.t.Helper()
	st := h.s.Stats().Delivery
	require.Equal(h.t, inFlight, st.InFlight, "in flight")
	require.Equal(h.t, pending, st.Pending, "pending")
}

// noCall checks that no Deliver call is waiting.
func (h *harness) noCall() {
	h.t.Helper()
	select {
	case c := <-h.calls:
		h.t.Fatalf("unexpected Deliver call with %v", c.ids())
	default:
	}
}

// idsOf returns the ids of ds in order.
func idsOf(ds []pipeline.Delivery) []uint64 {
	ids := make([]uint64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// outboxIDs returns the ids in the outbox table.
func outboxIDs(t testing.TB, db *store.DB) []uint64 {
	t.Helper()
	var ids []uint64
	for _, r := range outbox(t, db) {
		ids = append(ids, uint64(r.ID))
	}
	return ids
}

// waitOutbox waits until the outbox table holds exactly ids.
func waitOutbox(t testing.TB, db *store.DB, ids ...uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(outboxIDs(t, db), ids) }, waitFor, time.Millisecond,
		"outbox never became %v", ids)
}
