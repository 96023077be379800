package orderstage_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/stages/orderstage"
)

// TestDeliveryModel (rule 5) drives the stage with random interleavings of commits (random DIDs
// and live flags), answers in random order (acks, partial and whole failures, permanent
// errors), disconnects and restarts on the same database. The oracle checks the rules at every
// release and delivery; at the end every committed event must have been acked by every sink and
// have left the outbox, and ids must never have been reused.
func TestDeliveryModel(t *testing.T) {
	configs := []struct {
		name            string
		batch, inFlight int
	}{
		{"batch1-serial", 1, 1},
		{"batch3-concurrent4", 3, 4},
		{"batch100-concurrent2", 100, 2},
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for i, c := range configs {
			t.Run(c.name, func(t *testing.T) {
				cfg := testConfig()
				cfg.SinkBatch, cfg.MaxInFlightBatches = c.batch, c.inFlight
				runModel(t, db, cfg, uint64(i+1), 300)
			})
		}
	})
}

// model is one run of TestDeliveryModel.
type model struct {
	t       *testing.T
	db      *store.DB
	cfg     orderstage.Config
	r       *rand.Rand
	o       *oracle
	host    sinkHost
	calls   chan *call
	rec     *recorder
	dids    []string
	s       *orderstage.Stage
	pending []*call // received, not answered yet
	rkey    int
}

func runModel(t *testing.T, db *store.DB, cfg orderstage.Config, seed uint64, steps int) {
	m := &model{t: t, db: db, cfg: cfg, r: rand.New(rand.NewPCG(seed, 0x5eed)),
		o: newOracle(t, "hand0", "hand1"), calls: make(chan *call, 4096), rec: &recorder{}}
	for i := range 4 {
		m.dids = append(m.dids, fmt.Sprintf("did:plc:model%d%c", seed, 'a'+i))
	}
	addRepos(t, db, m.dids...)
	for _, name := range m.o.sinks {
		hs := newHandSink(name, m.calls)
		hs.seen = m.o.onDeliver
		m.host = append(m.host, hostOf(hs)[0])
		m.host[len(m.host)-1].ID.Name = name
	}
	m.start()
	t.Cleanup(func() { // after a failure: do not leak the stage
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.s.Shutdown(ctx)
	})
	for range steps {
		m.collect()
		switch x := m.r.IntN(100); {
		case x < 45:
			m.commit(m.dids[m.r.IntN(len(m.dids))])
		case x < 96:
			if len(m.pending) > 0 {
				i := m.r.IntN(len(m.pending))
				c := m.pending[i]
				m.pending = slices.Delete(m.pending, i, i+1)
				m.answer(c)
			}
		default:
			m.restart()
		}
	}
	// Restart once more, so that what was acked by only some sinks is loaded again, and commit
	// once more: Process returns only once that backlog is in the engine.
	m.restart()
	m.commit(m.dids[0])
	m.drain()
	require.NoError(t, m.s.Shutdown(t.Context()))
	require.Empty(t, outboxIDs(t, db), "every event left the outbox")
	committed := idsOf(m.rec.Events())
	require.True(t, slices.IsSorted(committed) && len(slices.Compact(slices.Clone(committed))) == len(committed),
		"ids strictly increase across restarts: %v", committed)
}

func (m *model) start() {
	m.s = orderstage.New(m.cfg, m.db, nil, orderstage.WithReleaseHook(m.o.onRelease), orderstage.WithRelease(m.rec.release))
	require.NoError(m.t, m.s.Start(m.t.Context(), m.host))
}

// collect takes the Deliver calls that arrived.
func (m *model) collect() {
	for {
		select {
		case c := <-m.calls:
			m.pending = append(m.pending, c)
		default:
			return
		}
	}
}

// commit commits 1 to 3 events of did, live or not.
func (m *model) commit(did string) {
	ops := make([]pipeline.RecordOp, 1+m.r.IntN(3))
	for i := range ops {
		m.rkey++
		ops[i] = delOp(fmt.Sprintf("k%06d", m.rkey))
	}
	require.NoError(m.t, process(m.t, m.s, records(did, m.r.IntN(3) == 0, false, "rev", ops...)))
}

// answer answers c at random: ack, some events failed, all failed, permanent error.
func (m *model) answer(c *call) {
	switch x := m.r.IntN(100); {
	case x < 70:
		m.o.answer(c, nil)
	case x < 85:
		errs := make([]error, len(c.batch))
		for i := range errs {
			if m.r.IntN(2) == 0 {
				errs[i] = errors.New("event failed")
			}
		}
		m.o.answer(c, errs)
	case x < 95:
		m.o.answerErr(c, pipeline.ErrNotConnected)
	default:
		m.o.answerErr(c, pipeline.Permanent(errors.New("rejected")))
	}
}

// restart answers what is pending, shuts the stage down while failing the calls that still
// arrive (clients disconnecting), and starts a new stage on the same database.
func (m *model) restart() {
	for _, c := range m.pending {
		m.answer(c)
	}
	m.pending = nil
	stopped := make(chan error, 1)
	go func() { stopped <- m.s.Shutdown(context.Background()) }()
	deadline := time.After(waitFor)
	for {
		select {
		case <-deadline:
			m.t.Fatalf("Shutdown did not return within %s", waitFor)
		case err := <-stopped:
			require.NoError(m.t, err)
			m.o.restart()
			m.start()
			return
		case c := <-m.calls:
			m.o.answerErr(c, pipeline.ErrNotConnected)
		}
	}
}

// drain acks everything until every committed event was acked by every sink and the engine
// holds nothing.
func (m *model) drain() {
	committed := idsOf(m.rec.Events())
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		m.collect()
		for _, c := range m.pending {
			m.o.answer(c, nil)
		}
		m.pending = nil
		st := m.s.Stats().Delivery
		if m.o.allAcked(committed) && st.Pending == 0 && st.InFlight == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			m.t.Fatalf("not everything was acked within %s: %+v", waitFor, st)
		}
	}
}

// TestConcurrentClients (rule 5): three sinks whose calls are answered by six goroutines in
// whatever order they get to them, some failing, while four goroutines commit like lanes.
func TestConcurrentClients(t *testing.T) {
	db := storetest.OpenSQLite(t)
	o := newOracle(t, "hand0", "hand1", "hand2")
	calls := make(chan *call, 1024)
	var host sinkHost
	for _, name := range o.sinks {
		hs := newHandSink(name, calls)
		hs.seen = o.onDeliver
		ns := hostOf(hs)[0]
		ns.ID.Name = name
		host = append(host, ns)
	}
	rec := &recorder{}
	cfg := testConfig()
	cfg.SinkBatch, cfg.MaxInFlightBatches = 5, 4
	s := orderstage.New(cfg, db, nil, orderstage.WithReleaseHook(o.onRelease), orderstage.WithRelease(rec.release))
	require.NoError(t, s.Start(t.Context(), host))

	done := make(chan struct{})
	var answerers sync.WaitGroup
	for i := range 6 {
		answerers.Go(func() { answerCalls(o, calls, done, uint64(i)) })
	}
	dids := make([]string, 20)
	for i := range dids {
		dids[i] = fmt.Sprintf("did:plc:client%02d", i)
	}
	addRepos(t, db, dids...)
	var lanes sync.WaitGroup
	for lane := range 4 { // each lane owns five DIDs, as the lanes do
		lanes.Go(func() {
			r := rand.New(rand.NewPCG(uint64(lane), 7))
			for i := range 75 {
				did := dids[lane*5+r.IntN(5)]
				if err := process(t, s, records(did, r.IntN(3) == 0, false, "rev", delOp(fmt.Sprintf("l%d-%d", lane, i)))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	lanes.Wait()
	committed := idsOf(rec.Events())
	require.Len(t, committed, 300)
	require.Eventually(t, func() bool {
		st := s.Stats().Delivery
		return o.allAcked(committed) && st.Pending == 0 && st.InFlight == 0
	}, waitFor, time.Millisecond)
	require.NoError(t, s.Shutdown(t.Context()))
	close(done)
	answerers.Wait()
	require.Empty(t, outboxIDs(t, db))
	require.Zero(t, s.TrackedDIDs(), "every DID was evicted")
}

// answerCalls answers calls until done: mostly acks, sometimes a failure.
func answerCalls(o *oracle, calls <-chan *call, done <-chan struct{}, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 11))
	for {
		select {
		case <-done:
			return
		case c := <-calls:
			runtime.Gosched()
			if r.IntN(10) == 0 {
				o.answerErr(c, pipeline.ErrNotConnected)
			} else {
				o.answer(c, nil)
			}
		}
	}
}
